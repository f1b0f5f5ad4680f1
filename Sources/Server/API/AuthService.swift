import EtcdProto
import Foundation
import GRPCCore

/// etcd's Auth service: changes go through the log (checked for the root role once authentication
/// is enabled); reads answer from this member's applied state after a linearizable read barrier.
struct AuthService: Etcdserverpb_Auth.SimpleServiceProtocol {
    let member: Member

    func authEnable(request: Etcdserverpb_AuthEnableRequest, context: ServerContext) async throws -> Etcdserverpb_AuthEnableResponse {
        try await change(.enable)
        return .with { $0.header = member.header() }
    }

    func authDisable(request: Etcdserverpb_AuthDisableRequest, context: ServerContext) async throws -> Etcdserverpb_AuthDisableResponse {
        try await change(.disable)
        return .with { $0.header = member.header() }
    }

    /// Not in etcd 3.4 (its clients never ask); answered as 3.4 does.
    func authStatus(request: Etcdserverpb_AuthStatusRequest, context: ServerContext) async throws -> Etcdserverpb_AuthStatusResponse {
        throw RPCError(code: .unimplemented, message: "unknown method AuthStatus for service etcdserverpb.Auth")
    }

    /// Checks the password here, then issues the token through the log so every member knows it; the
    /// entry is applied only if the auth state is still the one the password was checked against
    /// (else the check is made again, as etcd does).
    func authenticate(request: Etcdserverpb_AuthenticateRequest, context: ServerContext) async throws -> Etcdserverpb_AuthenticateResponse {
        try await withEtcdErrors {
            try await member.linearizableReadBarrier()
            while true {
                let state = member.auth.current
                guard state.enabled else { throw AuthError.authNotEnabled }
                guard let user = state.users[request.name] else { throw AuthError.authFailed }
                guard let hash = user.passwordHash else {
                    throw RPCError(code: .unknown, message: "auth: authentication failed, password was given for no password user")
                }
                guard PasswordHash.verify(request.password, against: hash) else { throw AuthError.authFailed }
                let proposal = Proposal.authenticate(user: request.name, tokenPrefix: AuthStore.tokenPrefix())
                switch try await member.proposeEntry(.authorized(revision: state.revision, proposal)) {
                case .token(let issued):
                    var response = Etcdserverpb_AuthenticateResponse()
                    response.header = member.header()
                    response.token = try issued.get()
                    return response
                case .rejected(.authOldRevision):
                    continue
                case .rejected(let error):
                    throw error
                default:
                    throw EtcdError.corrupt
                }
            }
        }
    }

    func userAdd(request: Etcdserverpb_AuthUserAddRequest, context: ServerContext) async throws -> Etcdserverpb_AuthUserAddResponse {
        // Hashed only once the caller may add users: hashing is deliberately slow.
        try await change { .userAdd(name: request.name, passwordHash: request.options.noPassword ? nil : PasswordHash.make(request.password)) }
        return .with { $0.header = member.header() }
    }

    func userGet(request: Etcdserverpb_AuthUserGetRequest, context: ServerContext) async throws -> Etcdserverpb_AuthUserGetResponse {
        try await withEtcdErrors {
            let state = try await readState(allowed: { state, caller in caller == request.name })
            guard let user = state.users[request.name] else { throw AuthError.userNotFound }
            return .with {
                $0.header = member.header()
                $0.roles = user.roles
            }
        }
    }

    func userList(request: Etcdserverpb_AuthUserListRequest, context: ServerContext) async throws -> Etcdserverpb_AuthUserListResponse {
        try await withEtcdErrors {
            let state = try await readState()
            return .with {
                $0.header = member.header()
                $0.users = state.users.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            }
        }
    }

    func userDelete(request: Etcdserverpb_AuthUserDeleteRequest, context: ServerContext) async throws -> Etcdserverpb_AuthUserDeleteResponse {
        try await change(.userDelete(name: request.name))
        return .with { $0.header = member.header() }
    }

    func userChangePassword(
        request: Etcdserverpb_AuthUserChangePasswordRequest, context: ServerContext
    ) async throws -> Etcdserverpb_AuthUserChangePasswordResponse {
        try await change { .userChangePassword(name: request.name, passwordHash: PasswordHash.make(request.password)) }
        return .with { $0.header = member.header() }
    }

