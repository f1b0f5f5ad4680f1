import Testing
@testable import Raft

/// Check-quorum and the leader lease (thesis §6.2, §4.2.3).
@Suite struct CheckQuorumTests {
    @Test func leaderWithoutQuorumStepsDown() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [1]
        net.tick([1], count: 10)
        #expect(net[1].role == .leader || net[1].role == .follower)
        net.tick([1], count: 11)
        #expect(net[1].role == .follower, "a leader cut off for an election timeout must step down")
        #expect(net[1].leader == 0)
    }

    @Test func leaderWithQuorumStays() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [3]
        net.tick([1, 2], count: 50)
        #expect(net[1].role == .leader)
    }

    @Test func withoutCheckQuorumIsolatedLeaderStays() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.campaign(1)
        net.isolated = [1]
        net.tick([1], count: 50)
        #expect(net[1].role == .leader)
    }

    @Test func followerInLeaseIgnoresVoteRequest() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false }
        net.campaign(1)
        let term = net[2].term
        try! net[2].raft.step(Message(type: .vote, to: 2, from: 3, term: term + 5, logTerm: 9, index: 100))
        #expect(net[2].term == term)
        #expect((net[2].handleReady() ?? []).isEmpty)
        #expect(net[2].leader == 1)
    }

    @Test func transferElectionBypassesLease() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false }
        net.campaign(1)
        let term = net[2].term
        try! net[2].raft.step(Message(type: .vote, to: 2, from: 3, term: term + 1, logTerm: 9, index: 100, context: campaignTransferContext))
        #expect(net[2].term == term + 1)
        let out = net[2].handleReady() ?? []
        #expect(out.contains { $0.type == .voteResp && !$0.reject })
    }

    @Test func staleLeaderLearnsNewTermFromResponseToItsHeartbeat() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false; $0.preVote = true }
        net.campaign(1)
        net.isolated = [1]
        net.campaign(2)
        #expect(net[2].role == .leader)
        #expect(net[1].role == .leader)
        net.isolated = []
        net.tick([1], count: 1)  // 1 sends heartbeats of its old term; 3 answers with its term
        #expect(net[1].role == .follower)
        #expect(net[1].term == net[2].term)
    }
}
