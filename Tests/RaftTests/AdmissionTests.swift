import Testing
@testable import Raft

/// `RaftNode.refusal(of:)`: the messages a node drops before stepping because no correct member sends
/// them in its state (a heartbeat committing past its log, a timeoutNow or readIndexResp not from its
/// leader, a response from a non-member), and the legitimate ones it lets through.
@Suite struct AdmissionTests {
    /// A follower refuses a heartbeat of its term (or a newer one) that commits past its last index,
    /// where stepping would trap; it admits one committing at most its last index, and a stale leader's
    /// heartbeat whatever its commit (that one is only answered with the current term, never applied).
    @Test func heartbeatCommittingPastTheLogIsRefused() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        let term = net[2].term
        let last = net[2].status.lastIndex
        try #require(net[2].role == .follower && net[2].leader == 1)
        try #require(term > 1)

        let past = Message(type: .heartbeat, to: 2, from: 1, term: term, commit: last + 1)
        #expect(net[2].raft.refusal(of: past) != nil, "commit one past the last index")
        #expect(net[2].raft.refusal(of: Message(type: .heartbeat, to: 2, from: 1, term: term, commit: 1 << 40)) != nil,
                "commit far past the last index")
        #expect(net[2].raft.refusal(of: Message(type: .heartbeat, to: 2, from: 3, term: term + 1, commit: last + 1)) != nil,
                "a newer term does not make committing past the log plausible")

        let atLast = Message(type: .heartbeat, to: 2, from: 1, term: term, commit: last)
        #expect(net[2].raft.refusal(of: atLast) == nil, "commit at the last index")
        #expect(net[2].raft.refusal(of: Message(type: .heartbeat, to: 2, from: 1, term: term)) == nil, "commit 0")
        let stale = Message(type: .heartbeat, to: 2, from: 3, term: term - 1, commit: 1 << 40)
        #expect(net[2].raft.refusal(of: stale) == nil, "a stale term's heartbeat is answered, not applied")

        // The admitted ones are harmless: the commit index stays in the log, and the stale leader is
        // told the current term (the nudge that makes it step down).
        try net[2].raft.step(atLast)
        #expect(net[2].commit == last)
        net.stabilize()
        let commit = net[2].commit
        try net[2].raft.step(stale)
        let sent = net[2].handleReady() ?? []
        #expect(sent.contains { $0.type == .appResp && $0.to == 3 && $0.term == term })
        #expect(net[2].commit == commit)
        #expect(net[2].term == term && net[2].leader == 1)
    }

    /// A follower takes `timeoutNow` only from its leader at its term: a forged one (another member, or
    /// another term) would start an election; the leader's own starts the transfer election.
    @Test func timeoutNowNotFromTheLeaderIsRefused() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        let term = net[2].term
        try #require(net[2].role == .follower && net[2].leader == 1)

        #expect(net[2].raft.refusal(of: Message(type: .timeoutNow, to: 2, from: 3, term: term)) != nil, "from a follower")
        #expect(net[2].raft.refusal(of: Message(type: .timeoutNow, to: 2, from: 99, term: term)) != nil, "from a stranger")
        // Another term is left to the term rules.
        #expect(net[2].raft.refusal(of: Message(type: .timeoutNow, to: 2, from: 1, term: term + 1)) == nil, "from the leader at a later term")
        // A stale one (a member's old leadership) is admitted: the term rules ignore it.
        #expect(net[2].raft.refusal(of: Message(type: .timeoutNow, to: 2, from: 1, term: term - 1)) == nil, "from the leader at an earlier term")
        // The leader itself has no leader to take one from.
        #expect(net[1].raft.refusal(of: Message(type: .timeoutNow, to: 1, from: 2, term: term)) != nil, "to the leader")

        let legitimate = Message(type: .timeoutNow, to: 2, from: 1, term: term)
        #expect(net[2].raft.refusal(of: legitimate) == nil)
        try net[2].raft.step(legitimate)
        #expect(net[2].role == .candidate)
        #expect(net[2].term == term + 1)
        net.stabilize()
        #expect(net[2].role == .leader)
    }

    /// A follower takes `readIndexResp` only from its leader at its term (a forged one would release
    /// linearizable reads at a stale index); a leader never takes one. The legitimate one becomes a
    /// read state.
    @Test func readIndexResponseNotFromTheLeaderIsRefused() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        let term = net[2].term
        let commit = net[2].commit
        try #require(net[2].role == .follower && net[2].leader == 1)

        #expect(net[2].raft.refusal(of: Message(type: .readIndexResp, to: 2, from: 3, term: term, index: commit, context: [1])) != nil,
                "from a follower")
        #expect(net[2].raft.refusal(of: Message(type: .readIndexResp, to: 2, from: 99, term: term, index: commit, context: [1])) != nil,
                "from a stranger")
        // A newer leader may answer a request forwarded again: left to the term rules.
        #expect(net[2].raft.refusal(of: Message(type: .readIndexResp, to: 2, from: 1, term: term + 1, index: commit, context: [1])) == nil,
                "from the leader at a later term")
        // A stale answer (from the leader of an earlier term, late) is admitted and ignored by the term rules.
        let stale = Message(type: .readIndexResp, to: 2, from: 1, term: term - 1, index: commit, context: [1])
        #expect(net[2].raft.refusal(of: stale) == nil, "from the leader at an earlier term")
        try net[2].raft.step(stale)
        net[2].handleReady()
        #expect(net[2].readStates.isEmpty)
        #expect(net[1].raft.refusal(of: Message(type: .readIndexResp, to: 1, from: 3, term: term, index: commit, context: [1])) != nil,
                "to the leader")

        let legitimate = Message(type: .readIndexResp, to: 2, from: 1, term: term, index: commit, context: [4, 2])
        #expect(net[2].raft.refusal(of: legitimate) == nil)
        try net[2].raft.step(legitimate)
        net[2].handleReady()
        #expect(net[2].readStates == [ReadState(index: commit, context: [4, 2])])
    }

    /// Responses are taken only from members (voters or learners) or peers the leader tracks: the
    /// leader refuses an append or heartbeat response from an unknown id and admits them from its
    /// followers and learners, which it steps without harm.
    @Test func responsesFromNonMembersAreRefused() throws {
        let net = TestNetwork(voters: [1, 2, 3], learners: [4])
        net.campaign(1)
        let term = net[1].term
        let last = net[1].status.lastIndex
        try #require(net[1].role == .leader)

        #expect(net[1].raft.refusal(of: Message(type: .appResp, to: 1, from: 99, term: term, index: last)) != nil, "appResp from 99")
        #expect(net[1].raft.refusal(of: Message(type: .appResp, to: 1, from: 99, term: term, index: 1, reject: true, rejectHint: 1)) != nil,
                "rejecting appResp from 99")
        #expect(net[1].raft.refusal(of: Message(type: .heartbeatResp, to: 1, from: 99, term: term)) != nil, "heartbeatResp from 99")
        #expect(net[2].raft.refusal(of: Message(type: .heartbeatResp, to: 2, from: 99, term: term)) != nil, "heartbeatResp from 99 to a follower")

        let fromFollower = Message(type: .appResp, to: 1, from: 2, term: term, index: last)
        #expect(net[1].raft.refusal(of: fromFollower) == nil, "appResp from a voter")
        #expect(net[1].raft.refusal(of: Message(type: .appResp, to: 1, from: 4, term: term, index: last)) == nil, "appResp from a learner")
        #expect(net[1].raft.refusal(of: Message(type: .heartbeatResp, to: 1, from: 3, term: term)) == nil, "heartbeatResp from a voter")

        try net[1].raft.step(fromFollower)
        net.stabilize()
        #expect(net[1].role == .leader)
        #expect(net[1].status.progress[2]?.match == last)
        try net.propose(1, 1)
        #expect(net[2].values == [value(1)])
    }

    /// A pre-candidate refuses a pre-vote response from a non-member (etcd drops them too) and counts
    /// one from a voter, which with its own makes a majority and starts the real election.
    @Test func voteResponsesFromNonMembersAreRefused() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.filter = { _ in false }
        net.campaign(2)
        let term = net[2].term
        try #require(net[2].role == .preCandidate)

        #expect(net[2].raft.refusal(of: Message(type: .preVoteResp, to: 2, from: 99, term: term + 1)) != nil, "preVoteResp from 99")
        #expect(net[2].raft.refusal(of: Message(type: .voteResp, to: 2, from: 99, term: term + 1)) != nil, "voteResp from 99")

        let granted = Message(type: .preVoteResp, to: 2, from: 3, term: term + 1)
        #expect(net[2].raft.refusal(of: granted) == nil)
        try net[2].raft.step(granted)
        #expect(net[2].role == .candidate)
        #expect(net[2].term == term + 1)
    }
}
