import CLMDB

/// A read-only view of the environment at one point in time. Valid only inside the closure that received it.
public class ReadTransaction {
    let txn: OpaquePointer

    init(txn: OpaquePointer) { self.txn = txn }

    /// The value stored under `key`, copied out, or nil.
    public func get(_ db: Database, _ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val()
            let rc = mdb_get(txn, db.dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try LMDBError.check(rc)
            return v.bytes
        }
    }

    /// A cursor over `db`, valid for the life of this transaction.
    public func cursor(_ db: Database) throws -> Cursor {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, db.dbi, &cursor))
        return Cursor(cursor: cursor!)
    }
}

/// A read-write transaction. Valid only inside the closure that received it.
public final class WriteTransaction: ReadTransaction {
    /// Stores `value` under `key`. In a `dupSort` database it adds `value` to the key's sorted set.
    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], append: Bool = false) throws {
        try key.withUnsafeBytes { keyBytes in
            try value.withUnsafeBytes { valueBytes in
                var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                try LMDBError.check(mdb_put(txn, db.dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0))
            }
        }
    }

    /// Deletes `key` (all of its values in a `dupSort` database). Returns false if it was absent.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { keyBytes in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            let rc = mdb_del(txn, db.dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try LMDBError.check(rc)
            return true
        }
    }

    /// Deletes one value of `key` in a `dupSort` database. Returns false if it was absent.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8], value: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { keyBytes in
            try value.withUnsafeBytes { valueBytes in
                var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                let rc = mdb_del(txn, db.dbi, &k, &v)
                if rc == MDB_NOTFOUND { return false }
                try LMDBError.check(rc)
                return true
            }
        }
    }

    /// Removes every entry of `db`, keeping the database.
    public func clear(_ db: Database) throws {
        try LMDBError.check(mdb_drop(txn, db.dbi, 0))
    }
}

extension MDB_val {
    /// A copy of the bytes this value points at.
    var bytes: [UInt8] {
        guard mv_size > 0, let data = mv_data else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: mv_size))
    }
}
