import Crypto
import EtcdProto
import Foundation
import GRPCCore

/// The replicated state of authentication (etcd's auth store): whether it is enabled, its revision,
/// the users and the roles. Every member derives it from the same log entries; it is stored as one
/// cluster record, so it is part of the store file, its snapshots and restores.
struct AuthState: Codable, Equatable, Sendable {
    /// A user: a password hash (nil for a user without password) and its roles, sorted.
    struct User: Codable, Equatable, Sendable {
        var passwordHash: String?
        var roles: [String] = []
    }

    /// Access to a key, a range `[key, rangeEnd)`, or every key from `key` on (`rangeEnd` `[0]`).
    struct Permission: Codable, Equatable, Sendable {
        /// etcd's `Permission.Type` number: 0 read, 1 write, 2 read and write.
        var type: Int
        var key: [UInt8]
        var rangeEnd: [UInt8]
    }

    var enabled = false
    /// Starts at 1 and grows with every change to users, roles or permissions (and with disabling),
    /// as etcd's auth revision: a request checked at an older revision is refused when applied.
    var revision: UInt64 = 1
    var users: [String: User] = [:]
    /// Roles by name, each with its permissions sorted by key.
    var roles: [String: [Permission]] = [:]

    /// The cluster record the state is kept in.
    static let recordKey = Array("auth".utf8)

    static let rootName = "root"

