import LMDB

/// The databases of a store, shared by its readers and its writer.
struct Schema {
    /// revision (16 bytes) → `HistoryRecord`: every change, in revision order.
    let history: Database
    /// index key → `IndexEntry` values (dupsort): every revision of every key, in key order.
    let index: Database
    /// bucket → full keys of long keys (see `KeySpace`).
    let longKeys: Database
    /// name → value: consistent index, current and compact revisions.
    let meta: Database
    /// lease id (8 bytes) → granted TTL (8 bytes).
    let leases: Database
    /// lease id → index keys attached to it (dupsort).
    let leaseKeys: Database
    /// key → value: records of the cluster (members), written by `Operation.clusterRecord`.
    let cluster: Database
    /// Every database above, with the name and flag it is opened with (for restoring a snapshot).
    let all: [(name: String, dupSort: Bool, database: Database)]

    init(env: Environment) throws {
        var all: [(name: String, dupSort: Bool, database: Database)] = []
        func open(_ name: String, dupSort: Bool = false) throws -> Database {
            let database = try env.openDatabase(name, dupSort: dupSort)
            all.append((name, dupSort, database))
            return database
        }
        // A file written before a database existed gets it, empty, when opened.
        history = try open("history")
        index = try open("index", dupSort: true)
        longKeys = try open("longkeys")
        meta = try open("meta")
        leases = try open("leases")
        leaseKeys = try open("leasekeys", dupSort: true)
        cluster = try open("cluster")
        self.all = all
    }
}

/// Names of the records in the meta database.
enum MetaKey {
    static let consistentIndex: [UInt8] = Array("consistent_index".utf8)
    static let currentRevision: [UInt8] = Array("current_revision".utf8)
    static let compactRevision: [UInt8] = Array("compact_revision".utf8)
}

/// Reads of the key space inside one LMDB transaction (read-only, or the apply thread's write
/// transaction, which then sees its own uncommitted changes).
struct Reader {
    let txn: ReadTransaction
    let schema: Schema

    func metaInt(_ key: [UInt8]) throws -> Int64? {
        try txn.get(schema.meta, key).map { Int64(bitPattern: $0.readBigEndian(at: 0)) }
    }

    /// The store's current revision (1 for an empty store).
    func currentRevision() throws -> Int64 { try metaInt(MetaKey.currentRevision) ?? 1 }
    /// The revision history was last compacted at; -1 if never, as etcd (so compacting at 0 succeeds
    /// once and HashKV reports -1).
    func compactRevision() throws -> Int64 { try metaInt(MetaKey.compactRevision) ?? -1 }

    /// The latest index entry of `indexKey` at or before revision `main`.
    func latest(indexKey: [UInt8], atOrBefore main: Int64, cursor: Cursor) throws -> IndexEntry? {
        if try cursor.seek(key: indexKey, valueAtLeast: Revision(main: main + 1).encoded) != nil {
            return try cursor.previousValue().map { IndexEntry(encoded: $0.value) }
        }
        guard try cursor.seek(exactly: indexKey) != nil, let last = try cursor.lastValue() else { return nil }
        return IndexEntry(encoded: last.value)
    }

    /// The record stored at `revision`.
    func record(at revision: Revision) throws -> (kv: KeyValue, tombstone: Bool) {
        guard let bytes = try txn.get(schema.history, revision.encoded) else {
            preconditionFailure("index names revision \(revision) missing from history")
        }
        return HistoryRecord.decode(bytes, revision: revision)
    }

    /// The live state of `key` at revision `main`, or nil if it did not exist then.
    func get(_ key: [UInt8], at main: Int64) throws -> KeyValue? {
        guard let indexKey = try KeySpace.indexKey(for: key, in: txn, longKeys: schema.longKeys) else { return nil }
        let cursor = try txn.cursor(schema.index)
        guard let entry = try latest(indexKey: indexKey, atOrBefore: main, cursor: cursor), !entry.tombstone else { return nil }
        return try record(at: entry.revision).kv
    }

