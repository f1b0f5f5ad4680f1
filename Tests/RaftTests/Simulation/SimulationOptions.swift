@testable import Raft

/// The shape of one simulated run, derived entirely from its seed so that the seed alone
/// reproduces the run.
struct SimulationOptions: CustomStringConvertible {
    var seed: UInt64
    /// Initial voters (3 or 5).
    var nodeCount: Int
    /// Ticks of faulty operation before the quiet phase that checks liveness.
    var ticks: Int
    /// Probability that a message is lost.
    var lossRate: Double
    /// Probability that a message is delivered twice.
    var duplicateRate: Double
    /// Messages are delayed 0...maxDelay ticks (so they are also reordered).
    var maxDelay: Int
    var checkQuorum: Bool
    var preVote: Bool
    /// Per-tick probabilities of the fault and operation events.
    var crashRate: Double
    /// Per-tick probability of crashing the current leader (churn that exposes commit-rule bugs).
    var leaderCrashRate: Double
    var partitionRate: Double
    var membershipRate: Double
    var transferRate: Double
    var proposalRate: Double
    var readRate: Double
    /// Applied entries between snapshots (the log is compacted behind each).
    var snapshotInterval: UInt64
    var maxInflightMsgs: Int
    var maxSizePerMsg: Int
    var maxCommittedSizePerReady: Int
    /// Record a human-readable trace (printed when a check fails).
    var trace: Bool = false

    init(seed: UInt64, ticks: Int = 300) {
        self.seed = seed
        var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D)
        func pick<T>(_ choices: [T]) -> T { choices[Int(rng.next() % UInt64(choices.count))] }
        nodeCount = seed % 2 == 0 ? 3 : 5
        self.ticks = ticks
        lossRate = pick([0, 0.01, 0.05, 0.15])
        duplicateRate = pick([0, 0, 0.02, 0.1])
        maxDelay = pick([0, 1, 2, 4, 8])
        checkQuorum = pick([true, true, true, false])
        preVote = pick([true, true, true, false])
        crashRate = pick([0, 0.005, 0.01, 0.02])
        leaderCrashRate = pick([0, 0.02, 0.05, 0.1])
        partitionRate = pick([0, 0.005, 0.01, 0.02])
        membershipRate = pick([0, 0.01, 0.02, 0.04, 0.1])
        transferRate = pick([0, 0.005, 0.01])
        proposalRate = pick([0.1, 0.3, 0.6])
        readRate = pick([0, 0.05, 0.2])
        snapshotInterval = pick([10, 25, 60, 1000])
        maxInflightMsgs = pick([1, 2, 4, 64])
        maxSizePerMsg = pick([1, 1, 60, 300, 1 << 20])
        maxCommittedSizePerReady = pick([.max, .max, 1, 100])
    }

    var description: String {
        "seed \(seed): \(nodeCount) nodes, \(ticks) ticks, loss \(lossRate), dup \(duplicateRate), delay ≤\(maxDelay), "
            + "checkQuorum \(checkQuorum), preVote \(preVote), crash \(crashRate), leader crash \(leaderCrashRate), partition \(partitionRate), "
            + "membership \(membershipRate), transfer \(transferRate), proposals \(proposalRate), reads \(readRate), "
            + "snapshot every \(snapshotInterval), inflight \(maxInflightMsgs), maxSizePerMsg \(maxSizePerMsg), maxCommittedSizePerReady \(maxCommittedSizePerReady)"
    }
}
