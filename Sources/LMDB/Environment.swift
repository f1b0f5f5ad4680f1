import CLMDB
#if canImport(Glibc)
import Glibc
#endif

/// A named (or the main) database inside an environment. Handles are valid for the environment's life.
public struct Database: Sendable, Hashable {
    let dbi: MDB_dbi
}

/// Options for opening an `Environment`.
public struct EnvironmentOptions: Sendable {
    /// Initial size of the memory map in bytes; the map grows on demand (doubling) up to `maxMapSize`.
    public var initialMapSize: Int = 64 << 20
    /// The largest the map may grow; past it writes fail with `LMDBError.mapFull`.
    public var maxMapSize: Int = 2 << 30
    /// Maximum number of named databases.
    public var maxDatabases: Int = 16
    /// Maximum number of concurrent read transactions.
    public var maxReaders: Int = 512
    /// Skip the metadata fsync of each commit (`MDB_NOMETASYNC`): atomic and consistent, but the last
    /// commits may be undone by an OS crash. setcd uses this because the WAL provides durability.
    public var noMetaSync: Bool = true
    /// Skip all fsyncs (`MDB_NOSYNC`). Only for tests and benchmarks of the engine itself.
    public var noSync: Bool = false
    /// Open an existing file for reading only (`MDB_RDONLY`), without a lock file (`MDB_NOLOCK`): for a
    /// file that no process writes while it is open, such as a snapshot received from another member.
    public var readOnly: Bool = false

    public init() {}
}

/// An LMDB environment: one data file (`MDB_NOSUBDIR`) holding named databases.
///
/// Read transactions are short and use `MDB_NOTLS`, so any thread may run them. Write transactions are
/// serialised by LMDB; callers keep them on one dedicated thread (setcd's apply thread). The memory map
/// grows on demand up to `maxMapSize`: growing needs no transaction of this process to be open, so
/// every transaction holds a shared lock and growing takes it exclusively.
public final class Environment: @unchecked Sendable {
    // @unchecked Sendable: `env` is an MDB_env*, which liblmdb documents as thread-safe for concurrent
    // transactions with MDB_NOTLS; `mapSize` is only read and written under `resizeLock` held exclusively
    // (writers) or is read under the shared lock; nothing else is mutable.
    let env: OpaquePointer
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t>
    private var mapSize: Int
    private let readOnly: Bool
    /// The largest size the memory map may grow to.
    public let maxMapSize: Int
    /// The path of the data file.
    public let path: String

