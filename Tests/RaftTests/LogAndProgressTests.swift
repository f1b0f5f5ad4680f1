import Testing
@testable import Raft

/// The log (paper §5.3) and the leader's per-follower flow control.
@Suite struct RaftLogTests {
    func log(_ terms: [UInt64]) throws -> RaftLog {
        let storage = MemoryStorage()
        try storage.append(terms.enumerated().map { Entry(term: $0.element, index: UInt64($0.offset + 1)) })
        return try RaftLog(storage: storage)
    }

    @Test func maybeAppendRejectsMismatchAndTruncatesConflicts() throws {
        var l = try log([1, 1, 2, 2])
        let wrongTerm = l.maybeAppend(index: 4, logTerm: 3, leaderCommit: 0, entries: [])
        let beyondEnd = l.maybeAppend(index: 5, logTerm: 2, leaderCommit: 0, entries: [])
        #expect(wrongTerm == nil)
        #expect(beyondEnd == nil)
        let r = l.maybeAppend(index: 2, logTerm: 1, leaderCommit: 3, entries: [Entry(term: 3, index: 3)])
        #expect(r?.lastNew == 3)
        #expect(r?.writtenFrom == 3)
        #expect(l.lastIndex == 3)
        #expect(l.term(of: 3) == 3)
        #expect(l.committed == 3)
        // Entries already present are not rewritten.
        let again = l.maybeAppend(index: 2, logTerm: 1, leaderCommit: 3, entries: [Entry(term: 3, index: 3)])
        #expect(again?.writtenFrom == nil)
    }

    @Test func commitIsCappedAtLastNewEntry() throws {
        var l = try log([1, 1, 1, 1, 1])
        _ = l.maybeAppend(index: 1, logTerm: 1, leaderCommit: 5, entries: [Entry(term: 1, index: 2)])
        #expect(l.committed == 2, "entries after the message may not match the leader's")
    }

    @Test func findConflictByTermSkipsHigherTerms() throws {
        let l = try log([1, 1, 1, 4, 4, 5, 5])
        #expect(l.findConflictByTerm(index: 7, term: 3) == (3, 1))
        #expect(l.findConflictByTerm(index: 7, term: 5) == (7, 5))
        #expect(l.findConflictByTerm(index: 5, term: 4) == (5, 4))
        #expect(l.findConflictByTerm(index: 7, term: 0) == (0, 0))
    }

    @Test func upToDateComparesTermThenIndex() throws {
        let l = try log([1, 2, 2])
        #expect(l.isUpToDate(lastIndex: 1, lastTerm: 3))
        #expect(l.isUpToDate(lastIndex: 3, lastTerm: 2))
        #expect(!l.isUpToDate(lastIndex: 2, lastTerm: 2))
        #expect(!l.isUpToDate(lastIndex: 10, lastTerm: 1))
    }

    @Test func maybeCommitOnlyCurrentTerm() throws {
        var l = try log([1, 1, 2])
        let earlierTerm = l.maybeCommit(index: 2, term: 2)
        #expect(!earlierTerm)
        #expect(l.committed == 0)
        let currentTerm = l.maybeCommit(index: 3, term: 2)
        #expect(currentTerm)
        #expect(l.committed == 3)
    }

    @Test func unstableEntriesBecomeStableOnlyIfStillThere() throws {
        var l = try log([1])
        l.append([Entry(term: 2, index: 2), Entry(term: 2, index: 3)])
        l.unstable.stableTo(index: 3, term: 1)  // wrong term: a write that was overtaken
        #expect(l.unstable.entries.count == 2)
        l.unstable.stableTo(index: 2, term: 2)
        #expect(l.unstable.entries.map(\.index) == [3])
    }

    @Test func sliceSpansStorageAndUnstable() throws {
        var l = try log([1, 1])
        l.append([Entry(term: 2, index: 3, data: [1]), Entry(term: 2, index: 4, data: [2])])
        #expect(try l.slice(1, 5).map(\.index) == [1, 2, 3, 4])
        #expect(try l.slice(2, 4, maxSize: 17 * 2).map(\.index) == [2])
    }
}

@Suite struct ProgressTests {
    @Test func probeSendsOneAtATime() {
        let pr = Progress(next: 5, maxInflight: 4, isLearner: false, recentActive: true)
        #expect(!pr.isPaused)
        pr.sentEntries(last: 7)
        #expect(pr.isPaused)
        #expect(pr.next == 5, "probing does not move next optimistically")
    }

    @Test func replicatePipelinesUpToWindow() {
        let pr = Progress(next: 5, maxInflight: 2, isLearner: false, recentActive: true)
        _ = pr.maybeUpdate(4)
        pr.becomeReplicate()
        pr.sentEntries(last: 6)
        #expect(pr.next == 7)
        pr.sentEntries(last: 8)
        #expect(pr.isPaused)
        _ = pr.maybeUpdate(6)
        pr.inflights.freeLE(6)
        #expect(!pr.isPaused)
    }

    @Test func rejectionInReplicateFallsBackToMatch() {
        let pr = Progress(next: 5, maxInflight: 8, isLearner: false, recentActive: true)
        _ = pr.maybeUpdate(4)
        pr.becomeReplicate()
        pr.sentEntries(last: 10)
        let stale = pr.maybeDecrTo(rejected: 3, matchHint: 0)
        #expect(!stale, "stale: below match")
        let fresh = pr.maybeDecrTo(rejected: 9, matchHint: 0)
        #expect(fresh)
        #expect(pr.next == 5)
    }

