import Foundation
import Testing

extension EndToEnd {
    /// setcdctl's `auth`, `user` and `role` commands and its `--user` / `--password` credentials against
    /// etcdctl's: the same commands, each client against its own fresh server of the same kind, compared step
    /// by step (stdout, error lines, exit code).
    @Suite struct SetcdctlAuth {
        @Test(arguments: [Flavor.etcd, .setcd])
        func authUsersRolesAndPermissionsMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                func root(_ args: String...) { s.ctl(["--user=root:pw"] + args) }
                func alice(_ args: String...) { s.ctl(["--user=alice:apw"] + args) }

                // No root user yet: enabling fails, whoever asks.
                s.ctl("auth", "enable")
                root("auth", "enable")
                s.ctl("auth", "enable", "extra")
                s.ctl("auth", "disable", "extra")
                s.ctl("user", "add")
                s.ctl("user", "add", "a:1", "b:2")
                s.ctl("user", "add", ":pw")
                s.ctl("user", "add", "root:pw")
                s.ctl("user", "add", "root:other")
                s.ctl("user", "get", "root")
                s.ctl("user", "list")
                // etcdctl creates the root role and grants it to root on the way.
                s.ctl("auth", "enable")
                s.ctl("auth", "enable")
                root("auth", "enable")

                // Credentials: none, wrong ones (exit 2), an empty password (anonymous), --password.
                s.ctl("get", "foo")
                s.ctl("put", "foo", "bar")
                s.ctl("--user=root:wrong", "get", "foo")
                s.ctl("--user=nobody:x", "get", "foo")
                s.ctl("--user=root:", "get", "foo")
                s.ctl("--user=root", "--password=pw", "put", "a", "1")
                s.ctl("--user=root", "--password=wrong", "put", "a", "1")
                root("put", "b", "2")
                root("put", "foo", "0")
                root("get", "", "--prefix")
                root("user", "get", "root")
                root("user", "get", "root", "--detail")

                // Roles and permissions: single keys, prefixes, from-key, ranges, the whole keyspace.
                root("role", "add", "r1")
                root("role", "add", "r1")
                root("role", "add", "")
                root("role", "add")
                root("role", "grant-permission", "r1", "read", "foo")
                root("role", "grant-permission", "r1", "write", "foo")
                root("role", "grant-permission", "--prefix", "r1", "readwrite", "dir/")
                root("role", "grant-permission", "--from-key", "r1", "read", "zz")
                root("role", "grant-permission", "r1", "read", "a", "c")
                root("role", "grant-permission", "--prefix", "r1", "read", "")
                root("role", "grant-permission", "r1", "READ", "", "ignored")
                root("role", "grant-permission", "r1", "Write", "w1")
                root("role", "get", "r1")
                root("role", "get", "r1", "-w", "json")
                root("role", "get", "root")
                root("role", "get", "nosuch")
                root("role", "get")
                root("role", "list")
                root("role", "list", "-w", "json")
                root("role", "list", "extra")
                // Bad grants.
                root("role", "grant-permission", "r1", "bogus", "k")
                root("role", "grant-permission", "r1", "read")
                root("role", "grant-permission", "r1")
                root("role", "grant-permission", "--prefix", "--from-key", "r1", "read", "k")
                root("role", "grant-permission", "--prefix", "--from-key", "r1", "read", "")
                root("role", "grant-permission", "--prefix", "r1", "read", "a", "b")
                root("role", "grant-permission", "--from-key", "r1", "read", "a", "b")
                root("role", "grant-permission", "nosuch", "read", "k")
                // Revocations: they must name exactly what was granted.
                root("role", "revoke-permission", "r1", "", "--prefix")
                root("role", "revoke-permission", "r1", "zz", "--from-key")
                root("role", "revoke-permission", "r1", "")
                root("role", "revoke-permission", "r1", "w1")
                root("role", "revoke-permission", "r1", "nokey")
                root("role", "revoke-permission", "r1", "a", "b")
                root("role", "revoke-permission", "r1", "dir/")
                root("role", "revoke-permission", "r1")
                root("role", "revoke-permission", "nosuch", "k")
                root("role", "revoke-permission", "--prefix", "r1", "a", "b")
                root("role", "revoke-permission", "--from-key", "r1", "a", "b")
                root("role", "revoke-permission", "--prefix", "--from-key", "r1", "a")
                // r1 is left with: read [a, c) and dir/ (prefix); write dir/ (prefix) and foo.
                root("role", "get", "r1")

