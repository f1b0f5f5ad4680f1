import LMDB
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Options of an `MVCCStore`.
public struct StoreOptions: Sendable {
    /// The backend quota (etcd's `--quota-backend-bytes`); the map may grow a little past it so that
    /// deletes and compaction still work once it is reached.
    public var quotaBytes: Int = 2 << 30
    /// Skip fsyncs of the LMDB file entirely (benchmarks of the engine alone).
    public var noSync = false

    public init() {}
}

/// The versioned key space of one member: revisions, history, compaction, leases, cluster records — on
/// one LMDB file.
///
/// Reads may run on any thread, each in a short LMDB read transaction. Writes come only through
/// `apply`, called by the member's single apply thread with committed log entries in index order; the
/// applied index is stored in the same LMDB transaction as the changes, so after a crash exactly the
/// entries after `consistentIndex` are applied again.
public final class MVCCStore: Sendable {
    let env: Environment
    let schema: Schema
    /// Watchers of this store, notified after each applied batch.
    public let watchHub: WatchHub
    /// Leases and their expiry.
    public let lessor: Lessor
    public let options: StoreOptions

    private struct State {
        var consistentIndex: UInt64
        var revision: Int64
        var compactRevision: Int64
    }
    private let state: Mutex<State>

    /// Opens (creating if missing) the store in the LMDB file at `path`.
    public init(path: String, options: StoreOptions = .init()) throws {
        var envOptions = EnvironmentOptions()
        envOptions.maxMapSize = options.quotaBytes + max(options.quotaBytes / 8, 64 << 20)
        envOptions.initialMapSize = min(256 << 20, envOptions.maxMapSize)
        envOptions.noSync = options.noSync
        let env = try Environment(path: path, options: envOptions)
        let schema = try Schema(env: env)
        self.env = env
        self.schema = schema
        self.options = options
        let (loaded, leases) = try env.read { txn in try Self.load(txn, schema: schema) }
        state = Mutex(loaded)
        watchHub = WatchHub(revision: loaded.revision)
        lessor = Lessor(leases: leases)
    }

    /// The in-memory state and the leases recorded in the file.
    private static func load(_ txn: ReadTransaction, schema: Schema) throws -> (State, [Lease]) {
        let reader = Reader(txn: txn, schema: schema)
        let index = try txn.get(schema.meta, MetaKey.consistentIndex).map { $0.readBigEndian(at: 0) } ?? 0
        let state = State(consistentIndex: index, revision: try reader.currentRevision(), compactRevision: try reader.compactRevision())
        var leases: [Lease] = []
        try txn.forEachEntry(in: schema.leases) { e in
            leases.append(Lease(id: Int64(bitPattern: e.key.readBigEndian(at: 0)), ttl: Int64(bitPattern: e.value.readBigEndian(at: 0))))
        }
        return (state, leases)
    }

    /// The index of the last log entry applied.
    public var consistentIndex: UInt64 { state.withLock { $0.consistentIndex } }
    /// The current revision.
    public var currentRevision: Int64 { state.withLock { $0.revision } }
    /// The revision history is compacted to.
    public var compactRevision: Int64 { state.withLock { $0.compactRevision } }

    /// Runs a range request against the latest committed state.
    public func range(_ request: RangeRequest) throws -> RangeResult {
        try read { reader in
            try reader.range(request, current: try reader.currentRevision(), compacted: try reader.compactRevision())
        }
    }

    /// Evaluates a read-only transaction against the latest committed state.
    public func readOnlyTxn(_ request: TxnRequest) throws -> TxnResult {
        try read { reader in
            let current = try reader.currentRevision()
            let compacted = try reader.compactRevision()
            return try evaluateReadOnly(request, reader: reader, current: current, compacted: compacted)
        }
    }

