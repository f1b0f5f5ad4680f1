import Client
import EtcdProto
import Foundation

/// etcdctl's `check perf`: puts at one of four rates for 60 s, judged by throughput, the slowest
/// request and the spread of latencies.
public struct CheckPerf: Sendable {
    /// Puts per second in all, concurrent clients, and seconds of the run.
    public let rate: Int, clients: Int, seconds: Int

    /// etcdctl's workloads by model: s(mall), m(edium), l(arge), xl (xLarge).
    public static let models: [String: CheckPerf] = [
        "s": CheckPerf(rate: 150, clients: 50, seconds: 60), "m": CheckPerf(rate: 1000, clients: 200, seconds: 60),
        "l": CheckPerf(rate: 8000, clients: 500, seconds: 60), "xl": CheckPerf(rate: 15000, clients: 1000, seconds: 60),
    ]

    /// The model a `--load` value names (etcdctl accepts the short and the long names), or nil.
    public static func model(_ load: String) -> String? {
        ["s": "s", "small": "s", "m": "m", "medium": "m", "l": "l", "large": "l", "xl": "xl", "xLarge": "xl"][load]
    }

    /// The check's load: puts of 1 KiB values at 256-byte keys under `prefix` at the model's rate
    /// from its clients for its seconds, with a 60-step progress bar (one step a second).
    public func run(configuration: EtcdClient.Configuration, prefix: [UInt8]) async throws -> BenchReport {
        let bar = ProgressBar(total: seconds)
        let ticker = Task {
            for _ in 0..<seconds {
                try await Task.sleep(for: .seconds(1))
                bar.advance()
            }
        }
        defer { ticker.cancel() }
        let report = try await PutLoad.run(
            configuration: configuration, clients: clients, rate: rate, duration: .seconds(seconds), limit: nil,
            prefix: prefix, keySize: 256, valueSize: 1024, bar: nil)
        ticker.cancel()
        bar.finish()
        return report
    }

    /// etcdctl's verdict lines for a run, and whether it passed: errors fail it; throughput must be
    /// over 90% of the rate, the slowest put at most 0.5 s and the standard deviation at most 0.1 s.
    public func verdict(_ report: BenchReport) -> (lines: [String], passed: Bool) {
        var lines: [String] = []
        var passed = true
        if !report.errors.isEmpty {
            lines.append("FAIL: too many errors")
            for (error, count) in report.errors.sorted(by: { $0.key < $1.key }) { lines.append("FAIL: ERROR(\(error)) -> \(count)") }
            passed = false
        }
        let throughput = Int(report.requestsPerSecond) + 1
        if report.requestsPerSecond / Double(rate) <= 0.9 {
            lines.append("FAIL: Throughput too low: \(throughput) writes/s")
            passed = false
        } else {
            lines.append("PASS: Throughput is \(throughput) writes/s")
        }
        let slowest = String(format: "%f", report.slowest)
        if report.slowest > 0.5 {
            lines.append("Slowest request took too long: \(slowest)s")
            passed = false
        } else {
            lines.append("PASS: Slowest request took \(slowest)s")
        }
        let spread = String(format: "%f", report.standardDeviation)
        if report.standardDeviation > 0.1 {
            lines.append("Stddev too high: \(spread)s")
            passed = false
        } else {
            lines.append("PASS: Stddev is \(spread)s")
        }
        lines.append(passed ? "PASS" : "FAIL")
        return (lines, passed)
    }
}

/// etcdctl's check load: puts from concurrent clients, each on its own connection.
public enum PutLoad {
    /// Puts from `clients` clients: at `rate` puts per second in all for `duration`, or `limit` puts as
    /// fast as they go. Keys are `prefix` plus `keySize` bytes starting with 8 random ones; values are
    /// `valueSize` zero bytes, as etcdctl's. `bar` advances once per put.
    public static func run(
        configuration: EtcdClient.Configuration, clients: Int, rate: Int?, duration: Duration?, limit: Int?,
        prefix: [UInt8], keySize: Int, valueSize: Int, bar: ProgressBar?
    ) async throws -> BenchReport {
        let issued = SharedCounter()
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = duration.map { started + $0 }
        let value = Data(count: valueSize)
        var report = try await withThrowingTaskGroup(of: BenchReport.self) { group in
            for worker in 0..<clients {
                group.addTask {
                    try await EtcdClient.withClient(configuration) { client in
                        var mine = BenchReport()
                        // Each client's share of the rate, on a fixed schedule that never bursts to catch up.
                        let interval = rate.map { Duration.seconds(Double(clients) / Double($0)) }
                        var next = started + (interval.map { $0 * Double(worker) / Double(clients) } ?? .zero)
                        while true {
                            if let deadline, next >= deadline { break }
                            if let limit, issued.add(1) > limit { break }
                            if interval != nil { try await Task.sleep(until: next, clock: .continuous) }
                            var key = prefix + (0..<8).map { _ in UInt8.random(in: 0...255) }
                            key += [UInt8](repeating: 0, count: max(keySize - 8, 0))
                            var put = Etcdserverpb_PutRequest()
                            put.key = Data(key)
                            put.value = value
                            let sent = clock.now
                            do {
                                _ = try await client.put(put)
                                mine.record(latency: DiskCheck.seconds(clock.now - sent))
                            } catch {
                                mine.record(error: describe(error))
                            }
                            bar?.advance()
                            if let interval {
                                next += interval
                                let now = clock.now
                                while next < now { next += interval }
                            }
                        }
                        return mine
                    }
                }
            }
            var all = BenchReport()
            for try await part in group { all.merge(part) }
            return all
        }
        report.total = DiskCheck.seconds(clock.now - started)
        return report
    }
}