    /// The state as stored: JSON with sorted keys, so every member writes the same bytes.
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(self)) ?? Data())
    }

    static func decode(_ bytes: [UInt8]) -> AuthState? {
        try? JSONDecoder().decode(AuthState.self, from: Data(bytes))
    }

    // MARK: - Checks

    /// Whether `user` holds the root role (every permission, and the auth and membership calls).
    func isAdmin(_ user: String) -> Bool {
        users[user]?.roles.contains(Self.rootName) ?? false
    }

    /// Whether `user` may `write` (else read) `[key, rangeEnd)` (a single key for an empty `rangeEnd`,
    /// every key from `key` on for `[0]`), as etcd's range permission cache decides: the permissions of
    /// all the user's roles together must cover the whole range.
    func permits(_ user: String, write: Bool, key: [UInt8], rangeEnd: [UInt8]) -> Bool {
        guard let account = users[user] else { return false }
        if account.roles.contains(Self.rootName) { return true }
        var intervals: [(start: [UInt8], end: [UInt8]?)] = []
        for role in account.roles {
            for permission in roles[role] ?? [] where permission.type == 2 || permission.type == (write ? 1 : 0) {
                intervals.append(Self.interval(key: permission.key, rangeEnd: permission.rangeEnd))
            }
        }
        let wanted = Self.interval(key: key, rangeEnd: rangeEnd)
        // An inverted range covers nothing a permission could grant.
        if let end = wanted.end, !wanted.start.lexicographicallyPrecedes(end) { return false }
        if rangeEnd.isEmpty {
            // A single key: some permission must contain it.
            return intervals.contains { !key.lexicographicallyPrecedes($0.start) && Self.before(key, $0.end) }
        }
        // Walk the permissions in order of their starts, extending the covered prefix of the range
        // until it reaches the range's end; a gap ends the walk.
        var covered = wanted.start
        for interval in intervals.sorted(by: { $0.start.lexicographicallyPrecedes($1.start) }) {
            if covered.lexicographicallyPrecedes(interval.start) { break }
            guard let end = interval.end else { return true }
            if covered.lexicographicallyPrecedes(end) { covered = end }
            if let wantedEnd = wanted.end, !covered.lexicographicallyPrecedes(wantedEnd) { return true }
        }
        return false
    }

    /// `[key, rangeEnd)` with nil for an open end: a single key is `[key, key + 0x00)`.
    private static func interval(key: [UInt8], rangeEnd: [UInt8]) -> (start: [UInt8], end: [UInt8]?) {
        if rangeEnd.isEmpty { return (key, key + [0]) }
        if rangeEnd == [0] { return (key, nil) }
        return (key, rangeEnd)
    }

    /// Whether `key` lies before `end` (nil: no end).
    private static func before(_ key: [UInt8], _ end: [UInt8]?) -> Bool {
        guard let end else { return true }
        return key.lexicographicallyPrecedes(end)
    }

    // MARK: - Changes

    /// Applies one change (already authorised) and returns the new state, or etcd's error.
    func applying(_ change: AuthChange) throws(AuthError) -> AuthState {
        var next = self
        switch change {
        case .enable:
            if enabled { return self }
            guard let root = users[Self.rootName] else { throw .rootUserNotExist }
            guard root.roles.contains(Self.rootName) else { throw .rootRoleNotExist }
            next.enabled = true
            return next  // enabling does not move the revision, as in etcd
        case .disable:
            if !enabled { return self }
            next.enabled = false
        case .userAdd(let name, let passwordHash):
            guard !name.isEmpty else { throw .userEmpty }
            guard users[name] == nil else { throw .userAlreadyExist }
            next.users[name] = User(passwordHash: passwordHash)
        case .userDelete(let name):
            if enabled && name == Self.rootName { throw .invalidAuthManagement }
            guard users[name] != nil else { throw .userNotFound }
            next.users[name] = nil
        case .userChangePassword(let name, let passwordHash):
            guard users[name] != nil else { throw .userNotFound }
            next.users[name]?.passwordHash = passwordHash
        case .userGrantRole(let name, let role):
            guard var user = users[name] else { throw .userNotFound }
            guard role == Self.rootName || roles[role] != nil else { throw .roleNotFound }
            if user.roles.contains(role) { return self }
            user.roles.append(role)
            user.roles.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            next.users[name] = user
        case .userRevokeRole(let name, let role):
            if enabled && name == Self.rootName && role == Self.rootName { throw .invalidAuthManagement }
            guard var user = users[name] else { throw .userNotFound }
            guard let position = user.roles.firstIndex(of: role) else { throw .roleNotGranted }
            user.roles.remove(at: position)
            next.users[name] = user
        case .roleAdd(let name):
            guard !name.isEmpty else { throw .roleEmpty }
            guard roles[name] == nil else { throw .roleAlreadyExist }
            next.roles[name] = []
        case .roleDelete(let name):
            if enabled && name == Self.rootName { throw .invalidAuthManagement }
            guard roles[name] != nil else { throw .roleNotFound }
            next.roles[name] = nil
            for (userName, var user) in next.users where user.roles.contains(name) {
                user.roles.removeAll { $0 == name }
                next.users[userName] = user
            }
        case .roleGrantPermission(let name, let permission):
            guard var permissions = roles[name] else { throw .roleNotFound }
            // The same key and range end again changes the type (etcd replaces rather than merges).
            if let same = permissions.firstIndex(where: { $0.key == permission.key && $0.rangeEnd == permission.rangeEnd }) {
                permissions[same].type = permission.type
            } else {
                permissions.append(permission)
                // Sorted by key; equal keys keep their order of grant.
                permissions = permissions.enumerated().sorted {
                    $0.element.key == $1.element.key ? $0.offset < $1.offset : $0.element.key.lexicographicallyPrecedes($1.element.key)
                }.map(\.element)
            }
            next.roles[name] = permissions
        case .roleRevokePermission(let name, let key, let rangeEnd):
            guard var permissions = roles[name] else { throw .roleNotFound }
            let before = permissions.count
            permissions.removeAll { $0.key == key && $0.rangeEnd == rangeEnd }
            guard permissions.count < before else { throw .permissionNotGranted }
            next.roles[name] = permissions
        }
        next.revision += 1
        return next
    }
}

/// A change to the auth state, as proposed through the log. Passwords travel only as hashes.
enum AuthChange: Codable, Equatable, Sendable {
    case enable
    case disable
    case userAdd(name: String, passwordHash: String?)
    case userDelete(name: String)
    case userChangePassword(name: String, passwordHash: String?)
    case userGrantRole(name: String, role: String)
    case userRevokeRole(name: String, role: String)
    case roleAdd(name: String)
    case roleDelete(name: String)
    case roleGrantPermission(name: String, AuthState.Permission)
    case roleRevokePermission(name: String, key: [UInt8], rangeEnd: [UInt8])
}

