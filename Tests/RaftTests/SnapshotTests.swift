import Testing
@testable import Raft

/// Log compaction and InstallSnapshot (thesis §5.1, paper §7).
@Suite struct SnapshotTests {
    /// A 3-node cluster where 3 misses 20 entries that the leader then compacts away.
    func laggingFollower() throws -> TestNetwork {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        net.isolated = [3]
        for n in 1...20 as ClosedRange<UInt64> { try net.propose(1, n) }
        net[1].snapshotAndCompact(keep: 2)
        #expect(try net[1].storage.firstIndex() > net[3].status.lastIndex + 1)
        return net
    }

    @Test func followerBehindCompactionReceivesSnapshot() throws {
        let net = try laggingFollower()
        net.isolated = []
        net.sent = []
        net.tick([1], count: 1)
        #expect(net.sent.contains { $0.type == .snap && $0.to == 3 })
        #expect(net[3].values == (1...20).map { value($0) })
        #expect(try net[3].storage.snapshot().metadata.index == (try net[1].storage.snapshot().metadata.index))
        // Replication continues normally afterwards.
        try net.propose(1, 21)
        #expect(net[3].values.count == 21)
        #expect(net[1].status.progress[3]?.state == .replicate)
    }

    @Test func failedSnapshotIsRetried() throws {
        let net = try laggingFollower()
        net.isolated = []
        var dropped = 0
        net.filter = { m in
            if m.type == .snap && dropped == 0 { dropped += 1; return false }
            return true
        }
        net.tick([1], count: 1)
        #expect(dropped == 1)
        #expect(net[1].status.progress[3]?.state == .probe, "a failed snapshot (reported by the transport) returns to probing")
        net.tick([1], count: 2)
        #expect(net[3].values == (1...20).map { value($0) })
    }

    @Test func snapshotNotSentToInactiveFollower() throws {
        let net = try laggingFollower()
        // 3 is still cut off: nothing answers, so the leader must not keep shipping snapshots.
        net.sent = []
        net.tick([1, 2], count: 25)
        #expect(net.sent.filter { $0.type == .snap }.count <= 1)
    }

    @Test func snapshotAlreadyCoveredOnlyAdvancesCommit() throws {
        let net = TestNetwork(voters: [1, 2])
        net.campaign(1)
        for n in 1...5 as ClosedRange<UInt64> { try net.propose(1, n) }
        let snapshot = try net[1].storage.createSnapshot(index: net[1].appliedIndex, confState: net[1].appliedConf, data: TestNode.encode(net[1].values))
        try net[2].raft.step(Message(type: .snap, to: 2, from: 1, term: net[1].term, snapshot: snapshot))
        let rd = net[2].raft.ready()
        #expect(rd.snapshot == nil, "the follower has every entry of the snapshot; nothing to install")
        net[2].raft.advance(rd)
    }

    @Test func restartFromSnapshotAndLog() throws {
        let net = TestNetwork(voters: [1, 2, 3])
        net.campaign(1)
        for n in 1...10 as ClosedRange<UInt64> { try net.propose(1, n) }
        net[2].snapshotAndCompact(keep: 3)
        for n in 11...15 as ClosedRange<UInt64> { try net.propose(1, n) }
        net[2].restart()
        net.stabilize()
        // The state machine comes back from the snapshot, then the entries after it are re-applied.
        #expect(net[2].values == (1...15).map { value($0) })
        #expect(net[2].status.confState == ConfState(voters: [1, 2, 3]))
        net.tick(count: 3)
        try net.propose(1, 16)
        #expect(net[2].values.count == 16)
    }
}

/// ``MemoryStorage``, the reference storage.
@Suite struct MemoryStorageTests {
    func storage(_ terms: [UInt64]) throws -> MemoryStorage {
        let s = MemoryStorage()
        try s.append(terms.enumerated().map { Entry(term: $0.element, index: UInt64($0.offset + 1)) })
        return s
    }

    @Test func appendReplacesConflictingSuffix() throws {
        let s = try storage([1, 1, 2, 2])
        try s.append([Entry(term: 3, index: 3)])
        #expect(try s.lastIndex() == 3)
        #expect(try s.term(of: 3) == 3)
        #expect(try s.term(of: 2) == 1)
    }

    @Test func appendRejectsGap() throws {
        let s = try storage([1, 1])
        #expect(throws: StorageError.unavailable) { try s.append([Entry(term: 1, index: 5)]) }
    }

    @Test func entriesRespectsMaxSizeButReturnsOne() throws {
        let s = MemoryStorage()
        try s.append((1...5).map { Entry(term: 1, index: $0, data: [UInt8](repeating: 0, count: 100)) })
        #expect(try s.entries(1, 6, maxSize: 0).count == 1)
        #expect(try s.entries(1, 6, maxSize: 250).count == 2)
        #expect(try s.entries(1, 6, maxSize: .max).count == 5)
    }

    @Test func compactKeepsTermOfCompactionPoint() throws {
        let s = try storage([1, 1, 2, 2, 3])
        try s.createSnapshot(index: 4, confState: ConfState(voters: [1]), data: [9])
        try s.compact(upTo: 3)
        #expect(try s.firstIndex() == 4)
        #expect(try s.term(of: 3) == 2)
        #expect(throws: StorageError.compacted) { try s.term(of: 2) }
        #expect(throws: StorageError.compacted) { try s.entries(3, 5, maxSize: .max) }
        #expect(try s.entries(4, 6, maxSize: .max).map(\.term) == [2, 3])
        #expect(throws: StorageError.unavailable) { try s.term(of: 6) }
    }

    @Test func applySnapshotReplacesLog() throws {
        let s = try storage([1, 1, 2])
        let snap = Snapshot(metadata: SnapshotMetadata(index: 10, term: 4, confState: ConfState(voters: [1, 2])), data: [1])
        try s.applySnapshot(snap)
        #expect(try s.firstIndex() == 11)
        #expect(try s.lastIndex() == 10)
        #expect(try s.term(of: 10) == 4)
        #expect(try s.initialState().confState == ConfState(voters: [1, 2]))
        #expect(throws: StorageError.snapshotOutOfDate) {
            try s.applySnapshot(Snapshot(metadata: SnapshotMetadata(index: 5, term: 4)))
        }
    }

    @Test func bootstrapHoldsInitialMembers() throws {
        let s = MemoryStorage(bootstrapVoters: [3, 1, 2], learners: [4])
        #expect(try s.lastIndex() == 4)
        #expect(s.hardState == HardState(term: 1, vote: 0, commit: 4))
        let changes = try s.entries(1, 5, maxSize: .max).compactMap { ConfChange(encoded: $0.data) }
        #expect(changes.map(\.nodeID) == [1, 2, 3, 4])
        #expect(changes.last?.type == .addLearnerNode)
    }
}
