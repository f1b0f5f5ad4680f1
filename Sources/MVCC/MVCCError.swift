import LMDB

/// Errors of the versioned store. The API layer maps each to etcd's gRPC code and text.
public enum MVCCError: Error, Sendable, Equatable {
    /// The requested revision is at or below the compact revision.
    case compacted
    /// The requested revision is above the current revision.
    case futureRevision
    /// A lease named by a request does not exist.
    case leaseNotFound
    /// A lease with the requested id already exists.
    case leaseExists
    /// A put with `ignore_value` or `ignore_lease` names a key that does not exist.
    case keyNotFound
    /// A request names the empty key, which cannot be stored (the API layer rejects it first).
    case emptyKey
    /// The backend reached its quota.
    case noSpace
    /// The storage engine failed.
    case storage(LMDBError)
}
