import Foundation
import Testing
@testable import Server

/// The auth state machine and its permission checks, against etcd 3.4's rules.
@Suite struct AuthStateTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// A state with user `u` holding role `r` with `permissions` (type, key, end).
    private func state(_ permissions: [(Int, String, [UInt8])]) throws -> AuthState {
        var state = AuthState()
        state = try state.applying(.roleAdd(name: "r"))
        for (type, key, end) in permissions {
            state = try state.applying(.roleGrantPermission(name: "r", .init(type: type, key: bytes(key), rangeEnd: end)))
        }
        state = try state.applying(.userAdd(name: "u", passwordHash: nil))
        return try state.applying(.userGrantRole(name: "u", role: "r"))
    }

    @Test func singleKeysRangesAndOpenEnds() throws {
        let s = try state([(0, "foo", []), (2, "dir/", bytes("dir0")), (0, "zz", [0])])
        #expect(s.permits("u", write: false, key: bytes("foo"), rangeEnd: []))
        #expect(!s.permits("u", write: true, key: bytes("foo"), rangeEnd: []))
        #expect(!s.permits("u", write: false, key: bytes("fo"), rangeEnd: []))
        #expect(!s.permits("u", write: false, key: bytes("foo0"), rangeEnd: []))
        #expect(s.permits("u", write: true, key: bytes("dir/x"), rangeEnd: []))
        #expect(s.permits("u", write: false, key: bytes("dir/"), rangeEnd: bytes("dir0")))
        #expect(s.permits("u", write: false, key: bytes("dir/a"), rangeEnd: bytes("dir/b")))
        #expect(!s.permits("u", write: false, key: bytes("dir/"), rangeEnd: bytes("dir1")), "past the prefix")
        #expect(!s.permits("u", write: false, key: bytes("dip"), rangeEnd: bytes("dir0")), "before the prefix")
        #expect(s.permits("u", write: false, key: bytes("zz"), rangeEnd: [0]), "from-key inside an open permission")
        #expect(s.permits("u", write: false, key: bytes("zzz"), rangeEnd: bytes("zzzz")))
        #expect(!s.permits("u", write: false, key: bytes("z"), rangeEnd: [0]))
        #expect(!s.permits("u", write: true, key: bytes("zz"), rangeEnd: []))
        #expect(!s.permits("nobody", write: false, key: bytes("foo"), rangeEnd: []))
    }

    @Test func adjacentPermissionsCoverARangeAndGapsDoNot() throws {
        let s = try state([(0, "a", bytes("c")), (0, "c", bytes("e")), (0, "f", bytes("g"))])
        #expect(s.permits("u", write: false, key: bytes("a"), rangeEnd: bytes("e")))
        #expect(s.permits("u", write: false, key: bytes("b"), rangeEnd: bytes("d")))
        #expect(!s.permits("u", write: false, key: bytes("a"), rangeEnd: bytes("f0")), "gap between e and f")
        #expect(!s.permits("u", write: false, key: bytes("e"), rangeEnd: []))
    }

    @Test func rootRoleAllowsEverything() throws {
        var s = try AuthState().applying(.userAdd(name: "root", passwordHash: "h"))
        s = try s.applying(.userGrantRole(name: "root", role: "root"))
        #expect(s.permits("root", write: true, key: [0], rangeEnd: [0]))
        #expect(s.isAdmin("root"))
    }

    @Test func changesFollowEtcdsRules() throws {
        var s = AuthState()
        #expect(throws: AuthError.rootUserNotExist) { try s.applying(.enable) }
        s = try s.applying(.userAdd(name: "root", passwordHash: "h"))
        #expect(throws: AuthError.rootRoleNotExist) { try s.applying(.enable) }
        #expect(throws: AuthError.userAlreadyExist) { try s.applying(.userAdd(name: "root", passwordHash: nil)) }
        #expect(throws: AuthError.userEmpty) { try s.applying(.userAdd(name: "", passwordHash: nil)) }
        #expect(throws: AuthError.roleNotFound) { try s.applying(.userGrantRole(name: "root", role: "nope")) }
        s = try s.applying(.userGrantRole(name: "root", role: "root"))  // no root role record needed
        let revision = s.revision
        #expect(try s.applying(.userGrantRole(name: "root", role: "root")) == s, "a second grant changes nothing")
        s = try s.applying(.enable)
        #expect(s.enabled && s.revision == revision, "enabling keeps the revision")
        #expect(throws: AuthError.invalidAuthManagement) { try s.applying(.userDelete(name: "root")) }
        #expect(throws: AuthError.invalidAuthManagement) { try s.applying(.userRevokeRole(name: "root", role: "root")) }
        s = try s.applying(.roleAdd(name: "r"))
        s = try s.applying(.roleGrantPermission(name: "r", .init(type: 0, key: bytes("k"), rangeEnd: [])))
        s = try s.applying(.roleGrantPermission(name: "r", .init(type: 1, key: bytes("k"), rangeEnd: [])))
        #expect(s.roles["r"] == [.init(type: 1, key: bytes("k"), rangeEnd: [])], "the same key again replaces the type")
        #expect(throws: AuthError.permissionNotGranted) { try s.applying(.roleRevokePermission(name: "r", key: bytes("k"), rangeEnd: [0])) }
        s = try s.applying(.userAdd(name: "b", passwordHash: nil))
        s = try s.applying(.userGrantRole(name: "b", role: "r"))
        s = try s.applying(.roleDelete(name: "r"))
        #expect(s.users["b"]?.roles == [], "deleting a role takes it from its users")
        #expect(throws: AuthError.roleNotGranted) { try s.applying(.userRevokeRole(name: "b", role: "r")) }
        let before = s.revision
        s = try s.applying(.disable)
        #expect(!s.enabled && s.revision == before + 1)
        #expect(AuthState.decode(s.encoded()) == s)
    }

    @Test func passwordHashesVerifyOnlyTheirPassword() {
        let hash = PasswordHash.make("secret")
        #expect(PasswordHash.verify("secret", against: hash))
        #expect(!PasswordHash.verify("secreT", against: hash))
        #expect(!PasswordHash.verify("", against: hash))
        #expect(PasswordHash.make("secret") != hash, "salted")
        #expect(!PasswordHash.verify("secret", against: "garbage"))
    }

    @Test func authProposalsRoundTrip() throws {
        let proposals: [Proposal] = [
            .auth(.roleGrantPermission(name: "r", .init(type: 2, key: [0, 1], rangeEnd: [0]))),
            .authenticate(user: "alice", tokenPrefix: "abcdefghijklmnop"),
            .authorized(revision: 42, .auth(.userDelete(name: "x"))),
        ]
        for proposal in proposals {
            let decoded = try Proposal(decoding: try proposal.encoded(requestID: 7))
            #expect(try decoded.encoded(requestID: 7) == (try proposal.encoded(requestID: 7)))
        }
        guard case .authorized(42, .auth(.userDelete("x"))) = try Proposal(decoding: try proposals[2].encoded(requestID: 1)) else {
            Issue.record("authorized proposal did not round-trip")
            return
        }
    }
}
