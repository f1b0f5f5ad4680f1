import ArgumentParser
import Client
import EtcdCtl
import EtcdProto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// `check perf|datascale`, as etcdctl's: load the cluster with one of four workload sizes and judge
/// it by etcdctl's rules.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "commands for checking properties of the etcd cluster",
        subcommands: [Perf.self, Datascale.self])

    /// etcdctl's names for the workload sizes.
    static func model(_ load: String) throws -> String {
        let aliases = ["s": "s", "small": "s", "m": "m", "medium": "m", "l": "l", "large": "l", "xl": "xl", "xLarge": "xl"]
        guard let model = aliases[load] else { throw CtlError(code: ExitCode.badFeature, message: "unknown load option \(load)") }
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

        /// Puts per second, clients and seconds of each workload.
        static let workloads: [String: (rate: Int, clients: Int, seconds: Int)] = [
            "s": (150, 50, 60), "m": (1000, 200, 60), "l": (8000, 500, 60), "xl": (15000, 1000, 60),
        ]

        func run() async throws {
            await runReportingErrors {
                let workload = Self.workloads[try CheckCommand.model(load)]!
                let configuration = try global.clientConfiguration()
                try await global.withClient { client in
                    try await requireEmpty(client, prefix: prefix)
                }
                let bar = ProgressBar(total: workload.seconds)
                let ticker = Task {
                    for _ in 0..<workload.seconds {
                        try await Task.sleep(for: .seconds(1))
                        bar.advance()
                    }
                }
                defer { ticker.cancel() }
                let report = try await LoadReport.run(
                    configuration: configuration, clients: workload.clients, rate: workload.rate,
                    duration: .seconds(workload.seconds), limit: nil, prefix: Array(prefix.utf8), keySize: 256, valueSize: 1024, bar: nil)
                ticker.cancel()
                bar.finish()
                try await cleanup.run(global, prefix: prefix)
                var ok = report.printErrors()
                let throughput = Int(report.requestsPerSecond) + 1
                if report.requestsPerSecond / Double(workload.rate) <= 0.9 {
                    print("FAIL: Throughput too low: \(throughput) writes/s")
                    ok = false
                } else {
                    print("PASS: Throughput is \(throughput) writes/s")
                }
                if report.slowest > 0.5 {
                    print("Slowest request took too long: \(String(format: "%f", report.slowest))s")
                    ok = false
                } else {
                    print("PASS: Slowest request took \(String(format: "%f", report.slowest))s")
                }
                if report.standardDeviation > 0.1 {
                    print("Stddev too high: \(String(format: "%f", report.standardDeviation))s")
                    ok = false
                } else {
                    print("PASS: Stddev is \(String(format: "%f", report.standardDeviation))s")
                }
                print(ok ? "PASS" : "FAIL")
                if !ok { Foundation.exit(ExitCode.error) }
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
                let report = try await LoadReport.run(
                    configuration: configuration, clients: workload.clients, rate: nil, duration: nil, limit: workload.count,
                    prefix: Array(prefix.utf8), keySize: 512, valueSize: 512, bar: bar)
                bar.finish()
                guard let after = await residentMemory(of: endpoint) else {
                    print("FAIL: Could not read process_resident_memory_bytes after the put operations.")
                    Foundation.exit(ExitCode.error)
                }
                try await cleanup.run(global, prefix: prefix)
                guard report.printErrors() else { Foundation.exit(ExitCode.error) }
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

/// The latencies of a load run and what etcd's benchmark report derives from them.
struct LoadReport: Sendable {
    var latencies: [Double] = []
    var errors: [String: Int] = [:]
    var elapsed: Double = 0

    var requestsPerSecond: Double { elapsed > 0 ? Double(latencies.count) / elapsed : 0 }
    var slowest: Double { latencies.max() ?? 0 }
    var standardDeviation: Double {
        guard !latencies.isEmpty else { return 0 }
        let mean = latencies.reduce(0, +) / Double(latencies.count)
        return (latencies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(latencies.count)).squareRoot()
    }

    /// Prints etcdctl's error lines; false if there were errors.
    func printErrors() -> Bool {
        guard !errors.isEmpty else { return true }
        print("FAIL: too many errors")
        for (error, count) in errors.sorted(by: { $0.key < $1.key }) { print("FAIL: ERROR(\(error)) -> \(count)") }
        return false
    }

    /// Puts from `clients` concurrent clients (each on its own connection): at `rate` puts per second in
    /// all for `duration`, or `limit` puts as fast as they go. Keys are `prefix` plus `keySize` bytes
    /// starting with random ones; values are `valueSize` zero bytes, as etcdctl's.
    static func run(
        configuration: EtcdClient.Configuration, clients: Int, rate: Int?, duration: Duration?, limit: Int?,
        prefix: [UInt8], keySize: Int, valueSize: Int, bar: ProgressBar?
    ) async throws -> LoadReport {
        let issued = SharedCount()
        let started = ContinuousClock.now
        let deadline = duration.map { started + $0 }
        let value = Data(count: valueSize)
        let results = try await withThrowingTaskGroup(of: LoadReport.self) { group in
            for worker in 0..<clients {
                group.addTask {
                    try await EtcdClient.withClient(configuration) { client in
                        var mine = LoadReport()
                        // Each client's share of the rate, on a fixed schedule that never bursts to catch up.
                        let interval = rate.map { Duration.seconds(Double(clients) / Double($0)) }
                        var next = started + (interval.map { $0 * Double(worker) / Double(clients) } ?? .zero)
                        while true {
                            if let deadline, next >= deadline { break }
                            if let limit, issued.increment() > limit { break }
                            if interval != nil { try await Task.sleep(until: next, clock: .continuous) }
                            var key = prefix + (0..<8).map { _ in UInt8.random(in: 0...255) }
                            key += [UInt8](repeating: 0, count: max(keySize - 8, 0))
                            var put = Etcdserverpb_PutRequest()
                            put.key = Data(key)
                            put.value = value
                            let sent = ContinuousClock.now
                            do {
                                _ = try await client.put(put)
                                let took = ContinuousClock.now - sent
                                mine.latencies.append(Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
                            } catch {
                                mine.errors[describe(error), default: 0] += 1
                            }
                            bar?.advance()
                            if let interval {
                                next += interval
                                let now = ContinuousClock.now
                                while next < now { next += interval }
                            }
                        }
                        return mine
                    }
                }
            }
            var all = LoadReport()
            for try await part in group {
                all.latencies += part.latencies
                all.errors.merge(part.errors, uniquingKeysWith: +)
            }
            return all
        }
        var report = results
        let took = ContinuousClock.now - started
        report.elapsed = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        return report
    }
}

/// A one-line progress bar on stdout, drawn only when stdout is a terminal (piped output stays
/// clean for scripts).
final class ProgressBar: Sendable {
    private let total: Int
    private let done = Atomic<Int>(0)
    private let enabled = isatty(STDOUT_FILENO) == 1

    init(total: Int) {
        self.total = max(total, 1)
        draw(0)
    }

    func advance() {
        let now = done.add(1, ordering: .relaxed).newValue
        // Redraw at each whole percent.
        if now * 100 / total != (now - 1) * 100 / total { draw(now) }
    }

    /// Moves the bar to `count` (of the total).
    func set(_ count: Int) {
        let before = done.exchange(count, ordering: .relaxed)
        if count * 100 / total != before * 100 / total { draw(count) }
    }

    func finish() {
        draw(total)
        if enabled { FileHandle.standardOutput.write(Data("\n".utf8)) }
    }

    private func draw(_ count: Int) {
        guard enabled else { return }
        let width = 40
        let filled = min(width, count * width / total)
        let line = "\r \(min(count, total)) / \(total) [" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            + "] \(min(100, count * 100 / total))%"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}
