import Foundation
import Testing
@testable import Raft

/// Deterministic simulation of 3- and 5-node clusters under faults (DESIGN.md §7, issue 3 item 2).
///
/// - Every CI run: `defaultSeeds` seeds, split into batches that run in parallel.
/// - `RAFT_SIM_SEEDS=100000 swift test --filter RaftTests.SimulationTests`: soak with more seeds
///   (`RAFT_SIM_FIRST_SEED` to start elsewhere, `RAFT_SIM_TICKS` for longer runs).
/// - `RAFT_SEED=1234 swift test --filter RaftTests`: rerun one seed, printing its trace on failure.
@Suite struct SimulationTests {
    static let defaultSeeds: UInt64 = 800
    static let batches = 8

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var singleSeed: UInt64? { environment["RAFT_SEED"].flatMap { UInt64($0) } }
    static var seedCount: UInt64 { environment["RAFT_SIM_SEEDS"].flatMap { UInt64($0) } ?? defaultSeeds }
    static var firstSeed: UInt64 { environment["RAFT_SIM_FIRST_SEED"].flatMap { UInt64($0) } ?? 1 }
    static var ticks: Int { environment["RAFT_SIM_TICKS"].flatMap { Int($0) } ?? 300 }

    /// Runs one seed; returns a failure report naming the seed and how to rerun it.
    static func run(seed: UInt64, trace: Bool) -> (stats: SimulationStats, failure: String?) {
        var options = SimulationOptions(seed: seed, ticks: ticks)
        options.trace = trace
        let sim = Simulator(options: options)
        do {
            try sim.run()
            return (sim.stats, nil)
        } catch {
            var report = """
            Raft simulation failed: \(error)
              \(options)
              after \(sim.steps) steps
              rerun: RAFT_SEED=\(seed) swift test --filter RaftTests
            """
            if trace {
                report += "\n  last events:\n    " + sim.traceTail(150).joined(separator: "\n    ")
            }
            return (sim.stats, report)
        }
    }

    @Test(arguments: 0..<batches)
    func seededRuns(batch: Int) {
        _ = CrashReporter.install
        if let seed = Self.singleSeed {
            guard batch == 0 else { return }
            CrashReporter.setRunning(slot: batch, seed: seed)
            let result = Self.run(seed: seed, trace: true)
            CrashReporter.setRunning(slot: batch, seed: nil)
            if let failure = result.failure { Issue.record(Comment(rawValue: failure)) }
            print("RAFT_SEED=\(seed) \(result.failure == nil ? "ok" : "FAILED"): \(result.stats.summary)")
            return
        }
        var stats = SimulationStats()
        var runs = 0
        var seed = Self.firstSeed + UInt64(batch)
        let end = Self.firstSeed + Self.seedCount
        let started = ContinuousClock.now
        while seed < end {
            CrashReporter.setRunning(slot: batch, seed: seed)
            let result = Self.run(seed: seed, trace: false)
            stats = stats + result.stats
            runs += 1
            if let failure = result.failure {
                Issue.record(Comment(rawValue: failure))
            }
            seed += UInt64(Self.batches)
        }
        CrashReporter.setRunning(slot: batch, seed: nil)
        print("simulation batch \(batch): \(runs) seeds in \(ContinuousClock.now - started): \(stats.summary)")
    }
}