    @Test func rejectionInProbeUsesHint() {
        let pr = Progress(next: 11, maxInflight: 8, isLearner: false, recentActive: true)
        pr.sentEntries(last: 12)
        let stale = pr.maybeDecrTo(rejected: 7, matchHint: 3)
        #expect(!stale, "stale: not the last probe")
        let fresh = pr.maybeDecrTo(rejected: 10, matchHint: 3)
        #expect(fresh)
        #expect(pr.next == 4)
        #expect(!pr.isPaused)
    }

    @Test func inflightsRingWraps() {
        var inflights = Inflights(capacity: 3)
        for i in 1...3 as ClosedRange<UInt64> { inflights.add(i) }
        #expect(inflights.isFull)
        inflights.freeLE(2)
        inflights.add(4)
        inflights.add(5)
        #expect(inflights.isFull)
        inflights.freeFirstOne()
        #expect(inflights.count == 2)
        inflights.freeLE(5)
        #expect(inflights.count == 0)
    }

    @Test func quorumArithmetic() {
        let match: [NodeID: UInt64] = [1: 5, 2: 3, 3: 9, 4: 1]
        #expect(Quorum.committedIndex(voters: [1, 2, 3]) { match[$0] ?? 0 } == 5)
        #expect(Quorum.committedIndex(voters: [1, 2, 3, 4]) { match[$0] ?? 0 } == 3)
        #expect(Quorum.committedIndex(voters: [1]) { match[$0] ?? 0 } == 5)
        #expect(Quorum.voteResult(voters: [1, 2, 3], votes: [1: true, 2: true]) == .won)
        #expect(Quorum.voteResult(voters: [1, 2, 3], votes: [1: true, 2: false]) == .pending)
        #expect(Quorum.voteResult(voters: [1, 2, 3], votes: [1: true, 2: false, 3: false]) == .lost)
        #expect(Quorum.voteResult(voters: [1, 2, 3, 4], votes: [1: true, 2: true]) == .pending)
        #expect(Quorum.voteResult(voters: [1, 2, 3], votes: [7: true, 8: true, 1: true]) == .pending, "non-voters do not count")
    }
}

/// The Ready contract.
@Suite struct ReadyTests {
    /// Step 1 of the contract, done by hand.
    func persist(_ node: TestNode, _ rd: Ready) {
        if let snapshot = rd.snapshot { try! node.storage.applySnapshot(snapshot) }
        try! node.storage.append(rd.entries)
        if let hs = rd.hardState { node.storage.setHardState(hs) }
    }

    @Test func hardStateOnlyWhenChangedAndSyncOnlyWhenNeeded() throws {
        let node = TestNode(id: 1, storage: MemoryStorage(bootstrapVoters: [1]))
        var rd = node.raft.ready()
        #expect(rd.hardState == nil, "the persisted hard state is not handed out again")
        #expect(rd.committedEntries.count == 1)
        persist(node, rd)
        node.raft.advance(rd)
        node.raft.campaign()
        rd = node.raft.ready()
        #expect(rd.hardState?.term == 2)
        #expect(rd.hardState?.vote == 1)
        #expect(rd.mustSync)
        #expect(rd.softState == SoftState(leader: 1, role: .leader))
        #expect(rd.entries.count == 1)
        persist(node, rd)
        node.raft.advance(rd)
        #expect(!node.raft.hasReady)
    }

    @Test func noReadyWhileOneIsOutstanding() throws {
        let node = TestNode(id: 1, storage: MemoryStorage(bootstrapVoters: [1]))
        let rd = node.raft.ready()
        node.raft.campaign()
        #expect(!node.raft.hasReady)
        persist(node, rd)
        node.raft.advance(rd)
        #expect(node.raft.hasReady)
    }

    @Test func commitOnlyChangeNeedsNoSync() throws {
        let net = TestNetwork(voters: [1, 2])
        net.campaign(1)
        // 2 gets the entry but not the news that it committed.
        net.filter = { !($0.to == 2 && ($0.type == .heartbeat || ($0.type == .app && $0.entries.isEmpty))) }
        try net.propose(1, 1)
        let commit = net[1].commit
        #expect(net[2].commit < commit)
        try net[2].raft.step(Message(type: .heartbeat, to: 2, from: 1, term: net[1].term, commit: commit))
        let rd = net[2].raft.ready()
        #expect(rd.hardState?.commit == commit)
        #expect(rd.entries.isEmpty)
        #expect(!rd.mustSync, "a commit index alone can be recovered from the leader")
        persist(net[2], rd)
        net[2].raft.advance(rd)
    }

    @Test func localMessagesAreRefusedFromTheNetwork() {
        let node = TestNode(id: 1, storage: MemoryStorage(bootstrapVoters: [1, 2]))
        #expect(throws: RaftError.stepLocalMessage) { try node.raft.step(Message(type: .hup, from: 2)) }
        #expect(throws: RaftError.stepLocalMessage) { try node.raft.step(Message(type: .snapStatus, from: 2)) }
    }

    @Test func invalidConfigIsRejected() {
        #expect(throws: RaftError.self) { try RaftNode(config: RaftConfig(id: 0), storage: MemoryStorage()) }
        var c = RaftConfig(id: 1)
        c.electionTick = 1
        #expect(throws: RaftError.self) { try RaftNode(config: c, storage: MemoryStorage()) }
    }
}
