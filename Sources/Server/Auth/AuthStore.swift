import EtcdProto
import Foundation
import GRPCCore
import MVCC
import Synchronization

/// A member's view of authentication: the auth state as of its applied index (changed only by the
/// apply thread, once the change is in the store) and the simple tokens it has issued or learnt from
/// the log (in memory only, as etcd's: clients authenticate again after a restart).
final class AuthStore: Sendable {
    private struct Token {
        let user: String
        /// The user's password hash when the token was issued: a token outlives neither a new
        /// password nor the user.
        let passwordHash: String?
        var expiry: ContinuousClock.Instant
    }

    private let state: Mutex<AuthState>
    private let tokens = Mutex<[String: Token]>([:])
    /// How long an unused token stays valid (`--auth-token-ttl`); every use restarts it.
    let tokenTTL: Duration

    init(state: AuthState, tokenTTL: Duration) {
        self.state = Mutex(state)
        self.tokenTTL = tokenTTL
    }

    /// The state as of the applied index.
    var current: AuthState { state.withLock { $0 } }

    var isEnabled: Bool { state.withLock { $0.enabled } }

    /// Installs the state after an applied change (or a snapshot), dropping the tokens it voids:
    /// all of them when authentication is off, and those of deleted users or users with a new password.
    func committed(_ next: AuthState) {
        state.withLock { $0 = next }
        tokens.withLock { tokens in tokens = tokens.filter { Self.isValid($0.value, in: next) } }
    }

    /// Whether a token still stands in `state`.
    private static func isValid(_ token: Token, in state: AuthState) -> Bool {
        state.enabled && state.users[token.user]?.passwordHash == token.passwordHash
    }

    /// Registers a token issued by an applied Authenticate entry, for the user's password as of that
    /// entry (`passwordHash`).
    func addToken(_ token: String, user: String, passwordHash: String?) {
        let now = ContinuousClock.now
        tokens.withLock { tokens in
            tokens = tokens.filter { $0.value.expiry > now }
            tokens[token] = Token(user: user, passwordHash: passwordHash, expiry: now + tokenTTL)
        }
    }

    /// The user a token belongs to, restarting its TTL; nil for an unknown or expired token, or one
    /// the auth state has voided since it was issued.
    func user(ofToken token: String) -> String? {
        let now = ContinuousClock.now
        let current = self.current
        return tokens.withLock { tokens in
            guard var entry = tokens[token] else { return nil }
            guard entry.expiry > now, Self.isValid(entry, in: current) else {
                tokens[token] = nil
                return nil
            }
            entry.expiry = now + tokenTTL
            tokens[token] = entry
            return entry.user
        }
    }

    /// A fresh simple token's random part (16 letters; the applied index follows a dot).
    static func tokenPrefix() -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return String((0..<16).map { _ in letters.randomElement()! })
    }

    /// The log index a simple token was issued at, if it has a simple token's form.
    static func issueIndex(ofToken token: String) -> UInt64? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        return UInt64(parts[1])
    }
}

/// Who sent the request being served: set by `AuthInterceptor` from the request's token.
enum AuthContext {
    /// The caller: the user their token names; nil for a request without a token.
    struct Caller: Sendable {
        let user: String
    }

    @TaskLocal static var caller: Caller?
}

/// Resolves the token a request carries (metadata `token`, else `authorization`, as etcd) into the
/// caller, for the services' permission checks. A request with a token the member does not know is
/// refused with etcd's "invalid auth token", even while authentication is disabled (as etcd does);
/// one without a token is anonymous.
struct AuthInterceptor: ServerInterceptor {
    let member: Member

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let token = request.metadata[stringValues: "token"].first(where: { _ in true })
            ?? request.metadata[stringValues: "authorization"].first(where: { _ in true })
        // Authenticate ignores the token (clientv3 sends its old one when it logs in again).
        guard let token, context.descriptor.fullyQualifiedMethod != "etcdserverpb.Auth/Authenticate" else {
            return try await next(request, context)
        }
        guard let user = await member.resolveToken(token) else {
            throw context.descriptor.service.fullyQualifiedService == "etcdserverpb.Maintenance"
                && context.descriptor.method != "Status" && context.descriptor.method != "Alarm"
                ? AuthError.invalidAuthToken.maintenanceError : AuthError.invalidAuthToken.rpcError
        }
        let caller = AuthContext.Caller(user: user)
        var response = try await AuthContext.$caller.withValue(caller) { try await next(request, context) }
        // A streaming handler (a watch) runs in the response's producer, after `next` returned.
        if case .success(var contents) = response.accepted {
            let producer = contents.producer
            contents.producer = { writer in try await AuthContext.$caller.withValue(caller) { try await producer(writer) } }
            response.accepted = .success(contents)
        }
        return response
    }
}

extension Member {
    /// The user a token names; a token issued by an entry this member has not applied yet is waited
    /// for (up to a second), as etcd's simple tokens are.
    func resolveToken(_ token: String) async -> String? {
        if let user = auth.user(ofToken: token) { return user }
        guard let index = AuthStore.issueIndex(ofToken: token) else { return nil }
        let deadline = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < deadline {
            // The token is registered just after the store records its entry's index.
            let applied = store.consistentIndex >= index
            try? await Task.sleep(for: .milliseconds(10))
            if let user = auth.user(ofToken: token) { return user }
            if applied { return nil }
        }
        return nil
    }

    /// Checks the caller's permission with `permits` when authentication is enabled; returns the auth
    /// revision the check was made at (nil while authentication is disabled), for `proposeChecked`.
    @discardableResult
    func authorize(_ permits: (AuthState, String) -> Bool) throws -> UInt64? {
        let state = auth.current
        guard state.enabled else { return nil }
        guard let caller = AuthContext.caller else { throw AuthError.userEmpty.rpcError }
        guard state.users[caller.user] != nil, permits(state, caller.user) else { throw AuthError.permissionDenied.rpcError }
        return state.revision
    }

    /// Checks that the caller holds the root role when authentication is enabled (etcd's admin
    /// permission); returns the auth revision of the check (nil while authentication is disabled).
    @discardableResult
    func authorizeAdmin() throws(AuthError) -> UInt64? {
        let state = auth.current
        guard state.enabled else { return nil }
        guard let caller = AuthContext.caller else { throw .userEmpty }
        guard state.users[caller.user] != nil else { throw .userNotFound }
        guard state.isAdmin(caller.user) else { throw .permissionDenied }
        return state.revision
    }

    /// Proposes a client's request whose permissions were checked at auth revision `revision` (nil:
    /// authentication was disabled): it is applied only if the auth state then is the one checked, or
    /// authentication is (still) disabled.
    func proposeChecked(_ proposal: Proposal, revision: UInt64?) async throws -> OperationResult {
        try await propose(.authorized(revision: revision ?? 0, proposal))
    }

    /// Proposes a txn or a delete for the caller of a recipe service (lock, election), checked as the
    /// KV service checks them.
    func proposeForCaller(_ proposal: Proposal) async throws -> OperationResult {
        switch proposal {
        case .txn(let txn): return try await proposeChecked(proposal, revision: authorize(Permissions.txn(txn)))
        case .deleteRange(let delete): return try await proposeChecked(proposal, revision: authorize(Permissions.delete(delete)))
        default: throw EtcdError.corrupt
        }
    }
}
