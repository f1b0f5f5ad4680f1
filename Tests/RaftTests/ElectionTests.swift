import Testing
@testable import Raft

/// Leader election (paper §5.2) and the election restriction (§5.4.1).
@Suite struct ElectionTests {
    @Test func singleNodeElectsItselfAfterTimeout() {
        let net = TestNetwork(voters: [1])
        #expect(net[1].role == .follower)
        net.tick(count: 20)
        #expect(net[1].role == .leader)
        // The empty entry of its term is committed at once: a single voter is a majority.
        #expect(net[1].commit == net[1].status.lastIndex)
    }

    @Test func campaignWinsThreeNodeElection() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        #expect(net[1].role == .leader)
        #expect(net[1].term == 2)
        #expect(net[2].leader == 1 && net[3].leader == 1)
        #expect(net[2].status.hardState.vote == 1)
        // The leader's empty entry commits everywhere.
        #expect(net.nodes.values.allSatisfy { $0.commit == 4 })
    }

    @Test func electionTimeoutIsRandomizedWithinBounds() {
        var timeouts: Set<Int> = []
        for seed in 0..<40 as Range<UInt64> {
            let storage = MemoryStorage(bootstrapVoters: [1, 2, 3])
            let node = TestNode(id: 1, storage: storage) { $0.randomSeed = seed; $0.preVote = false }
            node.handleReady()
            var ticks = 0
            while node.role == .follower {
                node.raft.tick()
                ticks += 1
                node.handleReady()
                #expect(ticks < 20)
                if ticks >= 20 { break }
            }
            #expect(ticks >= 10 && ticks < 20)
            timeouts.insert(ticks)
        }
        #expect(timeouts.count > 3, "timeouts should vary with the seed")
    }

    @Test func sameSeedSameTimeout() {
        func timeout() -> Int {
            let node = TestNode(id: 2, storage: MemoryStorage(bootstrapVoters: [1, 2, 3])) { $0.randomSeed = 99 }
            var ticks = 0
            while node.role == .follower && ticks < 100 {
                node.raft.tick()
                node.handleReady()
                ticks += 1
            }
            return ticks
        }
        #expect(timeout() == timeout())
    }

    @Test func voteRefusedToCandidateWithStaleLog() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        net.campaign(1)
        net.isolated = [3]
        try? net.propose(1, 100)
        // 3 missed the entry; its campaign must fail: 1 and 2 have a longer log of the same term.
        net.isolated = []
        net.filter = { !($0.type == .app || $0.type == .heartbeat) }  // keep 1 quiet towards 3
        net[3].raft.campaign()
        let delivered = net.stabilize()
        let responses = delivered.filter { $0.type == .voteResp && $0.to == 3 }
        #expect(!responses.isEmpty)
        #expect(responses.allSatisfy { $0.reject })
        #expect(net[3].role != .leader)
    }

    @Test func onlyOneVotePerTerm() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        net.isolated = [3]
        net.campaign(1)
        #expect(net[2].status.hardState.vote == 1)
        // 3 asks for the same term with a log at least as up to date: refused, 2 already voted.
        let term = net[2].term
        try! net[2].raft.step(Message(type: .vote, to: 2, from: 3, term: term, logTerm: term, index: 100))
        let out = net[2].handleReady() ?? []
        #expect(out.contains { $0.type == .voteResp && $0.to == 3 && $0.reject })
        #expect(net[2].status.hardState.vote == 1)
    }

    @Test func splitVoteElectsNoLeader() {
        let net = TestNetwork(voters: [1, 2, 3, 4]) { $0.preVote = false; $0.checkQuorum = false }
        // Two candidates, each gets one other vote: 2 of 4 is not a majority.
        net.cut = [[1, 3], [3, 1], [1, 4], [4, 1], [2, 3], [3, 2], [2, 4], [4, 2]]
        net[1].raft.campaign()
        net[3].raft.campaign()
        net.stabilize()
        #expect(net.leaders.isEmpty)
    }

    @Test func higherTermMakesLeaderStepDown() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        net.campaign(1)
        #expect(net[1].role == .leader)
        net.campaign(2)
        #expect(net[2].role == .leader)
        #expect(net[1].role == .follower)
        #expect(net[1].term == net[2].term)
    }

    @Test func candidateStepsDownOnAppendFromLeaderOfSameTerm() {
        let net = TestNetwork(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        net.campaign(1)
        let term = net[1].term
        let app = Message(type: .app, to: 3, from: 1, term: term + 1, logTerm: 0, index: 0)
        // 3 campaigns into term+1 but hears first from a leader of term+1.
        net.isolated = [3]
        net[3].raft.campaign()
        _ = net[3].handleReady()
        #expect(net[3].role == .candidate)
        try! net[3].raft.step(app)
        #expect(net[3].role == .follower)
        #expect(net[3].leader == 1)
    }

    @Test func followerReElectsAfterLeaderFails() {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [1]
        net.tick([2, 3], count: 30)
        let leaders = [2, 3].filter { net[$0].role == .leader }
        #expect(leaders.count == 1)
        #expect(net[leaders[0]].term > 2)
    }
}
