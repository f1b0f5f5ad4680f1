@testable import MVCC
import Testing

/// Keys longer than LMDB's 511-byte limit (and than `KeySpace.directLimit`), sharing a 480-byte prefix.
@Suite struct LongKeyTests {
    /// The shared 480-byte prefix (bytes 'p', ending in 'm' so keys can sort just after it).
    static let prefix: [UInt8] = [UInt8](repeating: UInt8(ascii: "p"), count: 479) + [UInt8(ascii: "m")]

    static func long(_ count: Int, fill: UInt8) -> [UInt8] {
        prefix + [UInt8](repeating: fill, count: count - prefix.count)
    }

    /// Short and long keys around the prefix, in plain byte order.
    static var keys: [[UInt8]] {
        let p = prefix
        let k600a = long(600, fill: UInt8(ascii: "a"))
        let k1000a = long(1000, fill: UInt8(ascii: "a"))      // k600a is a prefix of it
        let k5000b = long(5000, fill: UInt8(ascii: "b"))
        let k600z = long(600, fill: UInt8(ascii: "z"))
        let k481zero = p + [0]                                  // the smallest long key with the prefix
        let keys: [[UInt8]] = [
            b("a"),
            Array(p.prefix(100)),                               // short, shares 100 bytes
            Array(p.prefix(479)),                               // 479 bytes: sorts before p
            p,                                                  // exactly 480 bytes: a direct key
            k481zero,
            k600a, k1000a, k5000b, k600z,
            Array(p.prefix(479)) + [UInt8(ascii: "n")],         // 480 bytes, sorts after every p… key
            Array(p.prefix(479)) + [UInt8(ascii: "q")] + [UInt8](repeating: 1, count: 200), // long, other bucket
            b("z"),
        ]
        return keys
    }

    @Test func keysAreSortedAsBytes() {
        // The test data itself is in byte order and distinct.
        let keys = Self.keys
        #expect(keys == keys.sorted(by: { $0.lexicographicallyPrecedes($1) }))
        #expect(Set(keys).count == keys.count)
    }

    @Test func putGetRangeDelete() throws {
        let t = try TestStore()
        let keys = Self.keys
        // Put in a scrambled order.
        let order = [7, 2, 11, 4, 0, 9, 5, 1, 10, 3, 8, 6]
        for (n, i) in order.enumerated() {
            #expect(try t.put(keys[i], b("v\(i)"))?.revision == Int64(n + 2))
        }
        for (i, key) in keys.enumerated() {
            let kv = try t.get(key)
            #expect(kv?.key == key, "key \(i)")
            #expect(kv?.value == b("v\(i)"), "key \(i)")
            #expect(kv?.version == 1)
        }
        // Missing long keys in an existing bucket and in a new one.
        #expect(try t.get(Self.long(700, fill: UInt8(ascii: "a"))) == nil)
        #expect(try t.get(Self.long(2000, fill: 9)) == nil)

        // All keys: plain byte order.
        let all = try t.store.range(RangeRequest(key: [0], rangeEnd: [0]))
        #expect(all.kvs.map(\.key) == keys)
        #expect(all.count == Int64(keys.count))
        // Prefix range over the 480-byte prefix: the direct key and every long key of the bucket.
        let bucket = try t.store.range(RangeRequest(key: Self.prefix, rangeEnd: prefixEnd(Self.prefix)))
        #expect(bucket.kvs.map(\.key) == Array(keys[3...8]))
        // Ranges that start and end inside the bucket (long bounds).
        #expect(try t.store.range(RangeRequest(key: keys[5], rangeEnd: keys[7])).kvs.map(\.key) == [keys[5], keys[6]])
        #expect(try t.store.range(RangeRequest(key: keys[5] + [0], rangeEnd: keys[8])).kvs.map(\.key) == [keys[6], keys[7]])
        #expect(try t.store.range(RangeRequest(key: keys[4], rangeEnd: keys[5])).kvs.map(\.key) == [keys[4]])
        // From a long key to the end.
        #expect(try t.store.range(RangeRequest(key: keys[7], rangeEnd: [0])).kvs.map(\.key) == Array(keys[7...]))
        // Up to a long key from a short one.
        #expect(try t.store.range(RangeRequest(key: b("a"), rangeEnd: keys[6])).kvs.map(\.key) == Array(keys[0...5]))
        // Prefix of the 600-byte key: it and the 1000-byte key it prefixes.
        #expect(try t.store.range(RangeRequest(key: keys[5], rangeEnd: prefixEnd(keys[5]))).kvs.map(\.key) == [keys[5], keys[6]])
        // Limit and descending sort across the bucket.
        var limited = RangeRequest(key: Self.prefix, rangeEnd: prefixEnd(Self.prefix))
        limited.limit = 3
        let page = try t.store.range(limited)
        #expect(page.kvs.map(\.key) == Array(keys[3...5]))
        #expect(page.more)
        #expect(page.count == 6)
        limited.sortOrder = .descend
        #expect(try t.store.range(limited).kvs.map(\.key) == [keys[8], keys[7], keys[6]])

        // Overwrite a long key: version 2, same create revision.
        let created = try t.get(keys[6])?.createRevision
        try t.put(keys[6], b("again"))
        #expect(try t.get(keys[6])?.version == 2)
        #expect(try t.get(keys[6])?.createRevision == created)
        #expect(try t.get(keys[5])?.value == b("v5"))

        // Delete a single long key.
        let deleted = try t.delete(keys[7], prevKV: true)
        #expect(deleted?.deleted == 1)
        #expect(deleted?.prevKVs.map(\.key) == [keys[7]])
        #expect(try t.get(keys[7]) == nil)
        #expect(try t.get(keys[5]) != nil)
        // Delete a range that covers part of the bucket.
        let ranged = try t.delete(keys[4], keys[6], prevKV: true)
        #expect(ranged?.prevKVs.map(\.key) == [keys[4], keys[5]])
        #expect(try t.store.range(RangeRequest(key: [0], rangeEnd: [0])).kvs.map(\.key) == [keys[0], keys[1], keys[2], keys[3], keys[6], keys[8], keys[9], keys[10], keys[11]])
        // History of a deleted long key is still readable.
        #expect(try t.get(keys[7], revision: t.revision - 2)?.value == b("v7"))
    }

