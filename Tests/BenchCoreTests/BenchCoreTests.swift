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

    @Test func keysFollowEtcdsLayout() {
        #expect(Workload.key(5, keySize: 8, keySpace: 100, sequential: true) == [0, 0, 0, 0, 0, 0, 0, 5])
        #expect(Workload.key(105, keySize: 10, keySpace: 100, sequential: true) == [0, 0, 0, 0, 0, 0, 0, 5, 0, 0])
        #expect(Workload.key(3, keySize: 8, keySpace: 1, sequential: false) == [UInt8](repeating: 0, count: 8))
    }
}