    /// Calls `body` with every key in [key, rangeEnd) live at revision `main`, in key order, with the
    /// index key and the revision of its live state. `rangeEnd` empty: only `key`; `[0]`: no upper bound.
    /// `body` returns false to stop.
    func forEachLive(
        key: [UInt8], rangeEnd: [UInt8], at main: Int64,
        _ body: (_ key: [UInt8], _ indexKey: [UInt8], _ revision: Revision) throws -> Bool
    ) throws {
        let cursor = try txn.cursor(schema.index)
        if rangeEnd.isEmpty {
            guard let indexKey = try KeySpace.indexKey(for: key, in: txn, longKeys: schema.longKeys),
                  let entry = try latest(indexKey: indexKey, atOrBefore: main, cursor: cursor), !entry.tombstone
            else { return }
            _ = try body(key, indexKey, entry.revision)
            return
        }
        let unbounded = rangeEnd == [0]
        func inRange(_ k: [UInt8]) -> Bool {
            !lexicographicallyLess(k, key) && (unbounded || lexicographicallyLess(k, rangeEnd))
        }
        func pastEnd(_ k: [UInt8]) -> Bool { !unbounded && !lexicographicallyLess(k, rangeEnd) }
        // A second cursor finds each key's latest revision without losing the scan position.
        let lookup = try txn.cursor(schema.index)
        var current = try cursor.seek(atLeast: Array(key.prefix(KeySpace.directLimit)))
        while let entry = current {
            if KeySpace.isLong(indexKey: entry.key) {
                // Gather the bucket, then visit its keys in full-key order.
                let bucket = Array(entry.key.prefix(KeySpace.bucketLength))
                var members: [(key: [UInt8], indexKey: [UInt8])] = []
                var next: Entry? = entry
                while let member = next, member.key.starts(with: bucket), KeySpace.isLong(indexKey: member.key) {
                    members.append((try KeySpace.fullKey(of: member.key, in: txn, longKeys: schema.longKeys), member.key))
                    next = try cursor.nextKey()
                }
                members.sort { lexicographicallyLess($0.key, $1.key) }
                for member in members where inRange(member.key) {
                    if let live = try latest(indexKey: member.indexKey, atOrBefore: main, cursor: lookup), !live.tombstone {
                        guard try body(member.key, member.indexKey, live.revision) else { return }
                    }
                }
                if let first = members.first, pastEnd(first.key) { return }
                current = next
                continue
            }
            if pastEnd(entry.key) { return }
            if inRange(entry.key),
               let live = try latest(indexKey: entry.key, atOrBefore: main, cursor: lookup), !live.tombstone {
                guard try body(entry.key, entry.key, live.revision) else { return }
            }
            current = try cursor.nextKey()
        }
    }

