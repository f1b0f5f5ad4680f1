import CLMDB

/// A key and value copied out of the database.
public struct Entry: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
}

/// A position in a database's sorted keys (and, for `dupSort` databases, in each key's sorted values).
/// Valid only inside the transaction that opened it; every entry it returns is a copy.
public final class Cursor {
    private let cursor: OpaquePointer

    init(cursor: OpaquePointer) { self.cursor = cursor }

    deinit { mdb_cursor_close(cursor) }

    private func op(_ operation: MDB_cursor_op, key: [UInt8]? = nil, value: [UInt8]? = nil) throws -> Entry? {
        var k = MDB_val()
        var v = MDB_val()
        func run() throws -> Entry? {
            let rc = mdb_cursor_get(cursor, &k, &v, operation)
            if rc == MDB_NOTFOUND { return nil }
            try LMDBError.check(rc)
            return Entry(key: k.bytes, value: v.bytes)
        }
        guard let key else { return try run() }
        return try key.withUnsafeBytes { keyBytes in
            k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            guard let value else { return try run() }
            return try value.withUnsafeBytes { valueBytes in
                v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                return try run()
            }
        }
    }

    /// The first entry.
    public func first() throws -> Entry? { try op(MDB_FIRST) }
    /// The last entry (the last value of the last key).
    public func last() throws -> Entry? { try op(MDB_LAST) }
    /// The next entry (next value of a `dupSort` key, else the next key).
    public func next() throws -> Entry? { try op(MDB_NEXT) }
    /// The previous entry.
    public func previous() throws -> Entry? { try op(MDB_PREV) }
    /// The first entry whose key is greater than or equal to `key`.
    public func seek(atLeast key: [UInt8]) throws -> Entry? { try op(MDB_SET_RANGE, key: key) }
    /// The entry whose key equals `key` (its first value in a `dupSort` database).
    public func seek(exactly key: [UInt8]) throws -> Entry? { try op(MDB_SET_KEY, key: key) }
    /// The first value of the next key (`dupSort`).
    public func nextKey() throws -> Entry? { try op(MDB_NEXT_NODUP) }
    /// The last value of the previous key (`dupSort`).
    public func previousKey() throws -> Entry? { try op(MDB_PREV_NODUP) }
    /// The next value of the current key, or nil at its last value (`dupSort`).
    public func nextValue() throws -> Entry? { try op(MDB_NEXT_DUP) }
    /// The previous value of the current key, or nil at its first value (`dupSort`).
    public func previousValue() throws -> Entry? { try op(MDB_PREV_DUP) }
    // MDB_FIRST_DUP / MDB_LAST_DUP return only the value (the key is left unset): re-read the position.
    /// The first value of the current key (`dupSort`).
    public func firstValue() throws -> Entry? { try op(MDB_FIRST_DUP).flatMap { _ in try op(MDB_GET_CURRENT) } }
    /// The last value of the current key (`dupSort`).
    public func lastValue() throws -> Entry? { try op(MDB_LAST_DUP).flatMap { _ in try op(MDB_GET_CURRENT) } }
    /// Positions at `key` and its first value greater than or equal to `value` (`dupSort`).
    public func seek(key: [UInt8], valueAtLeast value: [UInt8]) throws -> Entry? {
        try op(MDB_GET_BOTH_RANGE, key: key, value: value)
    }

    /// Deletes the entry at the cursor (only in a write transaction).
    public func deleteCurrent() throws {
        try LMDBError.check(mdb_cursor_del(cursor, 0))
    }
}
