import Foundation
import Testing

extension EndToEnd {
    /// Authentication in a 3-member setcd cluster: users, roles and tokens reach every member through
    /// the log, and survive kill -9.
    @Suite struct AuthCluster {
        @Test func authStateIsReplicatedAndDurable() throws {
            let cluster = try ClusterProcess(.setcd, size: 3)
            defer { cluster.cleanUp() }
            try cluster.start()
            let (m1, m2, m3) = (cluster.members[0], cluster.members[1], cluster.members[2])
            func expectOK(_ result: CommandResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(result.exitCode == 0, "\(what): \(result.stdout) \(result.stderr)", sourceLocation: sourceLocation)
            }
            for step in [["user", "add", "root:pw"], ["auth", "enable"]] { expectOK(cluster.ctl(step, on: [m1]), step.joined(separator: " ")) }
            for step in [["role", "add", "reader"], ["role", "grant-permission", "--prefix", "reader", "read", "k/"],
                         ["user", "add", "u:up"], ["user", "grant-role", "u", "reader"], ["put", "k/1", "v1"]] {
                expectOK(cluster.ctl(["--user=root:pw"] + step, on: [m2]), step.joined(separator: " "))
            }
            // Every member knows the user, the role and the tokens other members issued.
            for _ in 0..<6 {
                let get = cluster.ctl(["--user=u:up", "get", "k/1", "--print-value-only"])
                #expect(get.stdout == "v1\n", "reader through all members: \(get.stdout) \(get.stderr)")
            }
            let denied = cluster.ctl(["--user=u:up", "put", "k/1", "x"], on: [m3])
            #expect(denied.exitCode == 1 && denied.stderr.hasSuffix("Error: etcdserver: permission denied\n"), "\(denied.stderr)")
            let anonymous = cluster.ctl(["get", "k/1"], on: [m3])
            #expect(anonymous.exitCode == 1 && anonymous.stderr.hasSuffix("Error: etcdserver: user name is empty\n"), "\(anonymous.stderr)")

            // kill -9 and restart: still enabled, same users and permissions.
            cluster.crash(m1)
            try cluster.launch(m1)
            let deadline = Date().addingTimeInterval(30)
            while cluster.ctl(["--user=root:pw", "endpoint", "health"], on: [m1], timeout: 5).exitCode != 0 && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.2)
            }
            let afterRestart = cluster.ctl(["--user=u:up", "get", "k/1", "--print-value-only"], on: [m1])
            #expect(afterRestart.stdout == "v1\n", "after kill -9: \(afterRestart.stdout) \(afterRestart.stderr)")
            let stillOn = cluster.ctl(["get", "k/1"], on: [m1])
            #expect(stillOn.stderr.hasSuffix("Error: etcdserver: user name is empty\n"), "auth still enabled after restart: \(stillOn.stderr)")

            // A revocation through the restarted member takes effect on the others.
            expectOK(cluster.ctl(["--user=root:pw", "role", "revoke-permission", "--prefix", "reader", "k/"], on: [m1]), "revoke")
            let revoked = cluster.ctl(["--user=u:up", "get", "k/1"], on: [m3])
            #expect(revoked.stderr.hasSuffix("Error: etcdserver: permission denied\n"), "after revoke: \(revoked.stderr)")
            let roles = cluster.ctl(["--user=root:pw", "role", "get", "reader"], on: [m2])
            #expect(roles.stdout == "Role reader\nKV Read:\nKV Write:\n", "\(roles.stdout)")
        }
    }
}
