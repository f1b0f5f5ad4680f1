import Foundation
import Testing
@testable import BenchCore

/// setcd-bench's reports (etcd's benchmark format) and its disk check.
@Suite struct BenchCoreTests {
    /// Ten requests of 1…10 ms over 0.5 s: every figure of etcd's summary, histogram and distribution.
    @Test func reportMatchesEtcdsFormat() {
        var report = BenchReport()
        for millisecond in 1...10 { report.record(latency: Double(millisecond) / 1000) }
        report.record(error: "etcdserver: request timed out")
        report.total = 0.5
        let text = report.text()
        #expect(text.hasPrefix("\nSummary:\n  Total:\t0.5000 secs.\n  Slowest:\t0.0100 secs.\n  Fastest:\t0.0010 secs.\n  Average:\t0.0055 secs.\n"))
        #expect(text.contains("  Stddev:\t0.0029 secs.\n  Requests/sec:\t20.0000\n"))
        #expect(text.contains("\nResponse time histogram:\n  0.0010 [1]\t|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎\n"))
        #expect(text.contains("  0.0100 [1]\t|∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎∎\n"))
        #expect(text.contains("\nLatency distribution:\n  10% in 0.0010 secs.\n"))
        #expect(text.contains("  50% in 0.0050 secs.\n") && text.contains("  99.9% in 0.0100 secs.\n"))
        #expect(text.hasSuffix("\nError distribution:\n  [1]\tetcdserver: request timed out\n"))
        let json = report.json()
        #expect(json.contains("\"requests\":10") && json.contains("\"requestsPerSecond\":20.0") && json.contains("\"errors\":{\"etcdserver: request timed out\":1}"))
    }

    @Test func anEmptyRunReportsOnlyErrors() {
        var report = BenchReport()
        report.record(error: "refused")
        #expect(report.text() == "\nError distribution:\n  [1]\trefused\n")
    }

    /// The disk check on this machine's temporary directory: it times every synced write and judges by
    /// etcd's rule (whatever the verdict, which depends on the disk).
    @Test func diskCheckTimesEverySyncedWrite() throws {
        let result = try DiskCheck.run(directory: NSTemporaryDirectory(), writes: 50, sequentialBytes: 4 << 20)
        #expect(result.syncs.latencies.count == 50 && result.syncs.latencies.allSatisfy { $0 > 0 })
        #expect(result.sequentialBytesPerSecond > 0)
        #expect(result.passes == (result.p99 < 0.010))
        let text = DiskCheck.text(result)
        #expect(text.contains("p99:\t") && (text.contains("PASS: 99th percentile") || text.contains("FAIL: 99th percentile")))
        #expect(throws: DiskCheck.CheckError.self) { try DiskCheck.run(directory: "/nonexistent/dir", writes: 1) }
    }

    /// Keys as etcd's tool makes them: Go's zig-zag varint of the key's index, zero-padded.
    @Test func keysFollowEtcdsLayout() {
        #expect(Workload.key(5, keySize: 8, keySpace: 100, sequential: true) == [10, 0, 0, 0, 0, 0, 0, 0])
        #expect(Workload.key(105, keySize: 12, keySpace: 100, sequential: true) == [10] + [UInt8](repeating: 0, count: 11))
        #expect(Workload.varintKey(300, keySize: 4) == [0xD8, 0x04, 0, 0])
        #expect(Workload.varintKey(-1, keySize: 2) == [1, 0])
        #expect(Workload.key(3, keySize: 8, keySpace: 1, sequential: false) == [UInt8](repeating: 0, count: 8))
    }

    /// `--precise` prints Go's %g; a weighted report (mvcc put --txn) counts operations per second.
    @Test func preciseAndWeightedReports() {
        var report = BenchReport()
        report.record(latency: 0.0012345)
        report.record(latency: 0.5)
        report.total = 2
        let text = report.text(precise: true)
        #expect(text.contains("  Fastest:\t0.0012345 secs.\n") && text.contains("  Slowest:\t0.5 secs.\n"))
        #expect(text.contains("  Requests/sec:\t1\n"))
        report.weight = 10
        #expect(report.requestsPerSecond == 10)
        #expect(BenchReport.goG(1.5e-05) == "1.5e-05" && BenchReport.goG(123456.5) == "123456.5")
        #expect(BenchReport.goG(1234567.25) == "1.23456725e+06" && BenchReport.goG(1e6) == "1e+06" && BenchReport.goG(-2.5e7) == "-2.5e+07")
    }

    /// Go's durations (etcd's `--compact-interval`) and go-humanize's sizes (`--check-hashkv`'s DB size).
    @Test func goFormats() {
        #expect(GoDuration.parse("0") == .zero && GoDuration.parse("500ms") == .milliseconds(500) && GoDuration.parse("5m") == .seconds(300))
        #expect(GoDuration.parse("1h30m") == .seconds(5400) && GoDuration.parse("5x") == nil && GoDuration.parse("ms") == nil)
        #expect(GoDuration.format(.microseconds(4628.794)) == "4.628794ms" && GoDuration.format(.milliseconds(1500)) == "1.5s")
        #expect(GoDuration.humanBytes(212_992) == "213 kB" && GoDuration.humanBytes(1_500_000) == "1.5 MB" && GoDuration.humanBytes(9) == "9 B")
    }

    /// etcdctl check perf's models and its verdict lines, in etcdctl's order and words.
    @Test func checkPerfJudgesAsEtcdctl() {
        #expect(CheckPerf.model("xLarge") == "xl" && CheckPerf.model("medium") == "m" && CheckPerf.model("huge") == nil)
        let small = CheckPerf.models["s"]!
        #expect(small.rate == 150 && small.clients == 50 && small.seconds == 60)
        var good = BenchReport()
        for _ in 0..<9_000 { good.record(latency: 0.002) }
        good.total = 60
        let passed = small.verdict(good)
        #expect(passed.passed && passed.lines == [
            "PASS: Throughput is 151 writes/s", "PASS: Slowest request took 0.002000s", "PASS: Stddev is 0.000000s", "PASS",
        ])
        var bad = BenchReport()
        for _ in 0..<100 { bad.record(latency: 0.01) }
        bad.record(latency: 0.9)
        bad.record(error: "etcdserver: request timed out")
        bad.total = 60
        let failed = small.verdict(bad)
        #expect(!failed.passed && failed.lines.first == "FAIL: too many errors" && failed.lines.last == "FAIL")
        #expect(failed.lines.contains("FAIL: ERROR(etcdserver: request timed out) -> 1") && failed.lines.contains("FAIL: Throughput too low: 2 writes/s"))
        #expect(failed.lines.contains("Slowest request took too long: 0.900000s"))
    }

    /// `mvcc put` on a store in a temporary directory: every put lands and is timed.
    @Test func mvccPutTimesEveryPut() throws {
        let directory = NSTemporaryDirectory() + "mvccbench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = try MVCCBench.put(
            directory: directory, total: 50, keySize: 16, valueSize: 32, txnOps: 4, batchInterval: .milliseconds(100), batchLimit: 10, bar: nil)
        #expect(report.latencies.count == 50 && report.weight == 4 && report.errors.isEmpty && report.total > 0)
    }
}