    private func evaluateReadOnly(_ request: TxnRequest, reader: Reader, current: Int64, compacted: Int64) throws -> TxnResult {
        let succeeded = try request.compare.allSatisfy { try reader.holds($0, at: current) }
        var responses: [ResponseOp] = []
        for op in succeeded ? request.success : request.failure {
            switch op {
            case .range(let range):
                // As etcd's checkRequestRange: any revision but 0 below the compact revision, negative ones too.
                if range.revision != 0 && range.revision < compacted { throw MVCCError.compacted }
                var result = try reader.range(range, current: current, compacted: compacted)
                result.revision = current
                responses.append(.range(result))
            case .txn(let inner):
                responses.append(.txn(try evaluateReadOnly(inner, reader: reader, current: current, compacted: compacted)))
            case .put, .deleteRange:
                preconditionFailure("readOnlyTxn given a write")
            }
        }
        return TxnResult(succeeded: succeeded, responses: responses, revision: current)
    }

    func read<T>(_ body: (Reader) throws -> T) throws -> T {
        do {
            return try env.read { txn in try body(Reader(txn: txn, schema: schema)) }
        } catch let error as LMDBError {
            throw MVCCError.storage(error)
        }
    }

    /// Applies committed log entries in index order, in one LMDB transaction, and returns each entry's
    /// result (nil for an entry at or below `consistentIndex`, which was applied before a restart).
    /// Only the apply thread calls this. Watchers and the lessor learn of the changes after the commit.
    public func apply(_ entries: [(index: UInt64, operation: Operation)]) throws -> [OperationResult?] {
        let applied = consistentIndex
        guard let lastIndex = entries.last?.index, lastIndex > applied else { return entries.map { _ in nil } }
        do {
            return try applyBatch(entries, applied: applied, lastIndex: lastIndex)
        } catch MVCCError.noSpace where entries.count > 1 {
            // The map cannot grow: apply entry by entry, so only the writes that do not fit fail.
            var results: [OperationResult?] = []
            for entry in entries { results += try apply([entry]) }
            return results
        } catch MVCCError.noSpace {
            // Record the entry as applied without changes, so that a replay answers the same.
            do {
                try env.write { txn in try Writer(txn: txn, schema: schema).finish(consistentIndex: lastIndex) }
            } catch let error as LMDBError {
                throw MVCCError.storage(error)
            }
            state.withLock { $0.consistentIndex = lastIndex }
            return [.failure(.noSpace)]
        }
    }

    private func applyBatch(_ entries: [(index: UInt64, operation: Operation)], applied: UInt64, lastIndex: UInt64) throws -> [OperationResult?] {
        let outcome: (results: [OperationResult?], writer: Writer)
        // Cluster records (members, alarms, auth, the v2 tree) must never be refused for space: the
        // member has already changed them in memory, and members would disagree on them. A lone such
        // entry may grow the map past its usual limit.
        var growthLimit: Int?
        switch entries.count == 1 ? entries[0].operation : .noop {
        case .clusterRecord, .clusterRecords: growthLimit = 2 * env.maxMapSize
        default: break
        }
        do {
            outcome = try env.write(growthLimit: growthLimit) { txn in
                var writer = try Writer(txn: txn, schema: schema)
                var results: [OperationResult?] = []
                results.reserveCapacity(entries.count)
                for entry in entries {
                    results.append(entry.index <= applied ? nil : try writer.apply(entry.operation))
                }
                try writer.finish(consistentIndex: lastIndex)
                return (results, writer)
            }
        } catch let error as LMDBError {
            throw error == .mapFull ? MVCCError.noSpace : MVCCError.storage(error)
        }
        let writer = outcome.writer
        state.withLock { state in
            state.consistentIndex = lastIndex
            state.revision = writer.revision
            if let compacted = writer.newCompactRevision { state.compactRevision = compacted }
        }
        for lease in writer.grantedLeases { lessor.granted(lease) }
        for id in writer.revokedLeases { lessor.revoked(id) }
        watchHub.notify(events: writer.events, revision: writer.revision, compactRevision: writer.newCompactRevision)
        return outcome.results
    }

