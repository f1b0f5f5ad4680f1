import EtcdProto
import Foundation

/// Options of a read, as clientv3's `OpOption`s: `client.get("k", .prefix, .limit(10))`.
public enum GetOption: Sendable {
    /// Every key starting with the key.
    case prefix
    /// Every key from the key on.
    case fromKey
    /// Keys up to (not including) this one.
    case rangeEnd(String)
    /// At most this many key-values (the response's `more` tells if there were others).
    case limit(Int64)
    /// Read at this revision (0: the current one).
    case revision(Int64)
    /// Answer from the member's own state, without a linearizable read barrier.
    case serializable
    /// Keys without their values.
    case keysOnly
    /// Only the number of keys (in the response's `count`).
    case countOnly
    /// The order of the key-values.
    case sort(by: Etcdserverpb_RangeRequest.SortTarget, order: Etcdserverpb_RangeRequest.SortOrder)

    /// With an empty key, a prefix or from-key read covers every key (clientv3's rule).
    var widensToEveryKey: Bool {
        switch self {
        case .prefix, .fromKey: true
        default: false
        }
    }
}

/// Options of a delete: `client.delete("dir/", .prefix, .prevKV)`.
public enum DeleteOption: Sendable {
    /// Every key starting with the key.
    case prefix
    /// Every key from the key on.
    case fromKey
    /// Keys up to (not including) this one.
    case rangeEnd(String)
    /// Return the deleted key-values.
    case prevKV

    /// With an empty key, a prefix or from-key delete covers every key (clientv3's rule).
    var widensToEveryKey: Bool {
        switch self {
        case .prefix, .fromKey: true
        default: false
        }
    }
}

extension Etcdserverpb_RangeRequest {
    /// A read of `key` with `options`.
    public init(key: String, _ options: [GetOption]) {
        self.init()
        self.key = Data(key.utf8)
        for option in options {
            switch option {
            case .prefix: rangeEnd = Data(KeyRanges.prefixEnd(of: Array(key.utf8)))
            case .fromKey: rangeEnd = Data([0])
            case .rangeEnd(let end): rangeEnd = Data(end.utf8)
            case .limit(let limit): self.limit = limit
            case .revision(let revision): self.revision = revision
            case .serializable: serializable = true
            case .keysOnly: keysOnly = true
            case .countOnly: countOnly = true
            case .sort(let target, let order):
                sortTarget = target
                sortOrder = order
            }
        }
        // An empty key with a prefix or from-key means every key, as in clientv3.
        if key.isEmpty && options.contains(where: \.widensToEveryKey) {
            self.key = Data([0])
            rangeEnd = Data([0])
        }
    }
}

extension Etcdserverpb_DeleteRangeRequest {
    /// A delete of `key` with `options`.
    public init(key: String, _ options: [DeleteOption]) {
        self.init()
        self.key = Data(key.utf8)
        for option in options {
            switch option {
            case .prefix: rangeEnd = Data(KeyRanges.prefixEnd(of: Array(key.utf8)))
            case .fromKey: rangeEnd = Data([0])
            case .rangeEnd(let end): rangeEnd = Data(end.utf8)
            case .prevKV: prevKv = true
            }
        }
        if key.isEmpty && options.contains(where: \.widensToEveryKey) {
            self.key = Data([0])
            rangeEnd = Data([0])
        }
    }
}

extension EtcdClient {
    /// Reads `key` with clientv3-style options.
    public func get(_ key: String, _ options: GetOption...) async throws -> Etcdserverpb_RangeResponse {
        try await range(Etcdserverpb_RangeRequest(key: key, options))
    }

    /// Deletes `key` with clientv3-style options.
    public func delete(_ key: String, _ options: DeleteOption...) async throws -> Etcdserverpb_DeleteRangeResponse {
        try await delete(Etcdserverpb_DeleteRangeRequest(key: key, options))
    }

    /// Commits a transaction built with `Txn`.
    public func commit(_ txn: Txn) async throws -> Etcdserverpb_TxnResponse {
        try await self.txn(txn.request)
    }
}