                // A user with r1.
                root("user", "add", "alice:apw")
                root("user", "grant-role", "alice", "r1")
                root("user", "grant-role", "alice", "r1")
                root("user", "grant-role", "alice", "nosuch")
                root("user", "grant-role", "nobody", "r1")
                root("user", "grant-role", "alice")
                root("user", "get", "alice")
                root("user", "get", "alice", "--detail")
                root("user", "get", "alice", "-w", "json")
                root("user", "get", "nobody")
                root("user", "get")
                root("user", "list")
                root("user", "list", "-w", "json")
                root("user", "list", "extra")
                // What alice may do with keys.
                alice("put", "foo", "v")
                alice("get", "foo")
                alice("put", "dir/x", "1")
                alice("get", "dir/", "--prefix")
                alice("del", "dir/x")
                alice("put", "a", "2")
                alice("get", "a", "c")
                alice("get", "a")
                alice("get", "a", "d")
                alice("del", "a")
                alice("get", "zz")
                // ... and with users and roles: herself and her roles only, no changes.
                alice("user", "get", "alice")
                alice("user", "get", "alice", "--detail")
                alice("user", "get", "root")
                alice("role", "get", "r1")
                alice("role", "get", "root")
                alice("user", "list")
                alice("role", "list")
                alice("user", "add", "eve:x")
                alice("role", "grant-permission", "--prefix", "r1", "readwrite", "")
                alice("user", "grant-role", "alice", "root")
                alice("auth", "disable")
                // Permission changes apply at once.
                root("role", "revoke-permission", "r1", "a", "c")
                alice("get", "a", "c")
                root("role", "grant-permission", "r1", "read", "a", "c")
                alice("get", "a", "c")

                // Revoking roles.
                root("user", "revoke-role", "alice", "nosuch")
                root("user", "revoke-role", "nobody", "r1")
                root("user", "revoke-role", "alice")
                root("user", "revoke-role", "root", "root")
                root("user", "revoke-role", "alice", "r1")
                root("user", "get", "alice")
                alice("get", "a")

                // Invalid auth management, deletions.
                root("user", "delete", "root")
                root("role", "delete", "root")
                root("user", "delete")
                root("role", "delete")
                root("user", "delete", "nobody")
                root("role", "delete", "nosuch")
                root("user", "grant-role", "alice", "r1")
                root("role", "delete", "r1")
                root("user", "get", "alice")
                root("user", "delete", "alice")
                alice("get", "a")
                root("user", "list")
                root("role", "list")

                // Disabling.
                s.ctl("auth", "disable")
                root("auth", "disable")
                s.ctl("auth", "disable")
                s.ctl("get", "foo")
                s.ctl("--user=root:wrong", "get", "foo")
                // clientv3 answers "user name is empty" with credentials by authenticating again, which fails
                // now that authentication is off; that failure is what etcdctl reports.
                root("user", "add", "", "--new-user-password=x")

