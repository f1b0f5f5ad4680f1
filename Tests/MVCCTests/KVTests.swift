@testable import MVCC
import Testing

@Suite struct KVTests {
    @Test func emptyStoreIsAtRevisionOne() throws {
        let t = try TestStore()
        #expect(t.revision == 1)
        // As etcd: never compacted is -1, so compacting at 0 succeeds once.
        #expect(t.store.compactRevision == -1)
        #expect(t.store.consistentIndex == 0)
        let all = try t.store.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(all.kvs.isEmpty)
        #expect(all.count == 0)
        #expect(all.more == false)
        #expect(all.revision == 1)
        #expect(try t.get("a") == nil)
    }

    @Test func eachPutAddsOneRevision() throws {
        let t = try TestStore()
        let first = try t.put("a", "1")
        #expect(first?.revision == 2)
        #expect(first?.prevKV == nil)
        #expect(t.revision == 2)
        #expect(try t.put("b", "2")?.revision == 3)
        // Overwrite without prev_kv: no previous returned.
        let second = try t.put("a", "3")
        #expect(second?.revision == 4)
        #expect(second?.prevKV == nil)
        #expect(t.revision == 4)
        #expect(try t.get("a") == KeyValue(key: b("a"), createRevision: 2, modRevision: 4, version: 2, value: b("3")))
        #expect(try t.get("b") == KeyValue(key: b("b"), createRevision: 3, modRevision: 3, version: 1, value: b("2")))
        // prev_kv returns the state before the put.
        let third = try t.put("a", "4", prevKV: true)
        #expect(third?.revision == 5)
        #expect(third?.prevKV == KeyValue(key: b("a"), createRevision: 2, modRevision: 4, version: 2, value: b("3")))
        // prev_kv of a new key is nil.
        #expect(try t.put("c", "x", prevKV: true)?.prevKV == nil)
        // An empty value is a value.
        try t.put("empty", "")
        #expect(try t.get("empty")?.value == [])
        #expect(try t.get("empty")?.version == 1)
    }

    @Test func deleteSemantics() throws {
        let t = try TestStore()
        try t.put("a", "1")   // 2
        try t.put("b", "2")   // 3
        try t.put("a", "3")   // 4
        // Deleting a missing key changes nothing, not even the revision.
        let missing = try t.delete("nope", prevKV: true)
        #expect(missing?.deleted == 0)
        #expect(missing?.prevKVs == [])
        #expect(missing?.revision == 4)
        #expect(t.revision == 4)
        let missingRange = try t.delete("x", "z")
        #expect(missingRange?.deleted == 0)
        #expect(t.revision == 4)

        let deleted = try t.delete("a", prevKV: true)
        #expect(deleted?.deleted == 1)
        #expect(deleted?.revision == 5)
        #expect(deleted?.prevKVs == [KeyValue(key: b("a"), createRevision: 2, modRevision: 4, version: 2, value: b("3"))])
        #expect(t.revision == 5)
        #expect(try t.get("a") == nil)
        // Deleting it again is a no-op.
        #expect(try t.delete("a")?.deleted == 0)
        #expect(t.revision == 5)
        // Re-creating starts a new generation: version 1, new create revision.
        try t.put("a", "again")  // 6
        #expect(try t.get("a") == KeyValue(key: b("a"), createRevision: 6, modRevision: 6, version: 1, value: b("again")))
        // Without prev_kv no previous values are returned.
        let plain = try t.delete("a")
        #expect(plain?.deleted == 1)
        #expect(plain?.prevKVs == [])
        #expect(t.revision == 7)
    }

    @Test func deleteRangeIsOneRevision() throws {
        let t = try TestStore()
        for k in ["p/a", "p/b", "p/c", "q"] { try t.put(k, k) }  // 2...5
        let deleted = try t.delete("p/", s(prefixEnd(b("p/"))), prevKV: true)
        #expect(deleted?.deleted == 3)
        #expect(deleted?.revision == 6)
        #expect(deleted?.prevKVs.map { s($0.key) } == ["p/a", "p/b", "p/c"])
        #expect(t.revision == 6)
        #expect(try t.keys("p", "r") == ["q"])
        // From-key delete.
        try t.put("r", "r")  // 7
        #expect(try t.delete("q", "\u{0}")?.deleted == 2)
        #expect(t.revision == 8)
        #expect(try t.store.range(RangeRequest(key: [0], rangeEnd: [0])).count == 0)
    }

