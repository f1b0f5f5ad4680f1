import EtcdProto
import GRPCCore
import MVCC

/// etcd's KV service: writes go through Raft; a linearizable read (the default) first waits for a
/// read index (thesis §6.4), a serializable one reads this member's applied state at once.
struct KVService: Etcdserverpb_KV.SimpleServiceProtocol {
    let member: Member

    func range(request: Etcdserverpb_RangeRequest, context: ServerContext) async throws -> Etcdserverpb_RangeResponse {
        try await withEtcdErrors {
            try RequestChecks.range(request)
            try member.authorize(Permissions.range(request))
            if !request.serializable {
                if member.isLearner { throw EtcdError.notSupportedForLearner }
                try await member.linearizableReadBarrier()
            }
            let result = try member.store.range(request.model)
            return Etcdserverpb_RangeResponse(result, header: member.header(revision: result.revision))
        }
    }

    func put(request: Etcdserverpb_PutRequest, context: ServerContext) async throws -> Etcdserverpb_PutResponse {
        try await withEtcdErrors {
            try RequestChecks.put(request)
            let leaseKeys = request.lease != 0 ? (try member.store.keys(ofLease: request.lease) ?? []) : []
            let revision = try member.authorize(Permissions.put(request, leaseKeys: leaseKeys))
            guard case .txn(let txn) = try await member.proposeChecked(.put(request), revision: revision), case .put(let put)? = txn.responses.first else {
                throw EtcdError.corrupt
            }
            var response = Etcdserverpb_PutResponse()
            response.header = member.header(revision: txn.revision)
            if let prev = put.prevKV { response.prevKv = Mvccpb_KeyValue(prev) }
            return response
        }
    }

    func deleteRange(request: Etcdserverpb_DeleteRangeRequest, context: ServerContext) async throws -> Etcdserverpb_DeleteRangeResponse {
        try await withEtcdErrors {
            try RequestChecks.delete(request)
            let revision = try member.authorize(Permissions.delete(request))
            guard case .txn(let txn) = try await member.proposeChecked(.deleteRange(request), revision: revision),
                  case .deleteRange(let delete)? = txn.responses.first
            else { throw EtcdError.corrupt }
            var response = Etcdserverpb_DeleteRangeResponse()
            response.header = member.header(revision: txn.revision)
            response.deleted = delete.deleted
            response.prevKvs = delete.prevKVs.map(Mvccpb_KeyValue.init)
            return response
        }
    }

    func txn(request: Etcdserverpb_TxnRequest, context: ServerContext) async throws -> Etcdserverpb_TxnResponse {
        try await withEtcdErrors {
            try RequestChecks.txn(request, maxTxnOps: member.config.maxTxnOps)
            let revision = try member.authorize(Permissions.txn(request))
            let result: MVCC.TxnResult
            if !request.writes {
                if !request.serializable { try await member.linearizableReadBarrier() }
                result = try member.store.readOnlyTxn(request.model)
            } else {
                guard case .txn(let txn) = try await member.proposeChecked(.txn(request), revision: revision) else { throw EtcdError.corrupt }
                result = txn
            }
            var response = Etcdserverpb_TxnResponse()
            response.header = member.header(revision: result.revision)
            response.succeeded = result.succeeded
            response.responses = result.responses.map(Etcdserverpb_ResponseOp.init)
            return response
        }
    }

    func compact(request: Etcdserverpb_CompactionRequest, context: ServerContext) async throws -> Etcdserverpb_CompactionResponse {
        try await withEtcdErrors {
            guard case .compact(let revision) = try await member.propose(.compaction(request)) else { throw EtcdError.corrupt }
            var response = Etcdserverpb_CompactionResponse()
            response.header = member.header(revision: revision)
            return response
        }
    }
}

/// etcd's request validation before anything is proposed (`api/v3rpc/key.go`).
enum RequestChecks {
    static func range(_ r: Etcdserverpb_RangeRequest) throws {
        if r.key.isEmpty { throw EtcdError.emptyKey }
    }

    static func put(_ r: Etcdserverpb_PutRequest) throws {
        if r.key.isEmpty { throw EtcdError.emptyKey }
        if r.ignoreValue && !r.value.isEmpty { throw EtcdError.valueProvided }
        if r.ignoreLease && r.lease != 0 { throw EtcdError.leaseProvided }
    }

    static func delete(_ r: Etcdserverpb_DeleteRangeRequest) throws {
        if r.key.isEmpty { throw EtcdError.emptyKey }
    }

    static func txn(_ r: Etcdserverpb_TxnRequest, maxTxnOps: Int) throws {
        try txnOps(r, maxTxnOps: maxTxnOps)
        _ = try intervals(r.success)
        _ = try intervals(r.failure)
    }

    private static func txnOps(_ r: Etcdserverpb_TxnRequest, maxTxnOps: Int) throws {
        let opc = max(r.compare.count, r.success.count, r.failure.count)
        if opc > maxTxnOps { throw EtcdError.tooManyOps }
        for c in r.compare where c.key.isEmpty { throw EtcdError.emptyKey }
        for op in r.success + r.failure {
            switch op.request {
            case .requestRange(let x): try range(x)
            case .requestPut(let x): try put(x)
            case .requestDeleteRange(let x): try delete(x)
            case .requestTxn(let x): try txnOps(x, maxTxnOps: maxTxnOps - opc)
            case nil: throw EtcdError.keyNotFound
            }
        }
    }

    /// A delete's key interval as etcd's `checkIntervals` sees it: a point for an empty `end`, else
    /// [start, end) compared as plain strings, so a from-key (`end == [0]`) interval contains nothing
    /// and never conflicts with a put, exactly as in etcd.
    private struct Interval {
        let start: [UInt8]
        let end: [UInt8]

        func contains(_ key: [UInt8]) -> Bool {
            if end.isEmpty { return key == start }
            return !key.lexicographicallyPrecedes(start) && key.lexicographicallyPrecedes(end)
        }
    }

    /// etcd's duplicate-key rule (`checkIntervals`): within one branch no key is put twice or put and
    /// deleted; the two branches of a nested txn are exclusive, so each may put the same key.
    private static func intervals(_ ops: [Etcdserverpb_RequestOp]) throws -> (puts: Set<[UInt8]>, deletes: [Interval]) {
        var deletes: [Interval] = []
        for op in ops {
            if case .requestDeleteRange(let d) = op.request {
                deletes.append(Interval(start: [UInt8](d.key), end: [UInt8](d.rangeEnd)))
            }
        }
        var puts = Set<[UInt8]>()
        for op in ops {
            guard case .requestTxn(let inner) = op.request else { continue }
            let then = try intervals(inner.success)
            let otherwise = try intervals(inner.failure)
            for key in then.puts {
                if puts.contains(key) || deletes.contains(where: { $0.contains(key) }) { throw EtcdError.duplicateKey }
                puts.insert(key)
            }
            for key in otherwise.puts {
                if puts.contains(key) && !then.puts.contains(key) { throw EtcdError.duplicateKey }
                if deletes.contains(where: { $0.contains(key) }) { throw EtcdError.duplicateKey }
                puts.insert(key)
            }
            deletes += then.deletes + otherwise.deletes
        }
        for op in ops {
            guard case .requestPut(let p) = op.request else { continue }
            let key = [UInt8](p.key)
            if puts.contains(key) || deletes.contains(where: { $0.contains(key) }) { throw EtcdError.duplicateKey }
            puts.insert(key)
        }
        return (puts, deletes)
    }
}
