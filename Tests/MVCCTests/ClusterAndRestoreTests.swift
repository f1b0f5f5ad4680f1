import Foundation
import LMDB
@testable import MVCC
import Testing

/// Cluster records, restoring a store from another member's snapshot, and lessor promotion.
@Suite struct ClusterAndRestoreTests {
    /// The cluster records of a store as "key=value" strings.
    static func records(_ t: TestStore) throws -> [String] {
        try t.store.clusterRecords().map { s($0.key) + "=" + s($0.value) }
    }

    /// Writes a snapshot of `t` (as a member sends it) to a file in its directory.
    static func snapshot(of t: TestStore) throws -> String {
        let path = t.dir.path + "/snapshot.mdb"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try t.store.copy(toDescriptor: handle.fileDescriptor)
        try handle.close()
        return path
    }

    /// Every key, at `revision` (0: current).
    static func all(_ t: TestStore, revision: Int64 = 0) throws -> RangeResult {
        var request = RangeRequest(key: [0], rangeEnd: [0])
        request.revision = revision
        return try t.store.range(request)
    }

    static let longKey = [UInt8](repeating: UInt8(ascii: "k"), count: 600)

    /// A store with history, a compaction, leases with keys (one long), and cluster records:
    /// revision 10, compacted at 5.
    static func leader() throws -> TestStore {
        let t = try TestStore()
        try t.grant(1, ttl: 30)
        try t.grant(2, ttl: 60)
        try t.put("a", "1")                       // 2
        try t.put("b", "1", lease: 1)             // 3
        try t.put(longKey, b("long"), lease: 2)   // 4
        try t.put("c", "1")                       // 5
        try t.delete("a")                         // 6
        try t.put("b", "2", lease: 1)             // 7
        try t.apply(.compact(revision: 5))
        try t.put("d", "1")                       // 8
        try t.delete("c")                         // 9
        try t.apply(.clusterRecord(key: b("member/1"), value: b(#"{"id":1}"#)))
        try t.apply(.clusterRecord(key: b("member/2"), value: b(#"{"id":2}"#)))
        try t.put("e", "1", lease: 2)             // 10
        #expect(t.revision == 10)
        return t
    }

    @Test func clusterRecordsAreAppliedWithTheIndexAndSurviveReopen() throws {
        let t = try TestStore()
        try t.put("k", "1")  // 2
        let hash = try t.store.hashKV(revision: 0)
        #expect(try t.apply(.clusterRecord(key: b("member/2"), value: b("two"))) == .noop(revision: 2))
        #expect(try t.apply(.clusterRecord(key: b("member/1"), value: b("one"))) == .noop(revision: 2))
        #expect(try t.apply(.clusterRecord(key: b("member/1"), value: b("uno"))) == .noop(revision: 2))
        #expect(t.revision == 2)
        #expect(try Self.records(t) == ["member/1=uno", "member/2=two"])
        // Cluster records are not part of the key space's hash.
        #expect(try t.store.hashKV(revision: 0) == hash)
        // A nil value deletes; deleting a missing record changes nothing.
        #expect(try t.apply(.clusterRecord(key: b("member/2"), value: nil)) == .noop(revision: 2))
        #expect(try t.apply(.clusterRecord(key: b("member/3"), value: nil)) == .noop(revision: 2))
        #expect(try Self.records(t) == ["member/1=uno"])
        // In one batch with a put.
        let put = MVCC.Operation.txn(TxnRequest(success: [.put(PutRequest(key: b("k"), value: b("2")))]))
        let results = try t.store.apply([(t.index + 1, .clusterRecord(key: b("member/4"), value: b("four"))), (t.index + 2, put)])
        t.index += 2
        #expect(results.first == .noop(revision: 2))
        #expect(t.revision == 3)
        #expect(t.store.consistentIndex == t.index)

        try t.reopen()
        #expect(try Self.records(t) == ["member/1=uno", "member/4=four"])
        // Entries at or below the consistent index (a replay after a restart) are not applied again.
        let replay = try t.store.apply([
            (t.index - 1, .clusterRecord(key: b("member/1"), value: nil)),
            (t.index, .clusterRecord(key: b("member/5"), value: b("five"))),
        ])
        #expect(replay == [nil, nil])
        #expect(try Self.records(t) == ["member/1=uno", "member/4=four"])
    }

    @Test func filesWithoutTheClusterDatabase() throws {
        // A file of the previous version: every database but "cluster", and an applied index.
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.path + "/old.mdb"
        do {
            let env = try Environment(path: path)
            for name in ["history", "longkeys", "leases"] { _ = try env.openDatabase(name) }
            for name in ["index", "leasekeys"] { _ = try env.openDatabase(name, dupSort: true) }
            let meta = try env.openDatabase("meta")
            var index = [UInt8]()
            index.appendBigEndian(UInt64(5))
            try env.write { txn in try txn.put(meta, MetaKey.consistentIndex, index) }
        }
        // Restoring from it (a snapshot of the previous version) empties the cluster records.
        let t = try TestStore()
        try t.apply(.clusterRecord(key: b("member/1"), value: b("one")))
        try t.put("a", "1")
        try t.store.restore(fromSnapshotAt: path)
        #expect(try Self.records(t) == [])
        #expect(try Self.all(t).kvs == [])
        #expect(t.store.consistentIndex == 5)
        #expect(t.revision == 1)
        // Opening it adds the database.
        let store = try MVCCStore(path: path)
        #expect(store.consistentIndex == 5)
        #expect(try store.clusterRecords().isEmpty)
        #expect(try store.apply([(6, .clusterRecord(key: b("member/1"), value: b("one")))]) == [.noop(revision: 1)])
        #expect(try store.clusterRecords().map(\.key) == [b("member/1")])
    }

    @Test func restoreReplacesEverythingAndWatchersCatchUp() async throws {
        let leader = try Self.leader()
        let path = try Self.snapshot(of: leader)

        let follower = try TestStore()
        try follower.grant(9)
        try follower.put("a", "old", lease: 9)    // 2
        try follower.put("x", "1")                // 3
        try follower.put("y", "1")                // 4
        try follower.put("z", "1")                // 5
        try follower.put("x", "2")                // 6
        try follower.apply(.clusterRecord(key: b("member/9"), value: b("nine")))
        // Synced watchers at revision 6: one on every key, one on "b" with previous values.
        let everything = follower.store.openWatchStream()
        defer { everything.close() }
        let all = try everything.create(WatchRequest(key: [0], rangeEnd: [0]))
        #expect(await take(everything) == .created(watchID: all, revision: 6))
        let onB = follower.store.openWatchStream()
        defer { onB.close() }
        var request = WatchRequest(key: b("b"))
        request.prevKV = true
        let bID = try onB.create(request)
        #expect(await take(onB) == .created(watchID: bID, revision: 6))
        expectIdle(everything)

        try follower.store.restore(fromSnapshotAt: path)
        #expect(!FileManager.default.fileExists(atPath: path + "-lock"))  // read without a lock file
        follower.index = follower.store.consistentIndex
        #expect(follower.revision == 10)
        #expect(follower.store.compactRevision == 5)
        #expect(follower.store.consistentIndex == leader.store.consistentIndex)
        #expect(follower.store.watchHub.revision == 10)
        #expect(try Self.all(follower) == Self.all(leader))
        #expect(try Self.all(follower).kvs.map(\.key) == [b("b"), b("d"), b("e"), Self.longKey])
        #expect(try Self.all(follower, revision: 6) == Self.all(leader, revision: 6))
        #expect(throws: MVCCError.compacted) { try Self.all(follower, revision: 4) }
        #expect(try follower.store.hashKV(revision: 0) == leader.store.hashKV(revision: 0))
        #expect(try follower.store.keys(ofLease: 1) == [b("b")])
        #expect(try follower.store.keys(ofLease: 2) == [b("e"), Self.longKey])
        #expect(try follower.store.keys(ofLease: 9) == nil)
        #expect(Set(follower.store.lessor.ids()) == [1, 2])
        #expect(follower.store.lessor.timeToLive(2)?.granted == 60)
        #expect(try Self.records(follower) == [#"member/1={"id":1}"#, #"member/2={"id":2}"#])

        // The watchers receive revisions 7...10 from the snapshot's history.
        let events = await takeEvents(everything, watchID: all, count: 4)
        #expect(events.map(\.kind) == [.put, .put, .delete, .put])
        #expect(events.map { s($0.kv.key) } == ["b", "d", "c", "e"])
        #expect(events.map(\.kv.modRevision) == [7, 8, 9, 10])
        let b1 = KeyValue(key: b("b"), createRevision: 3, modRevision: 3, version: 1, value: b("1"), lease: 1)
        let b2 = KeyValue(key: b("b"), createRevision: 3, modRevision: 7, version: 2, value: b("2"), lease: 1)
        #expect(await takeEvents(onB, watchID: bID, count: 1) == [Event(kind: .put, kv: b2, prevKV: b1)])
        expectIdle(everything)
        expectIdle(onB)

        // Then live events, and the store goes on from the snapshot's revision and index.
        try follower.put("b", "3")                // 11
        let b3 = KeyValue(key: b("b"), createRevision: 3, modRevision: 11, version: 3, value: b("3"))
        #expect(await take(everything) == .events(watchID: all, events: [Event(kind: .put, kv: b3, prevKV: nil)], revision: 11))
        #expect(await take(onB) == .events(watchID: bID, events: [Event(kind: .put, kv: b3, prevKV: b2)], revision: 11))
        #expect(try follower.store.keys(ofLease: 1) == [])
        try follower.apply(.leaseRevoke(id: 2))   // 12: deletes e and the long key
        #expect(try Self.all(follower).kvs.map(\.key) == [b("b"), b("d")])

        // The restored file reopens as it is.
        everything.close()
        onB.close()
        try follower.reopen()
        #expect(follower.revision == 12)
        #expect(follower.store.compactRevision == 5)
        #expect(try Self.records(follower) == [#"member/1={"id":1}"#, #"member/2={"id":2}"#])
        #expect(follower.store.lessor.ids() == [1])
    }

    @Test func restoreTellsAWatcherBehindTheCompaction() async throws {
        let leader = try Self.leader()
        let follower = try TestStore()
        try follower.put("x", "1")  // 2
        let stream = follower.store.openWatchStream()
        defer { stream.close() }
        let id = try stream.create(WatchRequest(key: [0], rangeEnd: [0]))
        #expect(await take(stream) == .created(watchID: id, revision: 2))
        // The watcher needs revision 3; the snapshot is compacted at 5.
        try follower.store.restore(fromSnapshotAt: try Self.snapshot(of: leader))
        #expect(await take(stream) == .compacted(watchID: id, compactRevision: 5, revision: 10))
        expectIdle(stream)
    }

    @Test func restoreOfAnOlderSnapshot() throws {
        // Never done by a follower, but it must leave a consistent store.
        let leader = try Self.leader()
        let follower = try TestStore()
        for i in 0..<12 { try follower.put("k\(i)", "v") }  // 2...13
        let stream = follower.store.openWatchStream()
        defer { stream.close() }
        _ = try stream.create(WatchRequest(key: [0], rangeEnd: [0]))
        try follower.store.restore(fromSnapshotAt: try Self.snapshot(of: leader))
        follower.index = follower.store.consistentIndex
        #expect(follower.revision == 10)
        #expect(try Self.all(follower) == Self.all(leader))
        #expect(try follower.put("f", "1")?.revision == 11)
    }

    @Test func promoteRestartsEveryLeaseWithAnExtension() {
        let lessor = Lessor(leases: [Lease(id: 1, ttl: 10), Lease(id: 2, ttl: 100)])
        let start = ContinuousClock.now
        #expect(lessor.expired(now: start + .seconds(50)) == [1])
        lessor.promote(extend: .seconds(5), now: start + .seconds(50))
        #expect(lessor.expired(now: start + .seconds(64)) == [])
        #expect(lessor.expired(now: start + .seconds(65)) == [1])
        #expect(lessor.expired(now: start + .seconds(155)) == [1, 2])
        #expect(lessor.timeToLive(1, now: start + .seconds(50))?.remaining == 15)
        #expect(lessor.timeToLive(2, now: start + .seconds(50))?.remaining == 105)
        #expect(lessor.timeToLive(2, now: start + .seconds(50))?.granted == 100)
    }
}
