import Testing
@testable import Raft

/// Linearizable reads with ReadIndex (thesis §6.4).
@Suite struct ReadIndexTests {
    @Test func leaderAnswersAfterHeartbeatQuorum() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        try net.propose(1, 1)
        net.sent = []
        net[1].raft.readIndex(context: [7])
        net.stabilize()
        #expect(net.sent.contains { $0.type == .heartbeat && !$0.context.isEmpty })
        #expect(net[1].readStates == [ReadState(index: net[1].commit, context: [7])])
    }

    @Test func isolatedLeaderServesNoRead() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [1]
        net[1].raft.readIndex(context: [7])
        net.tick([1], count: 5)
        #expect(net[1].readStates.isEmpty)
    }

    @Test func followerForwardsToLeader() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        try net.propose(1, 1)
        net[3].raft.readIndex(context: [1, 2])
        net.stabilize()
        #expect(net.sent.contains { $0.type == .readIndex && $0.from == 3 && $0.to == 1 })
        #expect(net[3].readStates == [ReadState(index: net[1].commit, context: [1, 2])])
    }

    @Test func newLeaderWaitsUntilItCommitsInItsTerm() {
        let net = TestNetwork(voters: [1, 2, 3])
        // 1 wins, but its first entry does not reach anyone yet.
        net.filter = { $0.type != .app }
        net.campaign(1)
        #expect(net[1].role == .leader)
        net[1].raft.readIndex(context: [5])
        net.tick([1], count: 2)
        #expect(net[1].readStates.isEmpty, "no read before the leader knows the commit index")
        net.filter = { _ in true }
        net.tick([1], count: 1)
        #expect(net[1].readStates.count == 1)
        #expect(net[1].readStates.first?.index == net[1].status.lastIndex)
    }

    @Test func readsArrivingDuringARoundShareTheNextOne() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        // Hold the first round's heartbeats.
        net.filter = { !($0.type == .heartbeat) }
        net.sent = []
        net[1].raft.readIndex(context: [1])
        net[1].raft.readIndex(context: [2])
        net[1].raft.readIndex(context: [3])
        net.stabilize()
        let rounds = Set(net.sent.filter { $0.type == .heartbeat }.map(\.context))
        #expect(rounds.count == 1, "requests arriving while a round is in flight wait for the next one")
        net.filter = { _ in true }
        net.tick([1], count: 1)
        #expect(net[1].readStates.map(\.context) == [[1], [2], [3]])
        let allRounds = Set(net.sent.filter { $0.type == .heartbeat && !$0.context.isEmpty }.map(\.context))
        #expect(allRounds.count == 2)
    }

    @Test func singleVoterAnswersAtOnce() {
        let net = TestNetwork(voters: [1])
        net.tick(count: 20)
        net[1].raft.readIndex(context: [3])
        net.stabilize()
        #expect(net[1].readStates == [ReadState(index: net[1].commit, context: [3])])
    }

    @Test func readIndexIsAtLeastCommitIndexWhenIssued() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        for n in 1...3 as ClosedRange<UInt64> { try net.propose(1, n) }
        let commit = net[2].commit
        net[2].raft.readIndex(context: [9])
        net.stabilize()
        #expect(net[2].readStates.first.map { $0.index >= commit } == true)
    }
}
