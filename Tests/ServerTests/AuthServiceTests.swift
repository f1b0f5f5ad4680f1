import EtcdProto
import Foundation
import GRPCCore
import Testing
@testable import Server

/// Authentication enforced by every service that reads or writes keys for a caller, on a real member
/// driven in-process (the caller set as the interceptor sets it).
@Suite struct AuthServiceTests {
    /// A member with auth enabled: root (admin) and alice (read and write on `a/` only).
    private func securedMember() async throws -> MemberFixture {
        let fixture = try await MemberFixture()
        let auth = AuthService(member: fixture.member)
        let context = fixture.context("Auth")
        _ = try await auth.userAdd(request: .with { $0.name = "root"; $0.password = "pw" }, context: context)
        _ = try await auth.userGrantRole(request: .with { $0.user = "root"; $0.role = "root" }, context: context)
        _ = try await auth.roleAdd(request: .with { $0.name = "a" }, context: context)
        _ = try await auth.roleGrantPermission(request: .with {
            $0.name = "a"
            $0.perm = .with { $0.permType = .readwrite; $0.key = Data("a/".utf8); $0.rangeEnd = Data("a0".utf8) }
        }, context: context)
        _ = try await auth.userAdd(request: .with { $0.name = "alice"; $0.password = "apw" }, context: context)
        _ = try await auth.userGrantRole(request: .with { $0.user = "alice"; $0.role = "a" }, context: context)
        _ = try await auth.authEnable(request: .init(), context: context)
        return fixture
    }

    private func expectRefused(_ message: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \"\(message)\"", sourceLocation: sourceLocation)
        } catch let error as RPCError {
            #expect(error.message == message, sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func recipeServicesCheckTheCallersPermissions() async throws {
        let fixture = try await securedMember()
        let member = fixture.member
        let locks = LockService(member: member)
        let elections = ElectionService(member: member)
        // Root writes a key outside alice's range.
        try await AuthContext.$caller.withValue(.init(user: "root")) {
            _ = try await KVService(member: member).put(request: .with { $0.key = Data("secret".utf8); $0.value = Data("s".utf8) },
                                                        context: fixture.context("Put"))
        }
        let unlockSecret = V3lockpb_UnlockRequest.with { $0.key = Data("secret".utf8) }
        await expectRefused("etcdserver: user name is empty") {
            _ = try await locks.unlock(request: unlockSecret, context: fixture.context("Unlock"))
        }
        await expectRefused("etcdserver: permission denied") {
            try await AuthContext.$caller.withValue(.init(user: "alice")) {
                _ = try await locks.unlock(request: unlockSecret, context: fixture.context("Unlock"))
            }
        }
        await expectRefused("etcdserver: permission denied") {
            try await AuthContext.$caller.withValue(.init(user: "alice")) {
                _ = try await elections.leader(request: .with { $0.name = Data("secret".utf8) }, context: fixture.context("Leader"))
            }
        }
        #expect(try member.store.range(.init(key: Array("secret".utf8))).kvs.count == 1, "the refused unlock deleted nothing")
        // Within her range alice may lock.
        let lease = try await AuthContext.$caller.withValue(.init(user: "alice")) { try await fixture.grantLease() }
        let held = try await AuthContext.$caller.withValue(.init(user: "alice")) {
            try await locks.lock(request: .with { $0.name = Data("a/job".utf8); $0.lease = lease }, context: fixture.context("Lock"))
        }
        #expect(held.key.starts(with: Data("a/job/".utf8)))
    }

    @Test func leaseKeysAreNamedOnlyToReaders() async throws {
        let fixture = try await securedMember()
        let member = fixture.member
        let lease = try await AuthContext.$caller.withValue(.init(user: "root")) { () async throws -> Int64 in
            let id = try await fixture.grantLease()
            _ = try await KVService(member: member).put(
                request: .with { $0.key = Data("secret".utf8); $0.value = Data("s".utf8); $0.lease = id }, context: fixture.context("Put"))
            return id
        }
        let leases = LeaseService(member: member)
        await expectRefused("etcdserver: permission denied") {
            try await AuthContext.$caller.withValue(.init(user: "alice")) {
                _ = try await leases.leaseTimeToLive(request: .with { $0.id = lease; $0.keys = true }, context: fixture.context("LeaseTimeToLive"))
            }
        }
        let withoutKeys = try await AuthContext.$caller.withValue(.init(user: "alice")) {
            try await leases.leaseTimeToLive(request: .with { $0.id = lease }, context: fixture.context("LeaseTimeToLive"))
        }
        #expect(withoutKeys.ttl > 0 && withoutKeys.keys.isEmpty)
    }

    /// A write checked while authentication was off is refused if it is enabled before the write applies.
    @Test func writesCheckedBeforeEnablingAreRefusedAfterwards() async throws {
        let fixture = try await securedMember()
        let member = fixture.member
        let put = Proposal.put(.with { $0.key = Data("x".utf8); $0.value = Data("1".utf8) })
        await expectRefused("etcdserver: revision of auth store is old") {
            _ = try await member.proposeChecked(put, revision: nil)
        }
        #expect(try member.store.range(.init(key: Array("x".utf8))).kvs.isEmpty)
        // Checked at the current revision, it applies.
        _ = try await member.proposeChecked(put, revision: member.auth.current.revision)
        #expect(try member.store.range(.init(key: Array("x".utf8))).kvs.count == 1)
    }

    /// A token stops working when its user's password changes, even if issued just before.
    @Test func tokensDieWithTheirPassword() async throws {
        let fixture = try await securedMember()
        let member = fixture.member
        let auth = AuthService(member: member)
        let token = try await auth.authenticate(request: .with { $0.name = "alice"; $0.password = "apw" }, context: fixture.context("Authenticate")).token
        #expect(await member.resolveToken(token) == "alice")
        await expectRefused("etcdserver: authentication failed, invalid user ID or password") {
            _ = try await auth.authenticate(request: .with { $0.name = "alice"; $0.password = "wrong" }, context: fixture.context("Authenticate"))
        }
        try await AuthContext.$caller.withValue(.init(user: "root")) {
            _ = try await auth.userChangePassword(request: .with { $0.name = "alice"; $0.password = "new" }, context: fixture.context("Auth"))
        }
        #expect(await member.resolveToken(token) == nil)
        #expect(await member.resolveToken("garbage") == nil)
    }
}
