import Chaos
import Checker
import Foundation
import Testing

extension EndToEnd {
    /// A 3-member setcd cluster under kill -9, SIGSTOP/SIGCONT and peer-network faults (partition,
    /// delay) while clients put, get, delete and compare-and-swap, and a watcher follows every
    /// change. At the end: the history is linearizable (Checker), no acknowledged write is missing
    /// from the store's history, the watch broke none of etcd's guarantees, and every member has
    /// the same HashKV.
    @Suite(.serialized) struct Chaos {
        @Test func historyUnderFaultsIsLinearizable() async throws {
            let root = NSTemporaryDirectory() + "e2e-chaos-" + UUID().uuidString.prefix(8)
            var run = ChaosRun(binary: try Binaries.setcd(), root: root)
            run.duration = .seconds(30)
            run.interval = .seconds(3)
            let report = try await run.run()
            print(report.text)
            #expect(report.faults.values.reduce(0, +) >= 4, "faults were injected: \(report.faults)")
            #expect(report.verdict.acknowledgedWrites > 50, "the clients made progress")
            #expect(report.verdict.lostWrites.isEmpty)
            #expect(report.verdict.linearizability == .linearizable)
            #expect(report.verdict.watchViolations.isEmpty)
            #expect(Set(report.verdict.hashes).count == 1)
            if report.passed { try? FileManager.default.removeItem(atPath: root) }
        }
    }
}