    @Test func compactionWithLongKeys() throws {
        let t = try TestStore()
        let keys = Self.keys
        for key in keys { try t.put(key, b("1")) }   // 2...13
        try t.delete(keys[5])                       // 14
        try t.delete(keys[7])                       // 15
        try t.put(keys[6], b("2"))                  // 16
        try t.apply(.compact(revision: 16))
        let expected = keys.enumerated().filter { $0.offset != 5 && $0.offset != 7 }.map(\.element)
        #expect(try t.store.range(RangeRequest(key: [0], rangeEnd: [0])).kvs.map(\.key) == expected)
        #expect(try t.get(keys[6])?.value == b("2"))
        #expect(try t.get(keys[6])?.version == 2)
        #expect(try t.get(keys[5]) == nil)
        // The bucket no longer names the compacted keys.
        let bucketKeys = try t.store.read { reader in
            try reader.txn.get(reader.schema.longKeys, KeySpace.bucket(of: keys[6])).map(KeySpace.decodeBucket)?.map(\.key)
        }
        #expect(bucketKeys.map(Set.init) == Set([keys[4], keys[6], keys[8]]))
        // Re-creating a compacted long key, and a new one, in the same bucket.
        try t.put(keys[5], b("new"))
        try t.put(Self.long(800, fill: UInt8(ascii: "a")), b("800"))
        #expect(try t.get(keys[5]) == KeyValue(key: keys[5], createRevision: 17, modRevision: 17, version: 1, value: b("new")))
        #expect(try t.get(Self.long(800, fill: UInt8(ascii: "a")))?.value == b("800"))
        #expect(try t.get(keys[6])?.value == b("2"))
        let all = try t.store.range(RangeRequest(key: [0], rangeEnd: [0])).kvs.map(\.key)
        #expect(all == all.sorted(by: { $0.lexicographicallyPrecedes($1) }))
        #expect(all.count == keys.count)
        // Deleting every long key of the bucket and compacting removes the bucket.
        try t.delete(Self.prefix + [0], prefixEnd(Self.prefix))
        try t.apply(.compact(revision: t.revision))
        let bucket = try t.store.read { reader in try reader.txn.get(reader.schema.longKeys, KeySpace.bucket(of: keys[6])) }
        #expect(bucket == nil)
        #expect(try t.get(Self.prefix)?.value == b("1"))
        #expect(try t.store.range(RangeRequest(key: Self.prefix, rangeEnd: prefixEnd(Self.prefix))).kvs.map(\.key) == [Self.prefix])
    }

    @Test func longKeysWithLeasesTxnsAndWatches() async throws {
        let t = try TestStore()
        let keys = Self.keys
        try t.grant(9)
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let id = try stream.create(WatchRequest(key: Self.prefix, rangeEnd: prefixEnd(Self.prefix)))
        #expect(await take(stream) == .created(watchID: id, revision: 1))
        try t.put(keys[7], b("x"), lease: 9)   // 2
        try t.put(keys[5], b("y"), lease: 9)   // 3
        try t.put(keys[0], b("z"), lease: 9)   // 4 (not watched)
        #expect(try t.store.keys(ofLease: 9) == [keys[0], keys[5], keys[7]])
        // Compare on a long key.
        let txn = try t.txn(TxnRequest(
            compare: [Compare(key: keys[7], result: .equal, target: .value(b("x")))],
            success: [.put(PutRequest(key: keys[6], value: b("w")))]
        ))
        #expect(txn?.succeeded == true)   // 5
        let events = await takeEvents(stream, watchID: id, count: 3)
        #expect(events.map(\.kv.key) == [keys[7], keys[5], keys[6]])
        #expect(events.map(\.kv.modRevision) == [2, 3, 5])
        try t.apply(.leaseRevoke(id: 9))  // 6
        #expect(t.revision == 6)
        let deletes = await takeEvents(stream, watchID: id, count: 2)
        #expect(deletes.map(\.kind) == [.delete, .delete])
        #expect(deletes.map(\.kv.key) == [keys[5], keys[7]])
        #expect(try t.get(keys[6])?.value == b("w"))
        #expect(try t.get(keys[7]) == nil)
        // A historic watch on one long key.
        var historic = WatchRequest(key: keys[7])
        historic.startRevision = 1
        historic.prevKV = true
        let hid = try stream.create(historic)
        #expect(await take(stream) == .created(watchID: hid, revision: 6))
        let history = await takeEvents(stream, watchID: hid, count: 2)
        #expect(history.map(\.kind) == [.put, .delete])
        #expect(history.map(\.kv.key) == [keys[7], keys[7]])
        #expect(history.last?.prevKV?.value == b("x"))
        expectIdle(stream)
    }
}