    /// Opens (creating if needed) the environment whose data file is `path`.
    public init(path: String, options: EnvironmentOptions = .init()) throws {
        var envPointer: OpaquePointer?
        try LMDBError.check(mdb_env_create(&envPointer))
        guard let env = envPointer else { throw LMDBError(code: ENOMEM) }
        self.env = env
        self.path = path
        self.readOnly = options.readOnly
        self.maxMapSize = max(options.maxMapSize, 1 << 20)
        self.mapSize = min(max(options.initialMapSize, 1 << 20), self.maxMapSize)
        self.resizeLock = .allocate(capacity: 1)
        pthread_rwlock_init(resizeLock, nil)
        // Every stored property is set: if a step below throws, `deinit` closes the environment and
        // frees the lock (doing it here as well was a double free).
        try LMDBError.check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)))
        try LMDBError.check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)))
        try LMDBError.check(mdb_env_set_mapsize(env, mapSize))
        var flags = UInt32(MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD)
        if options.noMetaSync { flags |= UInt32(MDB_NOMETASYNC) }
        if options.noSync { flags |= UInt32(MDB_NOSYNC) }
        if options.readOnly { flags |= UInt32(MDB_RDONLY | MDB_NOLOCK) }
        try LMDBError.check(mdb_env_open(env, path, flags, 0o600))
        // An existing file may be larger than the requested initial map: LMDB adopts its size.
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.mapSize = max(self.mapSize, info.me_mapsize)
    }

    deinit {
        mdb_env_close(env)
        pthread_rwlock_destroy(resizeLock)
        resizeLock.deallocate()
    }

    /// Opens (creating if missing) a named database. `dupSort` allows several sorted values per key.
    /// In a `readOnly` environment the database must exist, else this throws `LMDBError.notFound`.
    public func openDatabase(_ name: String, dupSort: Bool = false) throws -> Database {
        let flags = dupSort ? UInt32(MDB_DUPSORT) : 0
        guard readOnly else {
            return try write { txn in try Self.open(name, flags: flags | UInt32(MDB_CREATE), in: txn.txn) }
        }
        // A handle opened in a read transaction outlives it only if the transaction commits.
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn))
        let database: Database
        do {
            database = try Self.open(name, flags: flags, in: txn!)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try LMDBError.check(mdb_txn_commit(txn))
        return database
    }

    private static func open(_ name: String, flags: UInt32, in txn: OpaquePointer) throws -> Database {
        var dbi: MDB_dbi = 0
        try LMDBError.check(mdb_dbi_open(txn, name, flags, &dbi))
        return Database(dbi: dbi)
    }

    /// Runs `body` in a read-only transaction. The transaction and every value read through it are valid
    /// only inside `body`; values returned are copies.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var txnPointer: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txnPointer))
        let txn = ReadTransaction(txn: txnPointer!)
        defer { mdb_txn_abort(txnPointer) }
        return try body(txn)
    }

    /// Runs `body` in a write transaction, committing if it returns and aborting if it throws.
    ///
    /// If the map is full, the transaction is aborted, the map grows (doubling, up to `maxMapSize`, or
    /// `growthLimit` for this one transaction) and `body` runs again: it must have no effects outside the
    /// transaction. Past the limit it throws `LMDBError.mapFull`.
    ///
    /// A transaction that replaces most of the data needs room for the old and the new pages at once
    /// (LMDB reuses freed pages only after the commit): such a one passes a larger `growthLimit`.
    public func write<T>(growthLimit: Int? = nil, _ body: (WriteTransaction) throws -> T) throws -> T {
        while true {
            do {
                return try writeOnce(body)
            } catch let error as LMDBError where error == .mapFull {
                guard try grow(upTo: max(growthLimit ?? maxMapSize, maxMapSize)) else { throw error }
            }
        }
    }

    private func writeOnce<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var txnPointer: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, nil, 0, &txnPointer))
        let txn = WriteTransaction(txn: txnPointer!)
        let result: T
        do {
            result = try body(txn)
        } catch {
            mdb_txn_abort(txnPointer)
            throw error
        }
        try LMDBError.check(mdb_txn_commit(txnPointer))
        return result
    }

    /// Doubles the map size (up to `limit`); returns false if it is already at the limit.
    private func grow(upTo limit: Int) throws -> Bool {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        guard mapSize < limit else { return false }
        let newSize = min(mapSize * 2, limit)
        try LMDBError.check(mdb_env_set_mapsize(env, newSize))
        mapSize = newSize
        return true
    }

    /// Size statistics of the environment.
    public struct Info: Sendable {
        /// Current size of the memory map in bytes.
        public var mapSize: Int
        /// Bytes of the data file in use (up to the last used page).
        public var usedBytes: Int
        /// The page size.
        public var pageSize: Int
    }

    /// Current map size and how much of it is in use.
    public func info() -> Info {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        let pageSize = Int(stat.ms_psize)
        return Info(mapSize: info.me_mapsize, usedBytes: (info.me_last_pgno + 1) * pageSize, pageSize: pageSize)
    }

    /// Pages in use by a database's tree, for the "in use" size reported to clients.
    public func stat(_ db: Database) throws -> (entries: Int, pages: Int) {
        try read { txn in
            var stat = MDB_stat()
            try LMDBError.check(mdb_stat(txn.txn, db.dbi, &stat))
            return (Int(stat.ms_entries), Int(stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages))
        }
    }

    /// Writes a consistent copy of the environment to the file at `path` (`compact` omits free pages).
    public func copy(to path: String, compact: Bool) throws {
        try LMDBError.check(mdb_env_copy2(env, path, compact ? UInt32(MDB_CP_COMPACT) : 0))
    }

    /// Writes a consistent copy of the environment to an open file descriptor.
    public func copy(toDescriptor fd: Int32, compact: Bool) throws {
        try LMDBError.check(mdb_env_copyfd2(env, fd, compact ? UInt32(MDB_CP_COMPACT) : 0))
    }

    /// Flushes the data file to disk (fsync), regardless of `noMetaSync`/`noSync`.
    public func sync() throws {
        try LMDBError.check(mdb_env_sync(env, 1))
    }
}
