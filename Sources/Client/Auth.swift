import EtcdProto
import Foundation
import GRPCCore

/// The authentication calls: users, roles and their permissions, and turning authentication on and
/// off. Every change needs the root role once authentication is enabled.
extension EtcdClient {
    /// Turns authentication on (a `root` user with the `root` role must exist).
    public func authEnable() async throws -> Etcdserverpb_AuthEnableResponse {
        try await authenticated { try await auth.authEnable(.init(), metadata: $0, options: options) }
    }

    public func authDisable() async throws -> Etcdserverpb_AuthDisableResponse {
        try await authenticated { try await auth.authDisable(.init(), metadata: $0, options: options) }
    }

    /// Adds a user; with `noPassword`, one that can only be identified by a TLS certificate.
    public func userAdd(_ name: String, password: String, noPassword: Bool = false) async throws -> Etcdserverpb_AuthUserAddResponse {
        var request = Etcdserverpb_AuthUserAddRequest()
        request.name = name
        request.password = password
        request.options.noPassword = noPassword
        return try await authenticated { try await auth.userAdd(request, metadata: $0, options: options) }
    }

    public func userGet(_ name: String) async throws -> Etcdserverpb_AuthUserGetResponse {
        var request = Etcdserverpb_AuthUserGetRequest()
        request.name = name
        return try await authenticated { try await auth.userGet(request, metadata: $0, options: options) }
    }

    public func userList() async throws -> Etcdserverpb_AuthUserListResponse {
        try await authenticated { try await auth.userList(.init(), metadata: $0, options: options) }
    }

    public func userDelete(_ name: String) async throws -> Etcdserverpb_AuthUserDeleteResponse {
        var request = Etcdserverpb_AuthUserDeleteRequest()
        request.name = name
        return try await authenticated { try await auth.userDelete(request, metadata: $0, options: options) }
    }

    public func userChangePassword(_ name: String, password: String) async throws -> Etcdserverpb_AuthUserChangePasswordResponse {
        var request = Etcdserverpb_AuthUserChangePasswordRequest()
        request.name = name
        request.password = password
        return try await authenticated { try await auth.userChangePassword(request, metadata: $0, options: options) }
    }

    public func userGrantRole(_ user: String, role: String) async throws -> Etcdserverpb_AuthUserGrantRoleResponse {
        var request = Etcdserverpb_AuthUserGrantRoleRequest()
        request.user = user
        request.role = role
        return try await authenticated { try await auth.userGrantRole(request, metadata: $0, options: options) }
    }

    public func userRevokeRole(_ user: String, role: String) async throws -> Etcdserverpb_AuthUserRevokeRoleResponse {
        var request = Etcdserverpb_AuthUserRevokeRoleRequest()
        request.name = user
        request.role = role
        return try await authenticated { try await auth.userRevokeRole(request, metadata: $0, options: options) }
    }

    public func roleAdd(_ name: String) async throws -> Etcdserverpb_AuthRoleAddResponse {
        var request = Etcdserverpb_AuthRoleAddRequest()
        request.name = name
        return try await authenticated { try await auth.roleAdd(request, metadata: $0, options: options) }
    }

    public func roleGet(_ name: String) async throws -> Etcdserverpb_AuthRoleGetResponse {
        var request = Etcdserverpb_AuthRoleGetRequest()
        request.role = name
        return try await authenticated { try await auth.roleGet(request, metadata: $0, options: options) }
    }

    public func roleList() async throws -> Etcdserverpb_AuthRoleListResponse {
        try await authenticated { try await auth.roleList(.init(), metadata: $0, options: options) }
    }

    public func roleDelete(_ name: String) async throws -> Etcdserverpb_AuthRoleDeleteResponse {
        var request = Etcdserverpb_AuthRoleDeleteRequest()
        request.role = name
        return try await authenticated { try await auth.roleDelete(request, metadata: $0, options: options) }
    }

    /// Grants `role` access of `type` to `key` alone (empty `rangeEnd`), to `[key, rangeEnd)`, or to
    /// every key from `key` on (`rangeEnd` `[0]`).
    public func roleGrantPermission(
        _ role: String, type: Authpb_Permission.TypeEnum, key: [UInt8], rangeEnd: [UInt8] = []
    ) async throws -> Etcdserverpb_AuthRoleGrantPermissionResponse {
        var request = Etcdserverpb_AuthRoleGrantPermissionRequest()
        request.name = role
        request.perm.permType = type
        request.perm.key = Data(key)
        request.perm.rangeEnd = Data(rangeEnd)
        return try await authenticated { try await auth.roleGrantPermission(request, metadata: $0, options: options) }
    }

    /// Revokes the permission granted to `role` on exactly `[key, rangeEnd)`.
    public func roleRevokePermission(_ role: String, key: [UInt8], rangeEnd: [UInt8] = []) async throws -> Etcdserverpb_AuthRoleRevokePermissionResponse {
        var request = Etcdserverpb_AuthRoleRevokePermissionRequest()
        request.role = role
        request.key = Data(key)
        request.rangeEnd = Data(rangeEnd)
        return try await authenticated { try await auth.roleRevokePermission(request, metadata: $0, options: options) }
    }
}