    /// Runs a range request at its revision (`current` when the request's is <= 0).
    func range(_ request: RangeRequest, current: Int64, compacted: Int64) throws -> RangeResult {
        if request.key.isEmpty { throw MVCCError.emptyKey }
        let revision = request.revision > 0 ? request.revision : current
        if revision > current { throw MVCCError.futureRevision }
        if revision < compacted { throw MVCCError.compacted }

        // As etcd: one key past the limit tells whether there are more; sorting or filtering reads every
        // key first. A limit of zero or below reads every key, and so does Int64.max (etcd's `limit + 1`
        // wraps to a negative limit, which means none).
        var limit = request.limit
        let filtered = request.minModRevision != 0 || request.maxModRevision != 0
            || request.minCreateRevision != 0 || request.maxCreateRevision != 0
        if request.sortOrder != .none || filtered { limit = 0 }
        limit = (1..<Int64.max).contains(limit) ? limit + 1 : 0

        var count: Int64 = 0
        var kvs: [KeyValue] = []
        try forEachLive(key: request.key, rangeEnd: request.rangeEnd, at: revision) { _, _, live in
            count += 1
            if !request.countOnly && (limit == 0 || Int64(kvs.count) < limit) {
                kvs.append(try record(at: live).kv)
            }
            return true
        }
        if request.maxModRevision != 0 { kvs.removeAll { $0.modRevision > request.maxModRevision } }
        if request.minModRevision != 0 { kvs.removeAll { $0.modRevision < request.minModRevision } }
        if request.maxCreateRevision != 0 { kvs.removeAll { $0.createRevision > request.maxCreateRevision } }
        if request.minCreateRevision != 0 { kvs.removeAll { $0.createRevision < request.minCreateRevision } }

        var order = request.sortOrder
        if request.sortTarget != .key && order == .none { order = .ascend }
        if order != .none {
            let less: (KeyValue, KeyValue) -> Bool
            switch request.sortTarget {
            case .key: less = { lexicographicallyLess($0.key, $1.key) }
            case .version: less = { $0.version < $1.version }
            case .create: less = { $0.createRevision < $1.createRevision }
            case .mod: less = { $0.modRevision < $1.modRevision }
            case .value: less = { lexicographicallyLess($0.value, $1.value) }
            }
            // Ties keep key order, as etcd's insertion sort does for the small results it is usually given.
            kvs = order == .ascend ? stableSorted(kvs, by: less) : stableSorted(kvs, by: { less($1, $0) })
        }
        var more = false
        if request.limit > 0 && kvs.count > Int(request.limit) {
            kvs.removeLast(kvs.count - Int(request.limit))
            more = true
        }
        if request.keysOnly {
            for i in kvs.indices { kvs[i].value = [] }
        }
        return RangeResult(kvs: kvs, more: more, count: count, revision: current)
    }

    /// Whether a transaction's compare holds at revision `main` (etcd's applyCompare).
    func holds(_ compare: Compare, at main: Int64) throws -> Bool {
        var kvs: [KeyValue] = []
        try forEachLive(key: compare.key, rangeEnd: compare.rangeEnd, at: main) { _, _, live in
            kvs.append(try record(at: live).kv)
            return true
        }
        if kvs.isEmpty {
            if case .value = compare.target { return false }
            return compare.evaluate(KeyValue(key: compare.key))
        }
        return kvs.allSatisfy(compare.evaluate)
    }
}

extension Compare {
    /// Compares one key's state with the operand.
    func evaluate(_ kv: KeyValue) -> Bool {
        let order: Int
        switch target {
        case .version(let v): order = kv.version < v ? -1 : (kv.version > v ? 1 : 0)
        case .create(let v): order = kv.createRevision < v ? -1 : (kv.createRevision > v ? 1 : 0)
        case .mod(let v): order = kv.modRevision < v ? -1 : (kv.modRevision > v ? 1 : 0)
        case .lease(let v): order = kv.lease < v ? -1 : (kv.lease > v ? 1 : 0)
        case .value(let v):
            order = kv.value == v ? 0 : (lexicographicallyLess(kv.value, v) ? -1 : 1)
        }
        switch result {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .greater: return order > 0
        case .less: return order < 0
        }
    }
}

extension ReadTransaction {
    /// Calls `body` with every entry of `db` in order (each value of each key, for `dupSort`), one at a
    /// time, so that a large database is never held in memory.
    func forEachEntry(in db: Database, _ body: (Entry) throws -> Void) throws {
        let cursor = try cursor(db)
        var entry = try cursor.first()
        while let e = entry {
            try body(e)
            entry = try cursor.next()
        }
    }
}

/// A stable sort (Swift's `sort` is not guaranteed stable).
func stableSorted<T>(_ items: [T], by less: (T, T) -> Bool) -> [T] {
    items.enumerated().sorted { a, b in
        if less(a.element, b.element) { return true }
        if less(b.element, a.element) { return false }
        return a.offset < b.offset
    }.map(\.element)
}
