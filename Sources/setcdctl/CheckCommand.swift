import ArgumentParser
import BenchCore
import Client
import EtcdCtl
import EtcdProto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `check perf|datascale`, as etcdctl's: load the cluster with one of four workload sizes and judge
/// it by etcdctl's rules.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "commands for checking properties of the etcd cluster",
        subcommands: [Perf.self, Datascale.self])

    /// etcdctl's names for the workload sizes.
    static func model(_ load: String) throws -> String {
        guard let model = CheckPerf.model(load) else { throw CtlError(code: ExitCode.badFeature, message: "unknown load option \(load)") }
        return model
    }

    /// `check perf`: puts at the workload's rate for 60 s from its number of clients, then checks
    /// throughput (> 90% of the rate), the slowest request (≤ 0.5 s) and the spread (σ ≤ 0.1 s).
    struct Perf: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the performance of the etcd cluster")

        @OptionGroup var global: GlobalOptions
        @Option(help: "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)")
        var load = "s"
        @Option(help: "The prefix for writing the performance check's keys.") var prefix = "/etcdctl-check-perf/"
        @OptionGroup var cleanup: CheckCleanup

        func run() async throws {
            await runReportingErrors {
                let workload = CheckPerf.models[try CheckCommand.model(load)]!
                let configuration = try global.clientConfiguration()
                try await global.withClient { client in
                    try await requireEmpty(client, prefix: prefix)
                }
                let report = try await workload.run(configuration: configuration, prefix: Array(prefix.utf8))
                try await cleanup.run(global, prefix: prefix)
                let verdict = workload.verdict(report)
                for line in verdict.lines { print(line) }
                if !verdict.passed { Foundation.exit(ExitCode.error) }
            }
        }
    }

    /// `check datascale`: puts the workload's number of 1 KiB key-values and reports how much the
    /// first endpoint's resident memory grew.
    struct Datascale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the memory usage of holding data for different workloads on a given server endpoint.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)")
        var load = "s"
        @Option(help: "The prefix for writing the datascale check's keys.") var prefix = "/etcdctl-check-datascale/"
        @OptionGroup var cleanup: CheckCleanup

        /// Key-values, bytes per key-value and clients of each workload.
        static let workloads: [String: (count: Int, size: Int, clients: Int)] = [
            "s": (10_000, 1024, 50), "m": (100_000, 1024, 200), "l": (1_000_000, 1024, 500), "xl": (3_000_000, 1024, 1000),
        ]

        func run() async throws {
            await runReportingErrors {
                let workload = Self.workloads[try CheckCommand.model(load)]!
                let configuration = try global.clientConfiguration()
                try await global.withClient { client in
                    try await requireEmpty(client, prefix: prefix)
                }
                let endpoint = global.endpointList.first ?? "127.0.0.1:2379"
                guard let before = await residentMemory(of: endpoint) else {
                    print("FAIL: Could not read process_resident_memory_bytes before the put operations.")
                    Foundation.exit(ExitCode.error)
                }
                print("Start data scale check for work load [\(workload.count) key-value pairs, \(workload.size) bytes per key-value, \(workload.clients) concurrent clients].")
                let bar = ProgressBar(total: workload.count)
                let report = try await PutLoad.run(
                    configuration: configuration, clients: workload.clients, rate: nil, duration: nil, limit: workload.count,
                    prefix: Array(prefix.utf8), keySize: 512, valueSize: 512, bar: bar)
                bar.finish()
                guard let after = await residentMemory(of: endpoint) else {
                    print("FAIL: Could not read process_resident_memory_bytes after the put operations.")
                    Foundation.exit(ExitCode.error)
                }
                try await cleanup.run(global, prefix: prefix)
                if !report.errors.isEmpty {
                    print("FAIL: too many errors")
                    for (error, count) in report.errors.sorted(by: { $0.key < $1.key }) { print("FAIL: ERROR(\(error)) -> \(count)") }
                    Foundation.exit(ExitCode.error)
                }
                print("PASS: Approximate system memory used : \(String(format: "%.2f", (after - before) / (1024 * 1024))) MB.")
            }
        }

        /// `process_resident_memory_bytes` from the endpoint's `/metrics`; nil (with etcdctl's message
        /// printed) if it cannot be read.
        private func residentMemory(of endpoint: String) async -> Double? {
            let base = endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") ? endpoint : "http://" + endpoint
            guard let url = URL(string: base + "/metrics") else { return nil }
            do {
                let (data, _) = try await URLSession.shared.data(from: url)
                let key = "process_resident_memory_bytes"
                guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix(key) }),
                      let value = Double(line.dropFirst(key.count).trimmingCharacters(in: .whitespaces))
                else {
                    print("could not find: \(key)")
                    return nil
                }
                return value
            } catch {
                print("fetch error: \(error)")
                return nil
            }
        }
    }
}

/// etcdctl refuses to load a prefix that already has keys.
private func requireEmpty(_ client: EtcdClient, prefix: String) async throws {
    var request = prefixRequest(prefix).asRange
    request.limit = 1
    if !(try await client.range(request)).kvs.isEmpty {
        throw CtlError(code: ExitCode.invalidInput, message: "prefix \(goQuote(prefix)) has keys. Delete with etcdctl del --prefix \(prefix) first")
    }
}

/// A delete of every key under `prefix`.
private func prefixRequest(_ prefix: String) -> Etcdserverpb_DeleteRangeRequest {
    var request = Etcdserverpb_DeleteRangeRequest()
    request.key = Data(prefix.utf8)
    request.rangeEnd = Data(KeyRanges.prefixEnd(of: Array(prefix.utf8)))
    return request
}

extension Etcdserverpb_DeleteRangeRequest {
    /// A range over the same keys.
    fileprivate var asRange: Etcdserverpb_RangeRequest {
        var range = Etcdserverpb_RangeRequest()
        range.key = key
        range.rangeEnd = rangeEnd
        return range
    }
}

/// What both checks do when they are done: delete their keys, then `--auto-compact` and
/// `--auto-defrag`, with etcdctl's messages.
struct CheckCleanup: ParsableArguments {
    @Flag(name: .customLong("auto-compact"), help: "Compact storage with last revision after test is finished.") var autoCompact = false
    @Flag(name: .customLong("auto-defrag"), help: "Defragment storage after test is finished.") var autoDefrag = false

    func run(_ global: GlobalOptions, prefix: String) async throws {
        try await global.withClient { client in
            let deleted = try await client.delete(prefixRequest(prefix))
            if autoCompact {
                _ = try await client.compact(revision: deleted.header.revision, physical: true)
                print("compacted revision \(deleted.header.revision)")
            }
            guard autoDefrag else { return }
            for endpoint in global.endpointList {
                var configuration = client.configuration
                configuration.endpoints = [endpoint]
                _ = try await EtcdClient.withClient(configuration) { try await $0.defragment() }
                print("Finished defragmenting etcd member[\(endpoint)]")
            }
        }
    }
}