    /// Replaces the whole store with the snapshot at `path`, a file written by `copy(toDescriptor:)` on
    /// another member, in one LMDB transaction (so a crash leaves either store whole); then takes its
    /// applied index, revisions and leases (each with its full TTL). Watchers behind the snapshot's
    /// revision catch up from its history, or learn that it was compacted. Only the apply thread calls
    /// this. The map may grow to twice its usual limit for this transaction, since the old and the new
    /// contents coexist until the commit; throws `noSpace` if even that does not hold them.
    public func restore(fromSnapshotAt path: String) throws {
        let loaded: State
        let leases: [Lease]
        do {
            var options = EnvironmentOptions()
            options.readOnly = true
            let snapshot = try Environment(path: path, options: options)
            // A snapshot written before a database existed lacks it: the database becomes empty.
            let sources = try schema.all.map { db -> Database? in
                do {
                    return try snapshot.openDatabase(db.name, dupSort: db.dupSort)
                } catch let error as LMDBError where error == .notFound {
                    return nil
                }
            }
            // The old and the new data coexist until the commit: allow the map twice its usual limit
            // for this transaction, so a store near its quota can still take the leader's snapshot.
            (loaded, leases) = try env.write(growthLimit: 2 * env.maxMapSize) { txn in
                try snapshot.read { source in
                    for (db, sourceDB) in zip(schema.all, sources) {
                        try txn.clear(db.database)
                        guard let sourceDB else { continue }
                        // In key order: appending fills pages; a dupSort key's values need a plain put.
                        try source.forEachEntry(in: sourceDB) { e in try txn.put(db.database, e.key, e.value, append: !db.dupSort) }
                    }
                }
                return try Self.load(txn, schema: schema)
            }
        } catch let error as LMDBError {
            throw error == .mapFull ? MVCCError.noSpace : MVCCError.storage(error)
        }
        state.withLock { $0 = loaded }
        lessor.replaceAll(leases)
        watchHub.restored(revision: loaded.revision)
    }

    /// Opens a stream of watches on this store (one per client watch stream).
    public func openWatchStream(limits: WatchStream.Limits = .init()) -> WatchStream {
        let stream = WatchStream(store: self, limits: limits)
        watchHub.register(stream)
        return stream
    }

    /// Reads history for a catching-up watcher (see `WatchStream`).
    func readHistory<T>(_ body: (Reader) throws -> T) throws -> T { try read(body) }

    // MARK: - Cluster

    /// Every cluster record (see `Operation.clusterRecord`), in key order.
    public func clusterRecords() throws -> [(key: [UInt8], value: [UInt8])] {
        try read { reader in
            var records: [(key: [UInt8], value: [UInt8])] = []
            try reader.txn.forEachEntry(in: schema.cluster) { records.append(($0.key, $0.value)) }
            return records
        }
    }

    /// Makes the store the state of a new cluster (restoring a snapshot into a new member): replaces
    /// every cluster record with `records` and sets the applied index to `consistentIndex`, the index of
    /// the new cluster's snapshot. Keys, history and leases stay. Only while no apply thread runs.
    public func resetCluster(records: [(key: [UInt8], value: [UInt8])], consistentIndex: UInt64) throws {
        do {
            try env.write(growthLimit: 2 * env.maxMapSize) { txn in
                try txn.clear(schema.cluster)
                for record in records { try txn.put(schema.cluster, record.key, record.value) }
                var index: [UInt8] = []
                index.appendBigEndian(consistentIndex)
                try txn.put(schema.meta, MetaKey.consistentIndex, index)
            }
        } catch let error as LMDBError {
            throw error == .mapFull ? MVCCError.noSpace : MVCCError.storage(error)
        }
        state.withLock { $0.consistentIndex = consistentIndex }
    }

    // MARK: - Leases