                // Enabling needs root with the root role: the root role left from before makes etcdctl's
                // loop stop at creating it.
                s.ctl("user", "revoke-role", "root", "root")
                s.ctl("user", "get", "root")
                s.ctl("auth", "enable")
                s.ctl("user", "grant-role", "root", "root")
                s.ctl("auth", "enable")
                root("auth", "disable")
                s.ctl("user", "delete", "root")
                s.ctl("auth", "enable")
                s.ctl("user", "list")
                s.ctl("role", "list")
            }
        }

        @Test(arguments: [Flavor.etcd, .setcd])
        func passwordsPromptsAndEnvironmentMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                func root(_ args: String..., stdin: String? = nil) { s.ctl(["--user=root:pw"] + args, stdin: stdin) }

                s.ctl("user", "add", "root:pw")
                s.ctl("auth", "enable")
                root("put", "foo", "1")

                // --interactive=false: the first word of stdin (Go's Scanf "%s").
                root("user", "add", "frank", "--interactive=false", stdin: "  fpw extra\n")
                s.ctl("--user=frank:fpw", "get", "foo")
                s.ctl("--user=frank:extra", "get", "foo")
                root("user", "add", "gina", "--interactive=false", stdin: "\ngpw\n")
                s.ctl("--user=gina:gpw", "get", "foo")
                root("user", "add", "hank", "--interactive=false")
                s.ctl("--user=hank:", "get", "foo")
                // --new-user-password takes the name verbatim, colon included; --no-password too.
                root("user", "add", "ivan", "--new-user-password=ipw")
                s.ctl("--user=ivan:ipw", "get", "foo")
                root("user", "add", "y:pw", "--new-user-password=other")
                root("user", "get", "y:pw")
                s.ctl("--user=y:pw", "--password=other", "get", "foo")
                s.ctl("--user=y:pw:other", "get", "foo")
                root("user", "add", "nopw", "--no-password")
                root("user", "add", "nopw:x", "--no-password")
                root("user", "get", "nopw")
                s.ctl("--user=nopw:x", "get", "foo")
                root("user", "list")

                // Changing a password: the old one is refused afterwards.
                root("user", "passwd", "frank", "--interactive=false", stdin: "newpw\n")
                s.ctl("--user=frank:fpw", "get", "foo")
                s.ctl("--user=frank:newpw", "get", "foo")
                root("user", "passwd", "frank", "--interactive=F", stdin: "pw2 more\n")
                s.ctl("--user=frank:pw2", "get", "foo")
                root("user", "passwd", "--interactive=false", "nobody", stdin: "x\n")
                root("user", "passwd")
                root("user", "passwd", "frank", "extra", "--interactive=false")

                // Prompts ("Password of <name>: ", "Password: "): compared with etcdctl's stty complaints
                // about a stdin that is not a terminal left out.
                prompted(s, ["--user=root:pw", "user", "add", "jack"], stdin: "jpw\njpw\n")
                prompted(s, ["--user=root:pw", "user", "add", "kate"], stdin: "k1\nk2\n")
                prompted(s, ["--user=root:pw", "user", "add", "kate"], stdin: "")
                prompted(s, ["--user=root:pw", "user", "add", "kate", "--interactive"], stdin: "  k1 \nk1\n")
                s.ctl("--user=kate:k1", "get", "foo")
                prompted(s, ["--user=root:pw", "user", "passwd", "--interactive", "jack"], stdin: "j2\nj2\n")
                s.ctl("--user=jack:j2", "get", "foo")
                prompted(s, ["--user=root", "user", "list"], stdin: "pw\n")
                prompted(s, ["--user=root", "user", "add", "lily"], stdin: "l1\nl1\npw\n")
                prompted(s, ["--user=root", "get", "foo"], stdin: "wrong\n")
                prompted(s, ["--user=root", "get", "foo"], stdin: "\n")
                prompted(s, ["--user=nopw", "get", "foo"], stdin: "")

                // Credentials from the environment.
                withEnvironment(s, ["ETCDCTL_USER": "root:pw"], ["user", "list"])
                withEnvironment(s, ["ETCDCTL_USER": "root", "ETCDCTL_PASSWORD": "pw"], ["role", "list"])
                withEnvironment(s, ["ETCDCTL_USER": "root:wrong"], ["get", "foo"])
                withEnvironment(s, ["ETCDCTL_USER": "jack:j2"], ["get", "foo"])

                // With authentication off, credentials are not checked.
                root("auth", "disable")
                s.ctl("--user=frank:whatever", "get", "foo")
                s.ctl("--user=nobody:x", "get", "foo")
            }
        }
    }
}

/// Runs a step that prompts for a password and records it like `Session.ctl`, without the lines etcdctl's
/// password reader (speakeasy) makes `stty` print on stderr when stdin is not a terminal.
private func prompted(_ s: Session, _ args: [String], stdin: String) {
    var result = s.ctlUnrecorded(args, stdin: stdin)
    result.stderr = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        .filter { !$0.hasPrefix("stty: ") }
        .joined(separator: "\n")
    s.record(Session.describe(args, stdin: stdin) + " [stty lines left out]", Session.render(result, retryLog: s.recordsRetryLog))
}

/// Runs a step with `ETCDCTL_*` variables set and records it like `Session.ctl`.
private func withEnvironment(_ s: Session, _ variables: [String: String], _ args: [String]) {
    let environment = childEnvironment(variables.merging(["ETCDCTL_API": "3"]) { given, _ in given })
    let result: CommandResult
    do {
        result = try Subprocess.run(s.etcdctlPath, s.globalArguments + args, environment: environment)
    } catch {
        // Both clients would record the same placeholder: fail loudly instead of comparing equal.
        s.fail("\(s.flavor): cannot run \(s.etcdctlPath): \(error)")
        result = CommandResult(stdout: "", stderr: "harness: cannot run the client: \(error)", exitCode: -1, timedOut: false)
    }
    let assignments = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    s.record(assignments + " " + Session.describe(args), Session.render(result, retryLog: s.recordsRetryLog))
}
