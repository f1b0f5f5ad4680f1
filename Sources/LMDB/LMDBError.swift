import CLMDB

/// An error returned by liblmdb, carrying its return code.
public struct LMDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The liblmdb (or errno) return code.
    public let code: Int32

    public init(code: Int32) { self.code = code }

    /// The map is full: the environment cannot grow further without exceeding its maximum size.
    public static let mapFull = LMDBError(code: MDB_MAP_FULL)
    /// The key or key/data pair was not found.
    public static let notFound = LMDBError(code: MDB_NOTFOUND)
    /// The key/data pair already exists (with `MDB_NOOVERWRITE`).
    public static let keyExists = LMDBError(code: MDB_KEYEXIST)

    public var description: String { "lmdb: " + String(cString: mdb_strerror(code)) + " (\(code))" }

    /// Throws unless `rc` is `MDB_SUCCESS`.
    @inline(__always)
    static func check(_ rc: Int32) throws(LMDBError) {
        if rc != 0 { throw LMDBError(code: rc) }
    }
}