    func userGrantRole(request: Etcdserverpb_AuthUserGrantRoleRequest, context: ServerContext) async throws -> Etcdserverpb_AuthUserGrantRoleResponse {
        try await change(.userGrantRole(name: request.user, role: request.role))
        return .with { $0.header = member.header() }
    }

    func userRevokeRole(request: Etcdserverpb_AuthUserRevokeRoleRequest, context: ServerContext) async throws -> Etcdserverpb_AuthUserRevokeRoleResponse {
        try await change(.userRevokeRole(name: request.name, role: request.role))
        return .with { $0.header = member.header() }
    }

    func roleAdd(request: Etcdserverpb_AuthRoleAddRequest, context: ServerContext) async throws -> Etcdserverpb_AuthRoleAddResponse {
        try await change(.roleAdd(name: request.name))
        return .with { $0.header = member.header() }
    }

    func roleGet(request: Etcdserverpb_AuthRoleGetRequest, context: ServerContext) async throws -> Etcdserverpb_AuthRoleGetResponse {
        try await withEtcdErrors {
            let state = try await readState(allowed: { state, caller in state.users[caller]?.roles.contains(request.role) ?? false })
            guard let permissions = state.roles[request.role] else { throw AuthError.roleNotFound }
            return .with {
                $0.header = member.header()
                $0.perm = permissions.map { permission in
                    .with {
                        $0.permType = Authpb_Permission.TypeEnum(rawValue: permission.type) ?? .read
                        $0.key = Data(permission.key)
                        $0.rangeEnd = Data(permission.rangeEnd)
                    }
                }
            }
        }
    }

    func roleList(request: Etcdserverpb_AuthRoleListRequest, context: ServerContext) async throws -> Etcdserverpb_AuthRoleListResponse {
        try await withEtcdErrors {
            let state = try await readState()
            return .with {
                $0.header = member.header()
                $0.roles = state.roles.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            }
        }
    }

    func roleDelete(request: Etcdserverpb_AuthRoleDeleteRequest, context: ServerContext) async throws -> Etcdserverpb_AuthRoleDeleteResponse {
        try await change(.roleDelete(name: request.role))
        return .with { $0.header = member.header() }
    }

    func roleGrantPermission(
        request: Etcdserverpb_AuthRoleGrantPermissionRequest, context: ServerContext
    ) async throws -> Etcdserverpb_AuthRoleGrantPermissionResponse {
        // etcd 3.4 crashes on a grant without a permission; refuse it instead.
        guard request.hasPerm else { throw RPCError(code: .invalidArgument, message: "etcdserver: permission is not provided") }
        let permission = AuthState.Permission(type: request.perm.permType.rawValue, key: Array(request.perm.key), rangeEnd: Array(request.perm.rangeEnd))
        try await change(.roleGrantPermission(name: request.name, permission))
        return .with { $0.header = member.header() }
    }

    func roleRevokePermission(
        request: Etcdserverpb_AuthRoleRevokePermissionRequest, context: ServerContext
    ) async throws -> Etcdserverpb_AuthRoleRevokePermissionResponse {
        try await change(.roleRevokePermission(name: request.role, key: Array(request.key), rangeEnd: Array(request.rangeEnd)))
        return .with { $0.header = member.header() }
    }

    /// Proposes a change once the caller may make it, and waits until it is applied.
    private func change(_ change: @autoclosure () -> AuthChange) async throws {
        try await self.change(change)
    }

    /// Proposes the change `make` builds once the caller may make it (so costly parts run only then),
    /// and waits until it is applied.
    private func change(_ make: () -> AuthChange) async throws {
        try await withEtcdErrors {
            let revision = try member.authorizeAdmin()
            let proposal = Proposal.auth(make())
            switch try await member.proposeEntry(revision.map { .authorized(revision: $0, proposal) } ?? proposal) {
            case .auth(nil): return
            case .auth(let error?), .rejected(let error): throw error
            default: throw EtcdError.corrupt
            }
        }
    }

    /// The applied auth state once a read of it is linearizable, if the caller is an admin or
    /// `allowed` lets them read (their own user, a role they hold).
    private func readState(allowed: (AuthState, String) -> Bool = { _, _ in false }) async throws -> AuthState {
        try await member.linearizableReadBarrier()
        let state = member.auth.current
        if state.enabled, let caller = AuthContext.caller, allowed(state, caller.user) { return state }
        try member.authorizeAdmin()
        return state
    }
}
