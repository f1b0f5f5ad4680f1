import Testing
@testable import Raft

/// Leadership transfer (thesis §3.10).
@Suite struct LeaderTransferTests {
    @Test func transferToUpToDateFollower() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        let term = net[1].term
        net.sent = []
        net[1].raft.transferLeader(to: 3)
        net.stabilize()
        #expect(net.sent.contains { $0.type == .timeoutNow && $0.to == 3 })
        #expect(net[3].role == .leader)
        #expect(net[3].term == term + 1)
        #expect(net[1].role == .follower)
        #expect(net[1].leader == 3)
    }

    @Test func laggingTargetIsCaughtUpFirst() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [3]
        for n in 1...5 as ClosedRange<UInt64> { try net.propose(1, n) }
        net.isolated = []
        net.sent = []
        net[1].raft.transferLeader(to: 3)
        net.stabilize()
        let firstApp = net.sent.firstIndex { $0.type == .app && $0.to == 3 }
        let timeoutNow = net.sent.firstIndex { $0.type == .timeoutNow }
        #expect(firstApp != nil && timeoutNow != nil && firstApp! < timeoutNow!)
        #expect(net[3].role == .leader)
        #expect(net[3].values.count == 5)
    }

    @Test func proposalsAreDroppedDuringTransfer() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [3]
        net[1].raft.transferLeader(to: 3)
        net.stabilize()
        #expect(net[1].status.leadTransferee == 3)
        #expect(throws: RaftError.proposalDropped) { try net[1].raft.propose(value(1)) }
    }

    @Test func transferIsAbandonedAfterElectionTimeout() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [3]
        net[1].raft.transferLeader(to: 3)
        net.stabilize()
        net.tick([1, 2], count: 10)
        #expect(net[1].role == .leader)
        #expect(net[1].status.leadTransferee == 0)
        try net.propose(1, 1)
        #expect(net[2].values == [value(1)])
    }

    @Test func transferToLearnerIsIgnored() {
        let net = TestNetwork(voters: [1, 2], learners: [3])
        net.campaign(1)
        net[1].raft.transferLeader(to: 3)
        net.stabilize()
        #expect(net[1].role == .leader)
        #expect(net[1].status.leadTransferee == 0)
    }

    @Test func followerForwardsTransferRequest() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net[2].raft.transferLeader(to: 2)
        net.stabilize()
        #expect(net[2].role == .leader)
    }

    @Test func transferElectionSkipsPreVoteAndLease() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.sent = []
        net[1].raft.transferLeader(to: 2)
        net.stabilize()
        #expect(!net.sent.contains { $0.type == .preVote })
        #expect(net.sent.contains { $0.type == .vote && $0.context == campaignTransferContext })
        #expect(net[2].role == .leader)
    }
}