/// etcd's auth errors, with their gRPC codes and texts (`rpctypes`).
enum AuthError: Error, Equatable {
    case rootUserNotExist, rootRoleNotExist, userAlreadyExist, userEmpty, userNotFound, roleAlreadyExist
    case roleNotFound, roleEmpty, authFailed, permissionDenied, roleNotGranted, permissionNotGranted
    case invalidAuthToken, invalidAuthManagement, authOldRevision, authNotEnabled

    var rpcError: RPCError {
        switch self {
        case .rootUserNotExist: return RPCError(code: .failedPrecondition, message: "etcdserver: root user does not exist")
        case .rootRoleNotExist: return RPCError(code: .failedPrecondition, message: "etcdserver: root user does not have root role")
        case .userAlreadyExist: return RPCError(code: .failedPrecondition, message: "etcdserver: user name already exists")
        case .userEmpty: return RPCError(code: .invalidArgument, message: "etcdserver: user name is empty")
        case .userNotFound: return RPCError(code: .failedPrecondition, message: "etcdserver: user name not found")
        case .roleAlreadyExist: return RPCError(code: .failedPrecondition, message: "etcdserver: role name already exists")
        case .roleNotFound: return RPCError(code: .failedPrecondition, message: "etcdserver: role name not found")
        case .roleEmpty: return RPCError(code: .invalidArgument, message: "etcdserver: role name is empty")
        case .authFailed: return RPCError(code: .invalidArgument, message: "etcdserver: authentication failed, invalid user ID or password")
        case .permissionDenied: return RPCError(code: .permissionDenied, message: "etcdserver: permission denied")
        case .roleNotGranted: return RPCError(code: .failedPrecondition, message: "etcdserver: role is not granted to the user")
        case .permissionNotGranted: return RPCError(code: .failedPrecondition, message: "etcdserver: permission is not granted to the role")
        case .invalidAuthToken: return RPCError(code: .unauthenticated, message: "etcdserver: invalid auth token")
        case .invalidAuthManagement: return RPCError(code: .invalidArgument, message: "etcdserver: invalid auth management")
        case .authOldRevision: return RPCError(code: .invalidArgument, message: "etcdserver: revision of auth store is old")
        case .authNotEnabled: return EtcdError.authNotEnabled
        }
    }

    /// The text etcd's maintenance calls (defragment, snapshot, hash) return unmapped, with code
    /// Unknown.
    var maintenanceError: RPCError {
        let text: String = switch self {
        case .userEmpty: "auth: user name is empty"
        case .permissionDenied: "auth: permission denied"
        case .userNotFound: "auth: user not found"
        case .invalidAuthToken: "auth: invalid auth token"
        default: String(rpcError.message.dropFirst("etcdserver: ".count))
        }
        return RPCError(code: .unknown, message: text)
    }
}

/// Password hashes: PBKDF2-HMAC-SHA256 with a random salt, as `pbkdf2-sha256$<rounds>$<salt>$<hash>`
/// (base64). etcd uses bcrypt; the hash never leaves the member's store, so the scheme is ours.
enum PasswordHash {
    static let rounds = 10_000

    /// A new salted hash of `password`.
    static func make(_ password: String) -> String {
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let derived = pbkdf2(Array(password.utf8), salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(Data(salt).base64EncodedString())$\(Data(derived).base64EncodedString())"
    }

    /// Whether `password` is the one `hash` was made from.
    static func verify(_ password: String, against hash: String) -> Bool {
        let parts = hash.split(separator: "$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds > 0,
              let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3]))
        else { return false }
        let derived = pbkdf2(Array(password.utf8), salt: Array(salt), rounds: rounds)
        // Constant-time comparison.
        guard derived.count == expected.count else { return false }
        return zip(derived, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// PBKDF2 (RFC 8018) with HMAC-SHA256, one 32-byte block.
    private static func pbkdf2(_ password: [UInt8], salt: [UInt8], rounds: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var block = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = block
        for _ in 1..<rounds {
            block = Array(HMAC<SHA256>.authenticationCode(for: block, using: key))
            for i in result.indices { result[i] ^= block[i] }
        }
        return result
    }
}
