import EtcdProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Raft

/// etcd's Cluster service: the member list and membership changes, which go through Raft as
/// conf-change entries and answer once this member has applied them.
struct ClusterService: Etcdserverpb_Cluster.SimpleServiceProtocol {
    let member: Member

    /// A learner is ready for promotion once it holds 90% of the leader's log (etcd's `readyPercent`).
    static let learnerReadyPercent: UInt64 = 90

    func memberList(request: Etcdserverpb_MemberListRequest, context: ServerContext) async throws -> Etcdserverpb_MemberListResponse {
        var response = Etcdserverpb_MemberListResponse()
        // etcd's Cluster service headers carry no revision.
        response.header = member.header(revision: 0)
        response.members = member.membership.all.map(\.message)
        return response
    }

    func memberAdd(request: Etcdserverpb_MemberAddRequest, context: ServerContext) async throws -> Etcdserverpb_MemberAddResponse {
        try await withEtcdErrors {
            try member.authorizeAdmin()
            let urls = try Self.validatedPeerURLs(request.peerUrls)
            try member.checkMayAdd(isLearner: request.isLearner)
            let members = member.membership.all
            if members.contains(where: { !Set($0.peerURLs).isDisjoint(with: urls) }) { throw EtcdError.peerURLExists }
            if request.isLearner && members.contains(where: \.isLearner) { throw EtcdError.tooManyLearners }
            let id = MemberRecord.computeID(peerURLs: urls, clusterToken: member.config.initialClusterToken, addedAt: Date())
            if members.contains(where: { $0.id == id }) { throw EtcdError.memberExists }
            let record = MemberRecord(id: id, name: "", peerURLs: urls, clientURLs: [], isLearner: request.isLearner)
            let after = try await member.proposeConfChange(request.isLearner ? .addLearnerNode : .addNode, record: record)
            var response = Etcdserverpb_MemberAddResponse()
            response.header = member.header(revision: 0)
            response.member = record.message
            response.members = after.map(\.message)
            return response
        }
    }

    func memberRemove(request: Etcdserverpb_MemberRemoveRequest, context: ServerContext) async throws -> Etcdserverpb_MemberRemoveResponse {
        try await withEtcdErrors {
            try member.authorizeAdmin()
            guard let record = member.membership.record(request.id) else { throw EtcdError.memberNotFound }
            try member.checkMayRemove(record.id)
            let after = try await member.proposeConfChange(.removeNode, record: record)
            var response = Etcdserverpb_MemberRemoveResponse()
            response.header = member.header(revision: 0)
            response.members = after.map(\.message)
            return response
        }
    }

    func memberUpdate(request: Etcdserverpb_MemberUpdateRequest, context: ServerContext) async throws -> Etcdserverpb_MemberUpdateResponse {
        try await withEtcdErrors {
            try member.authorizeAdmin()
            let urls = try Self.validatedPeerURLs(request.peerUrls)
            guard var record = member.membership.record(request.id) else { throw EtcdError.memberNotFound }
            if member.membership.all.contains(where: { $0.id != record.id && !Set($0.peerURLs).isDisjoint(with: urls) }) {
                throw EtcdError.peerURLExists
            }
            record.peerURLs = urls
            guard case .members(let after) = try await member.proposeEntry(.memberPeerURLs(record)) else { throw EtcdError.corrupt }
            var response = Etcdserverpb_MemberUpdateResponse()
            response.header = member.header(revision: 0)
            response.members = after.map(\.message)
            return response
        }
    }

    func memberPromote(request: Etcdserverpb_MemberPromoteRequest, context: ServerContext) async throws -> Etcdserverpb_MemberPromoteResponse {
        try await withEtcdErrors {
            try member.authorizeAdmin()
            guard var record = member.membership.record(request.id) else { throw EtcdError.memberNotFound }
            guard record.isLearner else { throw EtcdError.memberNotLearner }
            try member.checkMayPromote()
            let info = member.raftInfo
            // Only the leader knows how far the learner is: a follower forwards the request to it, as etcd does.
            guard info.role == .leader else {
                var response = try await forwardToLeader(request, leader: info.leader)
                response.header = member.header(revision: 0)
                return response
            }
            let leaderMatch = info.progress[member.identity.memberID]?.match ?? info.lastIndex
            let learnerMatch = info.progress[record.id]?.match ?? 0
            if learnerMatch * 100 < leaderMatch * Self.learnerReadyPercent { throw EtcdError.learnerNotReady }
            record.isLearner = false
            let after = try await member.proposeConfChange(.addNode, record: record)
            var response = Etcdserverpb_MemberPromoteResponse()
            response.header = member.header(revision: 0)
            response.members = after.map(\.message)
            return response
        }
    }

    /// Sends a promotion to the leader's client URL and returns its answer (errors included).
    private func forwardToLeader(_ request: Etcdserverpb_MemberPromoteRequest, leader: UInt64) async throws -> Etcdserverpb_MemberPromoteResponse {
        guard leader != 0, let url = member.membership.record(leader)?.clientURLs.first, let address = hostAndPort(ofURL: url) else {
            throw EtcdError.noLeader
        }
        var options = CallOptions.defaults
        options.timeout = member.config.requestTimeout
        do {
            return try await withGRPCClient(transport: try .http2NIOPosix(target: .dns(host: address.host, port: address.port), transportSecurity: .plaintext)) { client in
                try await Etcdserverpb_Cluster.Client(wrapping: client).memberPromote(request, options: options)
            }
        } catch let error as RPCError {
            // Only the status travels on: the leader's trailers (grpc-status, ...) must not become ours.
            throw RPCError(code: error.code, message: error.message)
        }
    }

    /// The peer URLs of a request, or etcd's error if one is not a URL.
    static func validatedPeerURLs(_ urls: [String]) throws -> [String] {
        guard !urls.isEmpty, urls.allSatisfy({ hostAndPort(ofURL: $0) != nil }) else {
            throw RPCError(code: .invalidArgument, message: "etcdserver: given member URLs are invalid")
        }
        return urls
    }
}
