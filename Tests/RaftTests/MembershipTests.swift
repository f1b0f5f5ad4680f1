import Testing
@testable import Raft

/// Learners (thesis §4.2.1) and single-server membership changes (thesis §4.1, §4.2.2).
@Suite struct LearnerTests {
    @Test func learnerReceivesAndAppliesTheLog() throws {
        let net = TestNetwork(voters: [1, 2], learners: [3])
        net.campaign(1)
        for n in 1...3 as ClosedRange<UInt64> { try net.propose(1, n) }
        #expect(net[3].values == (1...3).map { value($0) })
        #expect(net[1].status.progress[3]?.isLearner == true)
    }

    @Test func learnerNeverCampaigns() {
        let net = TestNetwork(voters: [1, 2], learners: [3])
        net.sent = []
        net.tick([3], count: 100)
        #expect(net[3].role == .follower)
        #expect(!net.sent.contains { $0.from == 3 })
        net[3].raft.campaign()
        net.stabilize()
        #expect(net[3].role == .follower)
    }

    @Test func learnerDoesNotCountForCommitOrVotes() throws {
        let net = TestNetwork(voters: [1, 2], learners: [3])
        net.campaign(1)
        let commit = net[1].commit
        net.isolated = [2]
        try? net.propose(1, 9)
        #expect(net[3].status.lastIndex > commit, "the learner got the entry")
        #expect(net[1].commit == commit, "but its acknowledgement does not make a majority")
        // An election needs 2 of the 2 voters; the learner's vote is not asked for.
        net.sent = []
        net.isolated = [2]
        net[1].raft.campaign()
        net.stabilize()
        #expect(!net.sent.contains { $0.type == .vote && $0.to == 3 })
    }

    @Test func promotedLearnerVotesAndCanLead() throws {
        let net = TestNetwork(voters: [1, 2], learners: [3])
        net.campaign(1)
        try net[1].raft.proposeConfChange(ConfChange(type: .addNode, nodeID: 3))
        net.stabilize()
        #expect(net[3].status.confState == ConfState(voters: [1, 2, 3]))
        net[1].raft.transferLeader(to: 3)
        net.stabilize()
        #expect(net[3].role == .leader)
    }
}

