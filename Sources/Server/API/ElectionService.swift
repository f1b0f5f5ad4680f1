import EtcdProto
import Foundation
import GRPCCore
import MVCC

/// etcd's v3election service: the election recipe of etcd's `concurrency` package run on the server.
/// A candidate's key is `name/<lease id in hex>`; the leader is the key with the lowest create revision
/// under `name/`; its value is the proclaimed value.
struct ElectionService: V3electionpb_Election.SimpleServiceProtocol {
    let member: Member

    static let notLeader = RPCError(code: .unknown, message: "election: not leader")
    static let noLeader = RPCError(code: .unknown, message: "election: no leader")
    static let missingLeaderKey = RPCError(code: .unknown, message: "\"leader\" field must be provided")

    private static func prefix(_ name: Data) -> [UInt8] { [UInt8](name) + Array("/".utf8) }

    func campaign(request: V3electionpb_CampaignRequest, context: ServerContext) async throws -> V3electionpb_CampaignResponse {
        try await withEtcdErrors {
            let prefix = Self.prefix(request.name)
            let key = prefix + Array(String(request.lease, radix: 16).utf8)
            let recipes = Recipes(member: member)
            let value = [UInt8](request.value)
            let (createRevision, existing) = try await recipes.createOrGet(key: key, value: value, lease: request.lease)
            if let existing, existing.value != value {
                try await proclaim(key: key, createRevision: createRevision, lease: request.lease, value: value)
            }
            try await recipes.waitForDeletes(prefix: prefix, before: createRevision)
            var response = V3electionpb_CampaignResponse()
            response.header = member.header()
            response.leader.name = request.name
            response.leader.key = Data(key)
            response.leader.rev = createRevision
            response.leader.lease = request.lease
            return response
        }
    }

    /// Sets the leader's value if `key` still has the create revision it was elected with.
    private func proclaim(key: [UInt8], createRevision: Int64, lease: Int64, value: [UInt8]) async throws {
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.createRevision(of: key, equals: createRevision)]
        txn.success = [.put(key, value: value, lease: lease)]
        guard case .txn(let result) = try await member.proposeForCaller(.txn(txn)) else { throw EtcdError.corrupt }
        if !result.succeeded { throw Self.notLeader }
    }

    func proclaim(request: V3electionpb_ProclaimRequest, context: ServerContext) async throws -> V3electionpb_ProclaimResponse {
        try await withEtcdErrors {
            guard request.hasLeader else { throw Self.missingLeaderKey }
            try await proclaim(key: [UInt8](request.leader.key), createRevision: request.leader.rev,
                               lease: request.leader.lease, value: [UInt8](request.value))
            var response = V3electionpb_ProclaimResponse()
            response.header = member.header()
            return response
        }
    }

    func leader(request: V3electionpb_LeaderRequest, context: ServerContext) async throws -> V3electionpb_LeaderResponse {
        try await withEtcdErrors {
            guard let leader = try Recipes(member: member).owner(prefix: Self.prefix(request.name)) else { throw Self.noLeader }
            var response = V3electionpb_LeaderResponse()
            response.header = member.header()
            response.kv = Mvccpb_KeyValue(leader)
            return response
        }
    }

    func observe(request: V3electionpb_LeaderRequest, response: RPCWriter<V3electionpb_LeaderResponse>, context: ServerContext) async throws {
        let prefix = Self.prefix(request.name)
        let recipes = Recipes(member: member)
        var last: MVCC.KeyValue?
        while !Task.isCancelled {
            let revision = member.store.currentRevision
            let leader = try recipes.owner(prefix: prefix)
            if let leader, leader != last {
                var message = V3electionpb_LeaderResponse()
                message.header = member.header(revision: revision)
                message.kv = Mvccpb_KeyValue(leader)
                try await response.write(message)
                last = leader
            }
            try await waitForChange(prefix: prefix, after: revision)
        }
    }

    /// Waits for any change under `prefix` after `revision`.
    private func waitForChange(prefix: [UInt8], after revision: Int64) async throws {
        let stream = member.store.openWatchStream()
        defer { stream.close() }
        var watch = WatchRequest(key: prefix, rangeEnd: prefixEnd(prefix))
        watch.startRevision = revision + 1
        _ = try stream.create(watch)
        while let message = await stream.next() {
            try Task.checkCancellation()
            switch message {
            case .events, .compacted: return
            default: continue
            }
        }
    }

    func resign(request: V3electionpb_ResignRequest, context: ServerContext) async throws -> V3electionpb_ResignResponse {
        try await withEtcdErrors {
            guard request.hasLeader else { throw Self.missingLeaderKey }
            let key = [UInt8](request.leader.key)
            var txn = Etcdserverpb_TxnRequest()
            txn.compare = [.createRevision(of: key, equals: request.leader.rev)]
            txn.success = [.delete(key)]
            _ = try await member.proposeForCaller(.txn(txn))
            var response = V3electionpb_ResignResponse()
            response.header = member.header()
            return response
        }
    }
}
