/// A read of a key or key range at one revision (etcd's RangeRequest, minus transport concerns).
public struct RangeRequest: Sendable, Equatable {
    /// Order of the result (`none`: by key, unless another target asks for ascending).
    public enum SortOrder: Sendable { case none, ascend, descend }
    /// The field the result is sorted by.
    public enum SortTarget: Sendable { case key, version, create, mod, value }

    public var key: [UInt8]
    /// Empty: the single key. `[0]`: every key >= `key`. Otherwise the half-open range [key, rangeEnd).
    public var rangeEnd: [UInt8] = []
    /// At most this many keys (0: no limit).
    public var limit: Int64 = 0
    /// Read at this revision (<= 0: the current one).
    public var revision: Int64 = 0
    public var sortOrder: SortOrder = .none
    public var sortTarget: SortTarget = .key
    public var keysOnly = false
    public var countOnly = false
    public var minModRevision: Int64 = 0
    public var maxModRevision: Int64 = 0
    public var minCreateRevision: Int64 = 0
    public var maxCreateRevision: Int64 = 0

    public init(key: [UInt8], rangeEnd: [UInt8] = []) {
        self.key = key
        self.rangeEnd = rangeEnd
    }
}

/// The answer to a `RangeRequest`.
public struct RangeResult: Sendable, Equatable {
    public var kvs: [KeyValue]
    /// More keys matched than `limit` allowed.
    public var more: Bool
    /// The number of keys in the range at the revision (before the min/max filters and the limit).
    public var count: Int64
    /// The store's revision when the range was read (etcd reports it even for reads at older revisions).
    public var revision: Int64
}

/// A put of one key (etcd's PutRequest).
public struct PutRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var lease: Int64 = 0
    public var prevKV = false
    public var ignoreValue = false
    public var ignoreLease = false

    public init(key: [UInt8], value: [UInt8], lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.lease = lease
    }
}

/// The answer to a put.
public struct PutResult: Sendable, Equatable {
    public var revision: Int64
    public var prevKV: KeyValue?
}

/// A deletion of a key or key range (etcd's DeleteRangeRequest).
public struct DeleteRangeRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var rangeEnd: [UInt8] = []
    public var prevKV = false

    public init(key: [UInt8], rangeEnd: [UInt8] = [], prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.prevKV = prevKV
    }
}

/// The answer to a delete.
public struct DeleteRangeResult: Sendable, Equatable {
    public var revision: Int64
    public var deleted: Int64
    public var prevKVs: [KeyValue]
}

/// One guard of a transaction (etcd's Compare).
public struct Compare: Sendable, Equatable {
    /// How the key's field must relate to the operand.
    public enum Result: Sendable { case equal, greater, less, notEqual }
    /// What is compared, with the operand.
    public enum Target: Sendable, Equatable {
        case version(Int64), create(Int64), mod(Int64), value([UInt8]), lease(Int64)
    }

    public var result: Result
    public var target: Target
    public var key: [UInt8]
    public var rangeEnd: [UInt8]

    public init(key: [UInt8], rangeEnd: [UInt8] = [], result: Result, target: Target) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.result = result
        self.target = target
    }
}

/// One operation inside a transaction.
public indirect enum RequestOp: Sendable, Equatable {
    case range(RangeRequest)
    case put(PutRequest)
    case deleteRange(DeleteRangeRequest)
    case txn(TxnRequest)
}

/// The result of one operation inside a transaction. `revision` fields carry what etcd puts in each
/// inner response header.
public indirect enum ResponseOp: Sendable, Equatable {
    case range(RangeResult)
    case put(PutResult)
    case deleteRange(DeleteRangeResult)
    case txn(TxnResult)
}

/// A transaction: if every compare holds, the success ops run, else the failure ops (etcd's TxnRequest).
public struct TxnRequest: Sendable, Equatable {
    public var compare: [Compare]
    public var success: [RequestOp]
    public var failure: [RequestOp]

    public init(compare: [Compare] = [], success: [RequestOp] = [], failure: [RequestOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    /// True if no branch, at any depth, writes.
    public var isReadOnly: Bool {
        (success + failure).allSatisfy { op in
            switch op {
            case .range: return true
            case .put, .deleteRange: return false
            case .txn(let inner): return inner.isReadOnly
            }
        }
    }
}

/// The answer to a transaction.
public struct TxnResult: Sendable, Equatable {
    public var succeeded: Bool
    public var responses: [ResponseOp]
    /// The store's revision after the transaction.
    public var revision: Int64
}

/// A lease as stored: id and granted TTL in seconds.
public struct Lease: Sendable, Equatable {
    public var id: Int64
    public var ttl: Int64

    public init(id: Int64, ttl: Int64) {
        self.id = id
        self.ttl = ttl
    }
}

/// A change to the store, as committed through the write path (one per log entry).
public enum Operation: Sendable, Equatable {
    /// Puts, deletes and transactions (a lone put or delete is a one-op transaction).
    case txn(TxnRequest)
    /// Compact history up to (but not including) the revision.
    case compact(revision: Int64)
    case leaseGrant(Lease)
    /// Revoke a lease, deleting its keys in one revision.
    case leaseRevoke(id: Int64)
    /// An entry that changes nothing in the key space (e.g. a membership or alarm record).
    case noop
    /// Stores (or, with a nil value, deletes) a cluster record, such as a member, atomically with the
    /// applied index; it changes no revision. The key is 1 to 511 bytes.
    case clusterRecord(key: [UInt8], value: [UInt8]?)
    /// Several cluster record changes at once (e.g. every node a v2 request touched).
    case clusterRecords([ClusterRecordChange])
}

/// A cluster record to store (or, with a nil value, delete).
public struct ClusterRecordChange: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]?

    public init(key: [UInt8], value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// The result of applying an `Operation`.
public enum OperationResult: Sendable, Equatable {
    case txn(TxnResult)
    case compact(revision: Int64)
    case leaseGrant(Lease, revision: Int64)
    case leaseRevoke(revision: Int64)
    case noop(revision: Int64)
    case failure(MVCCError)
}