    /// The keys attached to a lease, in key order, or nil if it does not exist.
    public func keys(ofLease id: Int64) throws -> [[UInt8]]? {
        try read { reader in
            let txn = reader.txn
            guard try txn.get(schema.leases, leaseKey(id)) != nil else { return nil }
            var keys: [[UInt8]] = []
            let cursor = try txn.cursor(schema.leaseKeys)
            var entry = try cursor.seek(exactly: leaseKey(id))
            while let e = entry {
                keys.append(try KeySpace.fullKey(of: e.value, in: txn, longKeys: schema.longKeys))
                entry = try cursor.nextValue()
            }
            return keys.sorted(by: lexicographicallyLess)
        }
    }

    // MARK: - Maintenance

    /// A hash of every change up to `revision` (0: current) that survives compaction, equal on members
    /// that applied the same log: (hash, the revision hashed, the compact revision).
    public func hashKV(revision: Int64) throws -> (hash: UInt32, revision: Int64, compactRevision: Int64) {
        try read { reader in
            let current = try reader.currentRevision()
            let compacted = try reader.compactRevision()
            let target = revision > 0 ? revision : current
            if target > current { throw MVCCError.futureRevision }
            if revision > 0 && target < compacted { throw MVCCError.compacted }
            var crc = CRC32()
            let cursor = try reader.txn.cursor(schema.history)
            var entry = try cursor.first()
            while let e = entry, Int64(bitPattern: e.key.readBigEndian(at: 0)) <= target {
                crc.update(e.key)
                crc.update(e.value)
                entry = try cursor.next()
            }
            return (crc.value, target, compacted)
        }
    }

    /// What `snapshot status` reports of a store file: a hash of every database's name and entries (all
    /// of the file's content, unlike `hashKV`), the number of entries in all databases, and the current
    /// revision.
    public func contentStatus() throws -> (hash: UInt32, revision: Int64, totalKey: Int) {
        try read { reader in
            var crc = CRC32()
            var total = 0
            for (name, _, database) in schema.all {
                crc.update(Array(name.utf8))
                let cursor = try reader.txn.cursor(database)
                var entry = try cursor.first()
                while let e = entry {
                    crc.update(e.key)
                    crc.update(e.value)
                    total += 1
                    entry = try cursor.next()
                }
            }
            return (crc.value, try reader.currentRevision(), total)
        }
    }

    /// Bytes of the LMDB file in use, and bytes of the map (etcd's dbSizeInUse and dbSize).
    ///
    /// "In use" counts the pages of the store's trees, so it shrinks after compaction although the
    /// file (whose freed pages LMDB reuses) does not.
    public func sizes() -> (inUse: Int, total: Int) {
        let info = env.info()
        let pages = schema.all.reduce(2) { total, db in total + ((try? env.stat(db.database).pages) ?? 0) }
        return (pages * info.pageSize, max(info.usedBytes, fileSize()))
    }

    /// Whether the store's trees take more than `quota` bytes; cheap while the file's high-water mark
    /// is below it (the common case), exact above.
    public func exceeds(quota: Int) -> Bool {
        env.info().usedBytes > quota && sizes().inUse > quota
    }

    private func fileSize() -> Int {
        var st = stat()
        return stat(env.path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Writes a consistent, compacted copy of the store to `descriptor` (for snapshots and defrag).
    public func copy(toDescriptor descriptor: Int32) throws {
        try env.copy(toDescriptor: descriptor, compact: true)
    }

    /// Forces everything committed so far to disk (so the WAL before `consistentIndex` may be released).
    public func sync() throws {
        do { try env.sync() } catch let error as LMDBError { throw MVCCError.storage(error) }
    }

    /// The path of the LMDB file.
    public var path: String { env.path }
}

/// CRC-32 (IEEE), for hashes compared between members.
struct CRC32 {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    private var crc: UInt32 = 0xFFFF_FFFF

    mutating func update(_ bytes: [UInt8]) {
        for byte in bytes { crc = Self.table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }

    var value: UInt32 { crc ^ 0xFFFF_FFFF }
}
