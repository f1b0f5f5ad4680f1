import EtcdProto
import GRPCCore
import Foundation
import MVCC

/// etcd's Lease service. Grants, revocations and keep-alives go through Raft, so every member's
/// lessor knows the current expiries and a new leader expires nothing early.
struct LeaseService: Etcdserverpb_Lease.SimpleServiceProtocol {
    let member: Member

    /// etcd's largest lease TTL (`lease.MaxLeaseTTL`).
    static let maxTTL: Int64 = 9_000_000_000

    func leaseGrant(request: Etcdserverpb_LeaseGrantRequest, context: ServerContext) async throws -> Etcdserverpb_LeaseGrantResponse {
        try await withEtcdErrors {
            let grant = try Self.checkedGrant(request, minTTL: member.config.minLeaseTTL, newID: newLeaseID)
            guard case .leaseGrant(let lease, let revision) = try await member.propose(.leaseGrant(grant)) else {
                throw EtcdError.corrupt
            }
            var response = Etcdserverpb_LeaseGrantResponse()
            response.header = member.header(revision: revision)
            response.id = lease.id
            response.ttl = lease.ttl
            return response
        }
    }

    /// The grant to propose for `request`, as etcd checks it before proposing: a TTL past etcd's largest
    /// is refused, a short one raised to the minimum, a missing id picked by `newID`.
    static func checkedGrant(_ request: Etcdserverpb_LeaseGrantRequest, minTTL: Int64, newID: () -> Int64) throws -> Etcdserverpb_LeaseGrantRequest {
        if request.ttl > maxTTL { throw EtcdError.leaseTTLTooLarge }
        var grant = request
        if grant.id == 0 { grant.id = newID() }
        grant.ttl = max(grant.ttl, minTTL)
        return grant
    }

    /// A random positive id not in use (etcd's lessor ids are random too).
    private func newLeaseID() -> Int64 {
        while true {
            let id = Int64.random(in: 1...Int64.max)
            if !member.store.lessor.contains(id) { return id }
        }
    }

    func leaseRevoke(request: Etcdserverpb_LeaseRevokeRequest, context: ServerContext) async throws -> Etcdserverpb_LeaseRevokeResponse {
        try await withEtcdErrors {
            // The keys are read whether or not authentication is on now: it may be on at the check.
            let keys = try member.store.keys(ofLease: request.id) ?? []
            let checked = try member.authorize(Permissions.leaseKeys(keys))
            guard case .leaseRevoke(let revision) = try await member.proposeChecked(.leaseRevoke(request), revision: checked) else {
                throw EtcdError.corrupt
            }
            var response = Etcdserverpb_LeaseRevokeResponse()
            response.header = member.header(revision: revision)
            return response
        }
    }

    func leaseKeepAlive(
        request: RPCAsyncSequence<Etcdserverpb_LeaseKeepAliveRequest, any Error>,
        response: RPCWriter<Etcdserverpb_LeaseKeepAliveResponse>,
        context: ServerContext
    ) async throws {
        for try await keepAlive in request {
            var reply = Etcdserverpb_LeaseKeepAliveResponse()
            reply.id = keepAlive.id
            // etcd answers TTL 0 for a lease that does not exist (any more).
            reply.ttl = try await withEtcdErrors { try await member.renewLease(keepAlive.id) }
            reply.header = member.header()
            try await response.write(reply)
        }
    }

    func leaseTimeToLive(request: Etcdserverpb_LeaseTimeToLiveRequest, context: ServerContext) async throws -> Etcdserverpb_LeaseTimeToLiveResponse {
        try await withEtcdErrors {
            var response = Etcdserverpb_LeaseTimeToLiveResponse()
            response.header = member.header()
            response.id = request.id
            guard let ttl = member.store.lessor.timeToLive(request.id) else {
                // etcd reports a missing lease as TTL -1, not as an error.
                response.ttl = -1
                return response
            }
            response.ttl = ttl.remaining
            response.grantedTtl = ttl.granted
            if request.keys {
                // Naming the keys needs read permission on each (etcd's fix for CVE-2023-32082).
                let keys = try member.store.keys(ofLease: request.id) ?? []
                try member.authorize { state, user in keys.allSatisfy { state.permits(user, write: false, key: $0, rangeEnd: []) } }
                response.keys = keys.map { Data($0) }
            }
            return response
        }
    }

    func leaseLeases(request: Etcdserverpb_LeaseLeasesRequest, context: ServerContext) async throws -> Etcdserverpb_LeaseLeasesResponse {
        var response = Etcdserverpb_LeaseLeasesResponse()
        response.header = member.header()
        response.leases = member.store.lessor.ids().map { id in
            var status = Etcdserverpb_LeaseStatus()
            status.id = id
            return status
        }
        return response
    }
}