    /// Data set checked against etcd 3.4.23: puts a=1, b=22, c=3, a=11, a=111, d=0 (revisions 2...7).
    private func etcdDataSet() throws -> TestStore {
        let t = try TestStore()
        for (k, v) in [("a", "1"), ("b", "22"), ("c", "3"), ("a", "11"), ("a", "111"), ("d", "0")] { try t.put(k, v) }
        #expect(t.revision == 7)
        return t
    }

    @Test func rangeBounds() throws {
        let t = try etcdDataSet()
        try t.put("ab", "x")   // 8
        try t.put("b\u{0}", "y") // 9
        // Single key.
        #expect(try t.keys("a", "") == ["a"])
        // Prefix.
        #expect(try t.keys("a", s(prefixEnd(b("a")))) == ["a", "ab"])
        // Half-open [key, rangeEnd).
        #expect(try t.keys("a", "c") == ["a", "ab", "b", "b\u{0}"])
        #expect(try t.keys("ab", "b\u{0}") == ["ab", "b"])
        // From key: rangeEnd [0].
        #expect(try t.keys("b", "\u{0}") == ["b", "b\u{0}", "c", "d"])
        // Everything: key [0], rangeEnd [0].
        let all = try t.store.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(all.kvs.map { s($0.key) } == ["a", "ab", "b", "b\u{0}", "c", "d"])
        #expect(all.count == 6)
        #expect(all.revision == 9)
        // rangeEnd <= key: nothing.
        #expect(try t.keys("c", "a") == [])
        #expect(try t.keys("c", "c") == [])
        // Missing single key.
        #expect(try t.keys("zz", "") == [])
        // Values and metadata.
        let a = try t.get("a")
        #expect(a == KeyValue(key: b("a"), createRevision: 2, modRevision: 6, version: 3, value: b("111")))
    }

    /// A limit of Int64.max once overflowed `limit + 1` and trapped the member (on every member, inside
    /// a txn, since the txn was committed first). etcd's wraps to "no limit", and a negative limit is no
    /// limit either.
    @Test func extremeLimitsReadEveryKey() throws {
        let t = try etcdDataSet()
        for limit in [Int64.max, Int64.max - 1, -1, Int64.min] {
            var request = RangeRequest(key: b("a"), rangeEnd: b("z"))
            request.limit = limit
            let result = try t.store.range(request)
            #expect(result.kvs.map { s($0.key) } == ["a", "b", "c", "d"], "limit \(limit)")
            #expect(result.more == false, "limit \(limit)")
            #expect(result.count == 4, "limit \(limit)")
        }
    }

