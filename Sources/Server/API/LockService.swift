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
            let recipes = Recipes(member: member)
            let myRevision = try await recipes.createOrGet(key: key, value: [], lease: request.lease).createRevision
            try await recipes.waitForDeletes(prefix: prefix, before: myRevision)
            var response = V3lockpb_LockResponse()
            response.header = member.header()
            response.key = Data(key)
            return response
        }
    }

    func unlock(request: V3lockpb_UnlockRequest, context: ServerContext) async throws -> V3lockpb_UnlockResponse {
        try await withEtcdErrors {
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = request.key
            _ = try await member.proposeForCaller(.deleteRange(delete))
            var response = V3lockpb_UnlockResponse()
            response.header = member.header()
            return response
        }
    }
}

