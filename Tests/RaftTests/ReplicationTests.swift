import Testing
@testable import Raft

/// Log replication (paper §5.3), flow control and batching (thesis §10.2.2), and the commitment
/// rule (paper §5.4.2).
@Suite struct ReplicationTests {
    @Test func proposalsCommitAndApplyEverywhere() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        for n in 1...10 as ClosedRange<UInt64> { try net.propose(1, n) }
        for id in [1, 2, 3] as [NodeID] {
            #expect(net[id].values == (1...10).map { value($0) })
        }
    }

    @Test func leaderCommitsItsEmptyEntryOnElection() {
        let net = TestNetwork(voters: [1, 2, 3])
        let last = net[1].status.lastIndex
        net.campaign(1)
        #expect(net[1].status.lastIndex == last + 1)
        #expect(net[1].commit == last + 1)
        #expect(net[1].appliedEntries.last == Entry(term: 2, index: last + 1))
    }

    @Test func followerForwardsProposalToLeader() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        try net.propose(3, 42)
        #expect(net.sent.contains { $0.type == .prop && $0.from == 3 && $0.to == 1 })
        #expect(net[1].values == [value(42)])
        #expect(net[3].values == [value(42)])
    }

    @Test func forwardingCanBeDisabled() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.disableProposalForwarding = true }
        net.campaign(1)
        #expect(throws: RaftError.proposalDropped) { try net[3].raft.propose(value(1)) }
    }

    @Test func proposalWithoutLeaderIsDropped() {
        let net = TestNetwork(voters: [1, 2, 3])
        #expect(throws: RaftError.proposalDropped) { try net[1].raft.propose(value(1)) }
    }

    @Test func batchOfProposalsTravelsInOneMessage() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.sent = []
        try net[1].raft.propose(batch: (1...50).map { value($0) })
        net.stabilize()
        let apps = net.sent.filter { $0.type == .app && $0.to == 2 && !$0.entries.isEmpty }
        #expect(apps.count == 1)
        #expect(apps.first?.entries.count == 50)
        #expect(net[2].values.count == 50)
    }

    @Test func entriesAccumulatedWhileProbingGoInOneMessage() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [3]
        for n in 1...20 as ClosedRange<UInt64> { try net.propose(1, n) }
        net.isolated = []
        net.sent = []
        net.tick([1], count: 1)
        let apps = net.sent.filter { $0.type == .app && $0.to == 3 }
        #expect(apps.contains { $0.entries.count == 20 })
        #expect(net[3].values.count == 20)
    }

    @Test func maxSizePerMsgCapsEntriesPerMessage() throws {
        let net = TestNetwork(voters: [1, 2]) { $0.maxSizePerMsg = 3 * (8 + 17) }
        net.campaign(1)
        net.sent = []
        try net[1].raft.propose(batch: (1...10).map { value($0) })
        net.stabilize()
        let apps = net.sent.filter { $0.type == .app && $0.to == 2 && !$0.entries.isEmpty }
        #expect(apps.allSatisfy { $0.entries.count <= 3 })
        #expect(apps.reduce(0) { $0 + $1.entries.count } == 10)
        #expect(net[2].values.count == 10)
    }

    @Test func inflightWindowLimitsUnacknowledgedAppends() throws {
        let net = TestNetwork(voters: [1, 2]) { $0.maxInflightMsgs = 3 }
        net.campaign(1)
        // Follower 2 receives appends but its answers are held back.
        var held: [Message] = []
        net.filter = { m in
            if m.type == .appResp && m.from == 2 { held.append(m); return false }
            return true
        }
        net.sent = []
        for n in 1...10 as ClosedRange<UInt64> { try net.propose(1, n) }
        let apps = net.sent.filter { $0.type == .app && $0.to == 2 }
        #expect(apps.count == 3, "pipelining stops at the inflight window")
        #expect(net[1].status.progress[2]?.state == .replicate)
        // Acknowledgements open the window again.
        net.filter = { _ in true }
        net.pending.append(contentsOf: held)
        net.stabilize()
        #expect(net[2].values.count == 10)
        #expect(net[1].commit == net[1].status.lastIndex)
    }

    @Test func divergentFollowerLogIsTruncatedWithFewProbes() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false; $0.preVote = false }
        net.campaign(1)
        // 1 appends 30 entries no one else gets, then loses leadership.
        net.isolated = [1]
        for n in 1...30 as ClosedRange<UInt64> { try? net.propose(1, n) }
        net.campaign(2)
        for n in 100...104 as ClosedRange<UInt64> { try net.propose(2, n) }
        #expect(net[1].status.lastIndex > net[2].status.lastIndex)
        net.isolated = []
        net.sent = []
        net.tick([2], count: 1)
        let rejections = net.sent.filter { $0.type == .appResp && $0.from == 1 && $0.reject }
        #expect(rejections.count <= 2, "the reject hint skips the whole divergent term")
        #expect(net[1].values == (100...104).map { value($0) })
        #expect(net[1].persistedEntries == net[2].persistedEntries)
    }

    /// Paper Figure 8: an entry from an earlier term replicated on a majority is not committed by
    /// counting replicas; only once an entry of the leader's term is, both are.
    @Test func entriesOfEarlierTermsAreNotCommittedByCounting() throws {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false; $0.preVote = false; $0.maxSizePerMsg = 1 }
        // Term 2: 1 leads, appends x at index 5 that reaches no one.
        net.campaign(1)
        #expect(net[1].status.lastIndex == 4)
        net.isolated = [1]
        try net[1].raft.propose(value(7))
        net.stabilize()
        #expect(net[1].status.lastIndex == 5)
        // Term 3: 2 leads with 3's vote; its empty entry at 5 reaches no one.
        net.isolated = [1]
        net.filter = { !($0.from == 2 && $0.type == .app) }
        net.campaign(2)
        #expect(net[2].role == .leader && net[2].term == 3)
        // Term 4: 1 (told of term 3) leads with 3's vote: its last entry (5, term 2) beats 3's
        // (4, term 2). Its probe is rejected, x reaches 3, its own term-4 entry does not.
        net.isolated = [2]
        try net[1].raft.step(Message(type: .heartbeat, to: 1, from: 2, term: 3))
        var probes = 0
        net.filter = { m in
            guard m.type == .app && m.from == 1 && m.entries.contains(where: { $0.term == 4 }) else { return true }
            probes += 1
            return probes == 1
        }
        net.campaign(1)
        #expect(net[1].role == .leader && net[1].term == 4)
        net.tick([1], count: 3)
        // x (term 2) is on 1 and 3 — a majority — but must not count as committed.
        #expect(net[3].status.lastIndex >= 5)
        #expect(net[1].commit < 5)
        #expect(!net[1].values.contains(value(7)))
        // Once the term-4 entry is on a majority, both commit.
        net.filter = { _ in true }
        net.tick([1], count: 2)
        #expect(net[1].commit == 6)
        #expect(net[1].values == [value(7)])
    }

    @Test func duplicatedOldAppendDoesNotTruncateAcknowledgedEntries() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        // Nothing commits: the entries on 2 are acknowledged but not yet committed.
        net.filter = { $0.type != .appResp }
        try net.propose(1, 1)
        let first = net.sent.last { $0.type == .app && $0.to == 2 && !$0.entries.isEmpty }!
        try net.propose(1, 2)
        let last = net[2].status.lastIndex
        // The network delivers the first append again, late.
        try net[2].raft.step(first)
        net.stabilize()
        #expect(net[2].status.lastIndex == last, "entries after a matching append are kept (paper §5.3 step 3)")
        #expect(net[2].persistedEntries.last?.data == value(2))
    }

    @Test func staleAppendResponsesAreHarmless() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        for n in 1...5 as ClosedRange<UInt64> { try net.propose(1, n) }
        let old = net.sent.filter { $0.type == .appResp && $0.from == 2 }
        // Replay every old response, including rejections, in reverse order.
        for m in old.reversed() { try net[1].raft.step(m) }
        net.stabilize()
        try net.propose(1, 6)
        #expect(net[2].values.count == 6)
        #expect(net[1].status.progress[2]?.match == net[1].status.lastIndex)
    }
}