/// A transaction builder, as clientv3's `Txn`: if every comparison holds, the `then` operations run,
/// else the `otherwise` ones, all at one revision.
///
/// ```swift
/// let response = try await client.commit(
///     Txn()
///         .when(.value("config/version", .equal, "3"))
///         .then(.put("config/version", "4"), .put("config/updated", "yes"))
///         .otherwise(.get("config/version")))
/// if !response.succeeded { /* someone else changed it first */ }
/// ```
public struct Txn: Sendable {
    /// The request built so far.
    public private(set) var request = Etcdserverpb_TxnRequest()

    public init() {}

    public func when(_ comparisons: TxnCompare...) -> Txn {
        var txn = self
        txn.request.compare += comparisons.map(\.compare)
        return txn
    }

    public func then(_ operations: TxnOp...) -> Txn {
        var txn = self
        txn.request.success += operations.map(\.op)
        return txn
    }

    public func otherwise(_ operations: TxnOp...) -> Txn {
        var txn = self
        txn.request.failure += operations.map(\.op)
        return txn
    }
}

/// A comparison in a transaction.
public struct TxnCompare: Sendable {
    let compare: Etcdserverpb_Compare

    public enum Relation: Sendable {
        case equal, notEqual, less, greater

        var result: Etcdserverpb_Compare.CompareResult {
            switch self {
            case .equal: .equal
            case .notEqual: .notEqual
            case .less: .less
            case .greater: .greater
            }
        }
    }

    private static func make(_ key: String, _ relation: Relation, _ target: Etcdserverpb_Compare.CompareTarget,
                             _ set: (inout Etcdserverpb_Compare) -> Void) -> TxnCompare {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key.utf8)
        compare.result = relation.result
        compare.target = target
        set(&compare)
        return TxnCompare(compare: compare)
    }

    /// The key's value (a missing key has none, so only `notEqual` can hold for it).
    public static func value(_ key: String, _ relation: Relation, _ value: String) -> TxnCompare {
        make(key, relation, .value) { $0.value = Data(value.utf8) }
    }

    /// The key's version: the number of writes since it was created (0: missing).
    public static func version(_ key: String, _ relation: Relation, _ version: Int64) -> TxnCompare {
        make(key, relation, .version) { $0.version = version }
    }

    /// The revision that created the key (0: missing).
    public static func createRevision(_ key: String, _ relation: Relation, _ revision: Int64) -> TxnCompare {
        make(key, relation, .create) { $0.createRevision = revision }
    }

    /// The revision of the key's last write.
    public static func modRevision(_ key: String, _ relation: Relation, _ revision: Int64) -> TxnCompare {
        make(key, relation, .mod) { $0.modRevision = revision }
    }

    /// The lease the key is attached to (0: none).
    public static func lease(_ key: String, _ relation: Relation, _ lease: Int64) -> TxnCompare {
        make(key, relation, .lease) { $0.lease = lease }
    }
}

/// An operation in a transaction.
public struct TxnOp: Sendable {
    let op: Etcdserverpb_RequestOp

    public static func put(_ key: String, _ value: String, lease: Int64 = 0, prevKV: Bool = false) -> TxnOp {
        var put = Etcdserverpb_PutRequest()
        put.key = Data(key.utf8)
        put.value = Data(value.utf8)
        put.lease = lease
        put.prevKv = prevKV
        var op = Etcdserverpb_RequestOp()
        op.requestPut = put
        return TxnOp(op: op)
    }

    public static func get(_ key: String, _ options: GetOption...) -> TxnOp {
        var op = Etcdserverpb_RequestOp()
        op.requestRange = Etcdserverpb_RangeRequest(key: key, options)
        return TxnOp(op: op)
    }

    public static func delete(_ key: String, _ options: DeleteOption...) -> TxnOp {
        var op = Etcdserverpb_RequestOp()
        op.requestDeleteRange = Etcdserverpb_DeleteRangeRequest(key: key, options)
        return TxnOp(op: op)
    }

    /// A nested transaction.
    public static func txn(_ txn: Txn) -> TxnOp {
        var op = Etcdserverpb_RequestOp()
        op.requestTxn = txn.request
        return TxnOp(op: op)
    }
}
