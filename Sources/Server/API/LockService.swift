import EtcdProto
import Foundation
import GRPCCore
import MVCC

/// etcd's v3lock service: the mutex recipe of etcd's `concurrency` package, run on the server with the
/// caller's lease. The key is `name/<lease id in hex>`; the owner is the key with the lowest create
/// revision under `name/`; a waiter waits for every key created before its own to be deleted.
struct LockService: V3lockpb_Lock.SimpleServiceProtocol {
    let member: Member

    func lock(request: V3lockpb_LockRequest, context: ServerContext) async throws -> V3lockpb_LockResponse {
        try await withEtcdErrors {
            let prefix = [UInt8](request.name) + Array("/".utf8)
            let key = prefix + Array(String(request.lease, radix: 16).utf8)
            // Create our key unless this lease already holds one (re-entrant lock attempt).
            var txn = Etcdserverpb_TxnRequest()
            var compare = Etcdserverpb_Compare()
            compare.key = Data(key)
            compare.target = .create
            compare.result = .equal
            compare.createRevision = 0
            txn.compare = [compare]
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key)
            put.lease = request.lease
            var putOp = Etcdserverpb_RequestOp()
            putOp.requestPut = put
            txn.success = [putOp]
            var get = Etcdserverpb_RangeRequest()
            get.key = Data(key)
            var getOp = Etcdserverpb_RequestOp()
            getOp.requestRange = get
            txn.failure = [getOp]
            guard case .txn(let result) = try await member.propose(.txn(txn)) else { throw EtcdError.corrupt }
            let myRevision: Int64
            if result.succeeded {
                myRevision = result.revision
            } else if case .range(let range)? = result.responses.first, let kv = range.kvs.first {
                myRevision = kv.createRevision
            } else {
                throw EtcdError.leaseNotFound
            }
            try await waitForDeletes(prefix: prefix, before: myRevision)
            var response = V3lockpb_LockResponse()
            response.header = member.header()
            response.key = Data(key)
            return response
        }
    }

    /// Waits until no key under `prefix` has a create revision below `revision`.
    private func waitForDeletes(prefix: [UInt8], before revision: Int64) async throws {
        let end = prefixEnd(prefix)
        while true {
            var request = MVCC.RangeRequest(key: prefix, rangeEnd: end)
            request.maxCreateRevision = revision - 1
            request.sortOrder = .descend
            request.sortTarget = .create
            request.limit = 1
            let result = try member.store.range(request)
            guard let last = result.kvs.first else { return }
            try await waitForDelete(of: last.key, after: result.revision)
        }
    }

    private func waitForDelete(of key: [UInt8], after revision: Int64) async throws {
        let stream = member.store.openWatchStream()
        defer { stream.close() }
        var watch = WatchRequest(key: key)
        watch.startRevision = revision + 1
        watch.noPut = true
        _ = try stream.create(watch)
        while let message = await stream.next() {
            try Task.checkCancellation()
            switch message {
            case .events(_, let events, _) where events.contains(where: { $0.kind == .delete }): return
            case .compacted: return
            default: continue
            }
        }
    }

    func unlock(request: V3lockpb_UnlockRequest, context: ServerContext) async throws -> V3lockpb_UnlockResponse {
        try await withEtcdErrors {
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = request.key
            _ = try await member.propose(.deleteRange(delete))
            var response = V3lockpb_UnlockResponse()
            response.header = member.header()
            return response
        }
    }
}

/// The end of the range of keys starting with `prefix` (etcd's `GetPrefixRangeEnd`).
func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
    var end = prefix
    while let last = end.last {
        if last < 0xFF {
            end[end.count - 1] = last + 1
            return end
        }
        end.removeLast()
    }
    return [0]
}
