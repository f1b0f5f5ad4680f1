import Testing
@testable import Raft

/// Pre-vote (thesis §9.6): a server that cannot win does not raise its term and disrupt the cluster.
@Suite struct PreVoteTests {
    @Test func partitionedNodeKeepsItsTermAndDoesNotDisruptOnReturn() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.campaign(1)
        let term = net[1].term
        net.isolated = [3]
        net.tick([3], count: 100)
        #expect(net[3].term == term, "pre-vote must not bump the term of a partitioned node")
        #expect(net[3].role == .preCandidate || net[3].role == .follower)
        net.isolated = []
        net.tick(count: 5)
        #expect(net[1].role == .leader)
        #expect(net[1].term == term)
    }

    @Test func withoutPreVoteAPartitionedNodeDisruptsOnReturn() {
        // The contrast: the same scenario without pre-vote (and without check-quorum) deposes the leader.
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false; $0.preVote = false }
        net.campaign(1)
        let term = net[1].term
        net.isolated = [3]
        net.tick([3], count: 100)
        #expect(net[3].term > term + 3)
        net.isolated = []
        net.tick(count: 25)
        #expect(net[1].term > term)
    }

    @Test func preVoteGrantLeavesVoterTermAndVoteUnchanged() {
        let net = TestNetwork(voters: [1, 2, 3])
        let before = net[2].status.hardState
        try! net[2].raft.step(Message(type: .preVote, to: 2, from: 1, term: before.term + 1, logTerm: 1, index: 3))
        let out = net[2].handleReady() ?? []
        #expect(out.contains { $0.type == .preVoteResp && !$0.reject && $0.term == before.term + 1 })
        #expect(net[2].status.hardState.term == before.term)
        #expect(net[2].status.hardState.vote == before.vote)
    }

    @Test func preVoteRefusedForStaleLog() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.checkQuorum = false }
        net.campaign(1)
        try! net.propose(1, 7)
        let term = net[2].term
        // A pre-candidate whose log ends before ours.
        try! net[2].raft.step(Message(type: .preVote, to: 2, from: 3, term: term + 1, logTerm: 1, index: 3))
        let out = net[2].handleReady() ?? []
        #expect(out.contains { $0.type == .preVoteResp && $0.reject })
    }

    @Test func preCandidateBecomesCandidateOnlyWithQuorum() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.isolated = [2, 3]
        net[1].raft.campaign()
        net.stabilize()
        #expect(net[1].role == .preCandidate)
        #expect(net[1].term == 1)
        net.isolated = []
        net.campaign(1)
        #expect(net[1].role == .leader)
        #expect(net[1].term == 2)
    }
}