@Suite struct ConfChangeTests {
    @Test func newMemberJoinsAsLearnerThenVoter() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        try net.propose(1, 1)
        net.addEmptyNode(4)
        try net[1].raft.proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 4))
        net.stabilize()
        net.tick([1], count: 1)
        #expect(net[4].values == [value(1)])
        #expect(net[4].status.confState == ConfState(voters: [1, 2, 3], learners: [4]))
        try net[1].raft.proposeConfChange(ConfChange(type: .addNode, nodeID: 4))
        net.stabilize()
        for id in [1, 2, 3, 4] as [NodeID] {
            #expect(net[id].status.confState == ConfState(voters: [1, 2, 3, 4]))
            #expect(net[id].appliedConf == ConfState(voters: [1, 2, 3, 4]))
        }
        // With 4 voters, a commit needs 3.
        net.isolated = [3, 4]
        let commit = net[1].commit
        try? net.propose(1, 2)
        #expect(net[1].commit == commit)
    }

    @Test func secondChangeRefusedWhilePending() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [2, 3]
        try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 3))
        #expect(throws: RaftError.confChangeInProgress) {
            try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 2))
        }
        net.isolated = []
        net.stabilize()
        net.tick([1], count: 1)
        try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 2))
        net.stabilize()
        #expect(net[1].status.confState == ConfState(voters: [1]))
    }

    @Test func forwardedChangeBeyondTheFirstBecomesEmptyEntry() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.filter = { $0.type != .appResp }  // keep the first change uncommitted
        try net[2].raft.proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 4))
        try net[3].raft.proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 5))
        net.stabilize()
        let kinds = net[1].persistedEntries.suffix(2).map(\.kind)
        #expect(kinds == [.confChange, .normal])
        #expect(net[1].status.confState.learners == [4])
    }

    @Test func newLeaderRefusesChangesUntilItCommitsInItsTerm() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.filter = { $0.type != .app }
        net.campaign(1)
        #expect(net[1].role == .leader)
        #expect(throws: RaftError.confChangeInProgress) {
            try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 3))
        }
        net.filter = { _ in true }
        net.tick([1], count: 1)
        try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 3))
    }

    /// The single-server change bug found after the thesis (Ongaro, raft-dev, 2015, "one add, one
    /// remove"): a leader that changes the configuration before committing an entry of its term can
    /// commit with a majority that does not overlap the one of a conflicting, uncommitted
    /// configuration. The rule (pending until the leader's first entry is applied) closes it.
    @Test func changeBeforeCommittingInTermCannotSplitTheCluster() throws {
        let net = TestNetwork(voters: [1, 2, 3, 4]) { $0.checkQuorum = false; $0.preVote = false }
        net.addEmptyNode(5) { $0.checkQuorum = false; $0.preVote = false }
        net.campaign(1)
        // Term 2: 1 adds 5; only 5 gets the entry. 1 and 5 now use {1, 2, 3, 4, 5}.
        net.filter = { ($0.from == 1 && $0.to == 5) || ($0.from == 5 && $0.to == 1) }
        try net[1].raft.proposeConfChange(ConfChange(type: .addNode, nodeID: 5))
        net.stabilize()
        #expect(net[5].status.confState.voters == [1, 2, 3, 4, 5])
        // Term 3: 2 wins in {1, 2, 3, 4} with 3 and 4; its entries reach only 3. It tries at once to
        // remove 1; if that were accepted it would commit in {2, 3, 4} with 2 and 3.
        net.isolated = [1, 5]
        net.filter = { !($0.type == .app && $0.from == 2 && $0.to == 4) }
        net.campaign(2)
        #expect(net[2].role == .leader)
        #expect(throws: RaftError.confChangeInProgress) {
            try net[2].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 1))
        }
        net.stabilize()
        // Term 4: 1 wins in {1, 2, 3, 4, 5} with 4 and 5 and commits its own entry at the same index.
        net.isolated = [2, 3]
        net.filter = { _ in true }
        try net[1].raft.step(Message(type: .heartbeat, to: 1, from: 2, term: 3))
        net.campaign(1)
        if net[1].role != .leader { net.campaign(1) }
        #expect(net[1].role == .leader)
        // Whatever happened, no two members applied different entries at one index.
        var applied: [UInt64: Entry] = [:]
        for node in net.nodes.values {
            for e in node.appliedEntries {
                if let other = applied[e.index] { #expect(other == e, "entry \(e.index) applied differently") }
                applied[e.index] = e
            }
        }
    }

    @Test func removingTheLastVoterIsRefused() {
        let net = TestNetwork(voters: [1])
        net.tick(count: 20)
        #expect(throws: RaftError.confChangeInvalid("removing the last voter")) {
            try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 1))
        }
    }

    @Test func removedNodeStopsCountingAndCommitsWithTheRest() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 3))
        net.stabilize()
        #expect(net[1].status.progress[3] == nil, "the removed member got its removal and is forgotten")
        #expect(net[3].status.confState == ConfState(voters: [1, 2]))
        net.isolated = [3]
        try net.propose(1, 5)
        #expect(net[2].values == [value(5)])
        // A removed member never campaigns once it knows.
        net.sent = []
        net.tick([3], count: 50)
        #expect(net.sent.filter { $0.from == 3 }.isEmpty)
    }

    @Test func removedLeaderStepsDownOnceCommitted() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        try net[1].raft.proposeConfChange(ConfChange(type: .removeNode, nodeID: 1))
        net.stabilize()
        #expect(net[1].role == .follower)
        #expect(net[2].status.confState == ConfState(voters: [2, 3]))
        net.tick([2, 3], count: 30)
        #expect(net.leaders.count == 1 && net.leaders[0] != 1)
        net.tick([1], count: 50)
        #expect(net[1].role == .follower)
    }

    @Test func configurationRevertsWhenItsEntryIsTruncated() throws {
        let net = TestNetwork(voters: [1, 2, 3, 4, 5]) { $0.checkQuorum = false; $0.preVote = false }
        net.campaign(1)
        // Only 2 gets the change (it takes effect on append); nothing commits.
        net.filter = { ($0.type != .app || $0.to == 2) && $0.type != .appResp }
        try net[1].raft.proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 9))
        net.stabilize()
        #expect(net[2].status.confState.learners == [9])
        // 3 wins a later term with 4 and 5, and replaces 2's uncommitted entry with its own.
        net.filter = { _ in true }
        net.isolated = [1]
        net.campaign(3)
        #expect(net[3].role == .leader)
        #expect(net[2].status.confState == ConfState(voters: [1, 2, 3, 4, 5]), "the truncated configuration no longer applies")
    }

    @Test func restartRebuildsConfigurationFromTheLog() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        try net[1].raft.proposeConfChange(ConfChange(type: .addLearnerNode, nodeID: 4))
        net.stabilize()
        net[2].restart()
        #expect(net[2].status.confState == ConfState(voters: [1, 2, 3], learners: [4]))
    }

    @Test func confChangeEncodingRoundTrips() {
        let change = ConfChange(type: .addLearnerNode, nodeID: 0xDEAD_BEEF_0102, context: Array("peer".utf8))
        #expect(ConfChange(encoded: change.encoded()) == change)
        #expect(ConfChange(encoded: [9, 0, 0, 0, 0, 0, 0, 0, 1]) == nil)
        #expect(ConfChange(encoded: [0, 0, 0, 0, 0, 0, 0, 0, 0]) == nil, "node id 0 is not a member")
    }

    @Test func applyConfChangeTracksAppliedConfiguration() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        #expect(net[1].appliedConf == ConfState(voters: [1, 2, 3]))
        net.campaign(1)
        try net[1].raft.proposeConfChange(ConfChange(type: .addNode, nodeID: 3))  // no-op: already a voter
        net.stabilize()
        #expect(net[1].appliedConf == ConfState(voters: [1, 2, 3]))
    }
}