    @Test func limitMoreAndCount() throws {
        let t = try etcdDataSet()
        var request = RangeRequest(key: b("a"), rangeEnd: b("z"))
        request.limit = 2
        var result = try t.store.range(request)
        #expect(result.kvs.map { s($0.key) } == ["a", "b"])
        #expect(result.more == true)
        #expect(result.count == 4)
        request.limit = 4
        result = try t.store.range(request)
        #expect(result.kvs.count == 4)
        #expect(result.more == false)
        #expect(result.count == 4)
        request.limit = 3
        result = try t.store.range(request)
        #expect(result.kvs.map { s($0.key) } == ["a", "b", "c"])
        #expect(result.more == true)
        request.limit = 100
        result = try t.store.range(request)
        #expect(result.kvs.count == 4)
        #expect(result.more == false)
        // count_only with a limit: count of all, no kvs, more false (as etcd 3.4.23).
        request.limit = 1
        request.countOnly = true
        result = try t.store.range(request)
        #expect(result.kvs.isEmpty)
        #expect(result.count == 4)
        #expect(result.more == false)
        // keys_only with a limit: metadata kept, values dropped.
        request.countOnly = false
        request.keysOnly = true
        request.limit = 2
        result = try t.store.range(request)
        #expect(result.kvs == [
            KeyValue(key: b("a"), createRevision: 2, modRevision: 6, version: 3, value: []),
            KeyValue(key: b("b"), createRevision: 3, modRevision: 3, version: 1, value: []),
        ])
        #expect(result.more == true)
        #expect(result.count == 4)
    }

    @Test func sortOrdersAndTargets() throws {
        let t = try etcdDataSet()
        func sorted(_ order: RangeRequest.SortOrder, _ target: RangeRequest.SortTarget, limit: Int64 = 0) throws -> ([String], Bool, Int64) {
            var request = RangeRequest(key: b("a"), rangeEnd: b("z"))
            request.sortOrder = order
            request.sortTarget = target
            request.limit = limit
            let result = try t.store.range(request)
            return (result.kvs.map { s($0.key) }, result.more, result.count)
        }
        // a: create 2 mod 6 ver 3 "111"; b: 3/3/1 "22"; c: 4/4/1 "3"; d: 7/7/1 "0".
        #expect(try sorted(.ascend, .key).0 == ["a", "b", "c", "d"])
        #expect(try sorted(.descend, .key).0 == ["d", "c", "b", "a"])
        #expect(try sorted(.descend, .key, limit: 2) == (["d", "c"], true, 4))
        #expect(try sorted(.ascend, .create).0 == ["a", "b", "c", "d"])
        #expect(try sorted(.descend, .create).0 == ["d", "c", "b", "a"])
        #expect(try sorted(.ascend, .mod).0 == ["b", "c", "a", "d"])
        #expect(try sorted(.descend, .mod).0 == ["d", "a", "c", "b"])
        #expect(try sorted(.descend, .mod, limit: 1) == (["d"], true, 4))
        #expect(try sorted(.ascend, .value).0 == ["d", "a", "b", "c"])  // "0" < "111" < "22" < "3"
        #expect(try sorted(.descend, .value).0 == ["c", "b", "a", "d"])
        // etcd 3.4.23: --sort-by=VALUE --order=DESCEND --limit=2 gives c, b; more; count 4.
        #expect(try sorted(.descend, .value, limit: 2) == (["c", "b"], true, 4))
        #expect(try sorted(.descend, .version).0.first == "a")
        #expect(try sorted(.ascend, .version).0.last == "a")
        // etcd 3.4.23: --sort-by=VERSION with no order and --limit=2 gives b, c (the limit is applied
        // to key order first, then the page of limit+1 is sorted ascending by version).
        #expect(try sorted(.none, .version, limit: 2) == (["b", "c"], true, 4))
        // No order and target key: key order.
        #expect(try sorted(.none, .key).0 == ["a", "b", "c", "d"])
    }

    @Test func modAndCreateRevisionFilters() throws {
        let t = try etcdDataSet()
        func filtered(_ configure: (inout RangeRequest) -> Void) throws -> ([String], Bool, Int64) {
            var request = RangeRequest(key: b("a"), rangeEnd: b("z"))
            configure(&request)
            let result = try t.store.range(request)
            return (result.kvs.map { s($0.key) }, result.more, result.count)
        }
        // Checked against etcd 3.4.23: count is of the whole range, before the filters.
        #expect(try filtered { $0.minModRevision = 4 } == (["a", "c", "d"], false, 4))
        #expect(try filtered { $0.minModRevision = 4; $0.limit = 1 } == (["a"], true, 4))
        #expect(try filtered { $0.maxCreateRevision = 3; $0.limit = 1 } == (["a"], true, 4))
        #expect(try filtered { $0.maxModRevision = 4 } == (["b", "c"], false, 4))
        #expect(try filtered { $0.minModRevision = 4; $0.maxModRevision = 6 } == (["a", "c"], false, 4))
        #expect(try filtered { $0.minCreateRevision = 4 } == (["c", "d"], false, 4))
        #expect(try filtered { $0.maxCreateRevision = 3 } == (["a", "b"], false, 4))
        #expect(try filtered { $0.minCreateRevision = 3; $0.maxCreateRevision = 4 } == (["b", "c"], false, 4))
        #expect(try filtered { $0.minModRevision = 100 } == ([], false, 4))
        // Filters then sort then limit.
        #expect(try filtered { $0.minCreateRevision = 3; $0.sortOrder = .descend; $0.limit = 2 } == (["d", "c"], true, 4))
    }

    @Test func readingAtOldRevisions() throws {
        let t = try etcdDataSet()
        try t.delete("b")  // 8
        #expect(try t.get("a", revision: 2) == KeyValue(key: b("a"), createRevision: 2, modRevision: 2, version: 1, value: b("1")))
        #expect(try t.get("a", revision: 5)?.value == b("11"))
        #expect(try t.get("a", revision: 5)?.version == 2)
        #expect(try t.get("a", revision: 6)?.value == b("111"))
        #expect(try t.get("a", revision: 1) == nil)
        #expect(try t.get("b", revision: 7)?.value == b("22"))
        #expect(try t.get("b", revision: 8) == nil)
        #expect(try t.get("b") == nil)
        // etcd 3.4.23: range a..z at revision 3 gives a(2) and b(3), count 2.
        var request = RangeRequest(key: b("a"), rangeEnd: b("z"))
        request.revision = 3
        let result = try t.store.range(request)
        #expect(result.kvs.map { s($0.key) } == ["a", "b"])
        #expect(result.count == 2)
        // etcd reports the store's revision (8 here), not the revision read at.
        #expect(result.revision == 8)
        // The current revision is readable explicitly.
        request.revision = 8
        #expect(try t.store.range(request).kvs.map { s($0.key) } == ["a", "c", "d"])
        // A future revision is an error.
        request.revision = 9
        #expect(throws: MVCCError.futureRevision) { try t.store.range(request) }
    }

    @Test func compaction() throws {
        let t = try TestStore()
        try t.put("a", "1")     // 2
        try t.put("b", "1")     // 3
        try t.put("a", "2")     // 4
        try t.delete("b")       // 5
        try t.put("c", "1")     // 6
        try t.put("a", "3")     // 7
        try t.put("c", "2")     // 8
        #expect(t.revision == 8)

        // Compacting in the future fails and changes nothing.
        #expect(try t.apply(.compact(revision: 9)) == .failure(.futureRevision))
        #expect(t.store.compactRevision == -1)

        let result = try t.apply(.compact(revision: 6))
        #expect(result == .compact(revision: 8))  // compaction does not add a revision
        #expect(t.revision == 8)
        #expect(t.store.compactRevision == 6)

        // Below the compact revision: compacted. At it: readable.
        var request = RangeRequest(key: [0], rangeEnd: [0])
        request.revision = 5
        #expect(throws: MVCCError.compacted) { try t.store.range(request) }
        request.revision = 1
        #expect(throws: MVCCError.compacted) { try t.store.range(request) }
        request.revision = 6
        let atCompact = try t.store.range(request)
        #expect(atCompact.kvs == [
            KeyValue(key: b("a"), createRevision: 2, modRevision: 4, version: 2, value: b("2")),
            KeyValue(key: b("c"), createRevision: 6, modRevision: 6, version: 1, value: b("1")),
        ])
        // History above the compact revision stays.
        #expect(try t.get("a", revision: 7)?.value == b("3"))
        #expect(try t.get("a", revision: 7)?.version == 3)
        #expect(try t.get("c", revision: 7)?.value == b("1"))
        #expect(try t.get("c")?.value == b("2"))
        #expect(try t.get("c")?.version == 2)
        // b was deleted before the compaction: gone at every readable revision.
        #expect(try t.get("b", revision: 6) == nil)
        #expect(try t.get("b") == nil)
        // Compacting at or below the compact revision again: compacted.
        #expect(try t.apply(.compact(revision: 6)) == .failure(.compacted))
        #expect(try t.apply(.compact(revision: 3)) == .failure(.compacted))
        #expect(t.store.compactRevision == 6)

        // Old revisions are really gone from the files: only live or newer records remain in history.
        let historyRevisions = try t.store.read { reader in
            var revisions: [Int64] = []
            let cursor = try reader.txn.cursor(reader.schema.history)
            var entry = try cursor.first()
            while let e = entry {
                revisions.append(Revision(encoded: e.key).main)
                entry = try cursor.next()
            }
            return revisions
        }
        #expect(historyRevisions == [4, 6, 7, 8])

        // A write after compaction, and compacting at the current revision.
        try t.put("b", "new")  // 9
        #expect(try t.get("b") == KeyValue(key: b("b"), createRevision: 9, modRevision: 9, version: 1, value: b("new")))
        #expect(try t.apply(.compact(revision: 9)) == .compact(revision: 9))
        #expect(try t.keys("a", "z") == ["a", "b", "c"])
        request.revision = 9
        #expect(try t.store.range(request).kvs.map(\.version) == [3, 1, 2])
        request.revision = 8
        #expect(throws: MVCCError.compacted) { try t.store.range(request) }
    }

    @Test func compactionRemovesKeysDeletedBeforeIt() throws {
        let t = try TestStore()
        try t.put("gone", "1")   // 2
        try t.delete("gone")     // 3
        try t.put("kept", "1")   // 4
        try t.apply(.compact(revision: 4))
        #expect(try t.keys("a", "z") == ["kept"])
        // The deleted key left no index entry behind.
        let indexKeys = try t.store.read { reader in
            var keys: [String] = []
            let cursor = try reader.txn.cursor(reader.schema.index)
            var entry = try cursor.first()
            while let e = entry {
                keys.append(s(e.key))
                entry = try cursor.nextKey()
            }
            return keys
        }
        #expect(indexKeys == ["kept"])
        // The key can be created again and is a new generation.
        try t.put("gone", "2")   // 5
        #expect(try t.get("gone") == KeyValue(key: b("gone"), createRevision: 5, modRevision: 5, version: 1, value: b("2")))
    }

    @Test func deleteAtCompactRevisionIsCompactedAway() throws {
        // A key deleted exactly at the compact revision is gone; a key deleted after it keeps history.
        let t = try TestStore()
        try t.put("x", "1")     // 2
        try t.put("y", "1")     // 3
        try t.delete("x")       // 4
        try t.delete("y")       // 5
        try t.apply(.compact(revision: 4))
        #expect(try t.get("x", revision: 4) == nil)
        #expect(try t.get("y", revision: 4)?.value == b("1"))
        #expect(try t.get("y") == nil)
    }

    @Test func batchOfEntriesInOneApply() throws {
        let t = try TestStore()
        let ops: [MVCC.Operation] = [
            .txn(TxnRequest(success: [.put(PutRequest(key: b("a"), value: b("1")))])),
            .txn(TxnRequest(success: [.put(PutRequest(key: b("b"), value: b("1"), lease: 99))])),  // unknown lease
            .noop,
            .txn(TxnRequest(success: [.put(PutRequest(key: b("a"), value: b("2")))])),
        ]
        let results = try t.store.apply(ops.enumerated().map { (UInt64($0.offset + 1), $0.element) })
        #expect(results.count == 4)
        guard results.count == 4 else { return }
        if case .txn(let r) = results[0] { #expect(r.revision == 2) } else { Issue.record("\(String(describing: results[0]))") }
        #expect(results[1] == .failure(.leaseNotFound))
        #expect(results[2] == .noop(revision: 2))
        if case .txn(let r) = results[3] { #expect(r.revision == 3) } else { Issue.record("\(String(describing: results[3]))") }
        #expect(t.revision == 3)
        #expect(t.store.consistentIndex == 4)
        #expect(try t.get("a") == KeyValue(key: b("a"), createRevision: 2, modRevision: 3, version: 2, value: b("2")))
        #expect(try t.get("b") == nil)
    }

    @Test func applyIsIdempotent() throws {
        let t = try TestStore()
        let put = MVCC.Operation.txn(TxnRequest(success: [.put(PutRequest(key: b("a"), value: b("1")))]))
        let first = try t.store.apply([(1, put), (2, put)])
        #expect(first.allSatisfy { $0 != nil })
        #expect(t.revision == 3)
        #expect(t.store.consistentIndex == 2)
        // Re-applying the same entries: nil results, nothing changes.
        #expect(try t.store.apply([(1, put), (2, put)]) == [nil, nil])
        #expect(try t.store.apply([(2, put)]) == [nil])
        #expect(t.revision == 3)
        #expect(try t.get("a")?.version == 2)
        #expect(t.store.consistentIndex == 2)
        // A batch overlapping the applied index applies only the new entries.
        let mixed = try t.store.apply([(2, put), (3, put)])
        #expect(mixed.count == 2)
        #expect(mixed.first! == nil)
        #expect(mixed.last! != nil)
        #expect(t.revision == 4)
        #expect(try t.get("a")?.version == 3)
        #expect(t.store.consistentIndex == 3)
        // Still true after a reopen.
        try t.reopen()
        #expect(try t.store.apply([(3, put)]) == [nil])
        #expect(t.revision == 4)
        #expect(try t.get("a")?.version == 3)
        // Empty batch.
        #expect(try t.store.apply([]) == [])
    }

    @Test func reopenKeepsEverything() throws {
        let t = try TestStore()
        try t.grant(7, ttl: 30)
        try t.grant(8, ttl: 60)
        try t.put("a", "1", lease: 7)   // 2
        try t.put("b", "1")             // 3
        try t.put("b", "2")             // 4
        try t.put("c", "1", lease: 8)   // 5
        try t.apply(.compact(revision: 3))
        try t.apply(.leaseRevoke(id: 8))  // deletes c: 6
        try t.apply(.noop)
        let index = t.store.consistentIndex
        #expect(index == 9)
        #expect(t.revision == 6)

        try t.reopen()
        #expect(t.store.consistentIndex == index)
        #expect(t.revision == 6)
        #expect(t.store.compactRevision == 3)
        #expect(t.store.watchHub.revision == 6)
        #expect(t.store.lessor.contains(7))
        #expect(!t.store.lessor.contains(8))
        #expect(t.store.lessor.timeToLive(7)?.granted == 30)
        #expect(try t.store.keys(ofLease: 7) == [b("a")])
        #expect(try t.store.keys(ofLease: 8) == nil)
        #expect(try t.get("a") == KeyValue(key: b("a"), createRevision: 2, modRevision: 2, version: 1, value: b("1"), lease: 7))
        #expect(try t.get("b")?.version == 2)
        #expect(try t.get("c") == nil)
        #expect(try t.get("c", revision: 5)?.value == b("1"))
        var request = RangeRequest(key: b("b"))
        request.revision = 2
        #expect(throws: MVCCError.compacted) { try t.store.range(request) }
        // Writing continues from the stored revision.
        #expect(try t.put("d", "1")?.revision == 7)
        try t.apply(.leaseRevoke(id: 7))
        #expect(t.revision == 8)
        #expect(try t.get("a") == nil)
    }
}

/// The empty key cannot be stored: a batch holding such a request must fail only that request.
@Test func emptyKeyFailsOnlyItsOwnEntry() throws {
    let fixture = try TestStore()
    let results = try fixture.store.apply([
        (index: 1, operation: .txn(TxnRequest(success: [.put(PutRequest(key: [], value: Array("x".utf8)))]))),
        (index: 2, operation: .txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(key: []))]))),
        (index: 3, operation: .txn(TxnRequest(compare: [Compare(key: [], result: .equal, target: .version(0))]))),
        (index: 4, operation: .txn(TxnRequest(success: [.range(RangeRequest(key: []))]))),
        (index: 5, operation: .txn(TxnRequest(success: [.put(PutRequest(key: Array("a".utf8), value: Array("1".utf8)))]))),
    ])
    #expect(results[0] == .failure(.emptyKey))
    #expect(results[1] == .failure(.emptyKey))
    #expect(results[2] == .failure(.emptyKey))
    #expect(results[3] == .failure(.emptyKey))
    #expect(fixture.store.currentRevision == 2)
    #expect(throws: MVCCError.emptyKey) { try fixture.store.range(RangeRequest(key: [])) }
}

/// etcd starts with compact revision -1: compacting at 0 succeeds once, then is "compacted".
@Test func compactionAtZeroSucceedsOnce() throws {
    let t = try TestStore()
    try t.put("a", "1")
    #expect(try t.apply(.compact(revision: 0)) == .compact(revision: 2))
    #expect(t.store.compactRevision == 0)
    #expect(try t.apply(.compact(revision: 0)) == .failure(.compacted))
    #expect(try t.store.range(RangeRequest(key: Array("a".utf8))).kvs.count == 1)
}
