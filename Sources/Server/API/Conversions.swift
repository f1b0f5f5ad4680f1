import EtcdProto
import Foundation
import MVCC

// Conversions between etcd's wire messages and the store's types. Bytes are copied once each way.

extension Etcdserverpb_RangeRequest {
    var model: MVCC.RangeRequest {
        var request = MVCC.RangeRequest(key: [UInt8](key), rangeEnd: [UInt8](rangeEnd))
        request.limit = limit
        request.revision = revision
        switch sortOrder {
        case .ascend: request.sortOrder = .ascend
        case .descend: request.sortOrder = .descend
        default: request.sortOrder = .none
        }
        switch sortTarget {
        case .version: request.sortTarget = .version
        case .create: request.sortTarget = .create
        case .mod: request.sortTarget = .mod
        case .value: request.sortTarget = .value
        default: request.sortTarget = .key
        }
        request.keysOnly = keysOnly
        request.countOnly = countOnly
        request.minModRevision = minModRevision
        request.maxModRevision = maxModRevision
        request.minCreateRevision = minCreateRevision
        request.maxCreateRevision = maxCreateRevision
        return request
    }
}

extension Etcdserverpb_PutRequest {
    var model: MVCC.PutRequest {
        var request = MVCC.PutRequest(key: [UInt8](key), value: [UInt8](value), lease: lease)
        request.prevKV = prevKv
        request.ignoreValue = ignoreValue
        request.ignoreLease = ignoreLease
        return request
    }
}

extension Etcdserverpb_DeleteRangeRequest {
    var model: MVCC.DeleteRangeRequest {
        MVCC.DeleteRangeRequest(key: [UInt8](key), rangeEnd: [UInt8](rangeEnd), prevKV: prevKv)
    }
}

extension Etcdserverpb_Compare {
    var model: MVCC.Compare {
        let result: MVCC.Compare.Result
        switch self.result {
        case .greater: result = .greater
        case .less: result = .less
        case .notEqual: result = .notEqual
        default: result = .equal
        }
        let operand: MVCC.Compare.Target
        switch target {
        case .create: operand = .create(createRevision)
        case .mod: operand = .mod(modRevision)
        case .value: operand = .value([UInt8](value))
        case .lease: operand = .lease(lease)
        default: operand = .version(version)
        }
        return MVCC.Compare(key: [UInt8](key), rangeEnd: [UInt8](rangeEnd), result: result, target: operand)
    }
}

extension Etcdserverpb_TxnRequest {
    var model: MVCC.TxnRequest {
        MVCC.TxnRequest(compare: compare.map(\.model), success: success.compactMap(\.model), failure: failure.compactMap(\.model))
    }
}

extension Etcdserverpb_TxnRequest {
    /// Whether any branch, at any depth, puts or deletes.
    var writes: Bool {
        (success + failure).contains { op in
            switch op.request {
            case .requestPut, .requestDeleteRange: return true
            case .requestTxn(let inner): return inner.writes
            case .requestRange, nil: return false
            }
        }
    }

    /// Whether every range in a read-only transaction (nested ones included) asks for a serializable
    /// read; otherwise the transaction is read linearizably, as in etcd.
    var serializable: Bool {
        (success + failure).allSatisfy { op in
            switch op.request {
            case .requestRange(let range): return range.serializable
            case .requestTxn(let inner): return inner.serializable
            case .requestPut, .requestDeleteRange, nil: return true
            }
        }
    }
}

extension Etcdserverpb_RequestOp {
    var model: MVCC.RequestOp? {
        switch request {
        case .requestRange(let r): return .range(r.model)
        case .requestPut(let r): return .put(r.model)
        case .requestDeleteRange(let r): return .deleteRange(r.model)
        case .requestTxn(let r): return .txn(r.model)
        case nil: return nil
        }
    }
}

extension Mvccpb_KeyValue {
    init(_ kv: MVCC.KeyValue) {
        self.init()
        key = Data(kv.key)
        createRevision = kv.createRevision
        modRevision = kv.modRevision
        version = kv.version
        value = Data(kv.value)
        lease = kv.lease
    }
}

extension Mvccpb_Event {
    init(_ event: MVCC.Event) {
        self.init()
        type = event.kind == .put ? .put : .delete
        kv = Mvccpb_KeyValue(event.kv)
        if let prev = event.prevKV { prevKv = Mvccpb_KeyValue(prev) }
    }
}

extension Etcdserverpb_RangeResponse {
    init(_ result: MVCC.RangeResult, header: Etcdserverpb_ResponseHeader) {
        self.init()
        self.header = header
        kvs = result.kvs.map(Mvccpb_KeyValue.init)
        more = result.more
        count = result.count
    }
}

extension Etcdserverpb_ResponseOp {
    /// A response inside a transaction; as in etcd, its header carries only a revision.
    init(_ op: MVCC.ResponseOp) {
        self.init()
        switch op {
        case .range(let r):
            response = .responseRange(Etcdserverpb_RangeResponse(r, header: .revisionOnly(r.revision)))
        case .put(let r):
            var put = Etcdserverpb_PutResponse()
            put.header = .revisionOnly(r.revision)
            if let prev = r.prevKV { put.prevKv = Mvccpb_KeyValue(prev) }
            response = .responsePut(put)
        case .deleteRange(let r):
            var delete = Etcdserverpb_DeleteRangeResponse()
            delete.header = .revisionOnly(r.revision)
            delete.deleted = r.deleted
            delete.prevKvs = r.prevKVs.map(Mvccpb_KeyValue.init)
            response = .responseDeleteRange(delete)
        case .txn(let r):
            var txn = Etcdserverpb_TxnResponse()
            // etcd leaves a nested txn's header empty.
            txn.header = Etcdserverpb_ResponseHeader()
            txn.succeeded = r.succeeded
            txn.responses = r.responses.map(Etcdserverpb_ResponseOp.init)
            response = .responseTxn(txn)
        }
    }
}

extension Etcdserverpb_ResponseHeader {
    static func revisionOnly(_ revision: Int64) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.revision = revision
        return header
    }
}
