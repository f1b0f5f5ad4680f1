import EtcdProto
import GRPCCore

/// etcd's Cluster service for a single member: the member list. Membership changes need Raft.
struct ClusterService: Etcdserverpb_Cluster.SimpleServiceProtocol {
    let member: Member

    func memberList(request: Etcdserverpb_MemberListRequest, context: ServerContext) async throws -> Etcdserverpb_MemberListResponse {
        var response = Etcdserverpb_MemberListResponse()
        // etcd's Cluster service headers carry no revision.
        response.header = member.header(revision: 0)
        response.members = [member.memberMessage]
        return response
    }

    func memberAdd(request: Etcdserverpb_MemberAddRequest, context: ServerContext) async throws -> Etcdserverpb_MemberAddResponse {
        throw RPCError(code: .unimplemented, message: "setcd: membership changes arrive with Raft (issue 3)")
    }

    func memberRemove(request: Etcdserverpb_MemberRemoveRequest, context: ServerContext) async throws -> Etcdserverpb_MemberRemoveResponse {
        throw RPCError(code: .unimplemented, message: "setcd: membership changes arrive with Raft (issue 3)")
    }

    func memberUpdate(request: Etcdserverpb_MemberUpdateRequest, context: ServerContext) async throws -> Etcdserverpb_MemberUpdateResponse {
        throw RPCError(code: .unimplemented, message: "setcd: membership changes arrive with Raft (issue 3)")
    }

    func memberPromote(request: Etcdserverpb_MemberPromoteRequest, context: ServerContext) async throws -> Etcdserverpb_MemberPromoteResponse {
        throw RPCError(code: .unimplemented, message: "setcd: membership changes arrive with Raft (issue 3)")
    }
}
