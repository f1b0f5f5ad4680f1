import Foundation
import Testing

extension EndToEnd {
    /// The v2 keys API (`--enable-v2`) against a real etcd 3.4 with the same flags: raw HTTP (status,
    /// etcd's headers, body) and `ETCDCTL_API=2 etcdctl`, compared step by step. Indexes are compared as
    /// they are (setcd takes the same v2 indexes as etcd); the raft index, cluster id, dates and
    /// expiration times differ by nature and are normalised.
    @Suite struct V2API {
        /// `curl -si` of one request, with what legitimately differs replaced.
        static func http(_ s: Session, _ method: String, _ path: String, _ form: [String] = [], label: String? = nil) -> String {
            var args = ["-si", "-X", method, "http://\(s.server.clientAddress)\(path)"]
            for field in form { args += ["--data-urlencode", field] }
            let result = (try? Subprocess.run("/usr/bin/curl", args, timeout: 20))
                ?? CommandResult(stdout: "", stderr: "curl failed", exitCode: -1, timedOut: false)
            var lines: [String] = []
            let response = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
            // An expiration time's length varies (Go drops trailing zeros of the fraction), and so does the length.
            let hasExpiration = response.contains("\"expiration\"")
            var inHeaders = true
            for line in response.split(separator: "\n", omittingEmptySubsequences: false) {
                var line = String(line)
                if line.isEmpty { inHeaders = false }
                if inHeaders, let colon = line.firstIndex(of: ":"), !line.hasPrefix("HTTP/") {
                    // Header names are case-insensitive.
                    line = line[..<colon].lowercased() + line[colon...]
                    if line.hasPrefix("date:") || line.hasPrefix("x-etcd-cluster-id:") || line.hasPrefix("access-control-") { continue }
                    if hasExpiration && line.hasPrefix("content-length:") { continue }
                }
                lines.append(line.replacingOccurrences(of: #"x-raft-index: \d+"#, with: "x-raft-index: <n>", options: .regularExpression)
                    .replacingOccurrences(of: #""expiration":"[^"]+""#, with: #""expiration":"<time>""#, options: .regularExpression))
            }
            let text = lines.joined(separator: "\n")
            s.record(label ?? "\(method) \(path) \(form)", text)
            return text
        }

        /// `ETCDCTL_API=2 etcdctl` against the session's server.
        static func ctl2(_ s: Session, _ args: [String]) {
            let result = (try? Subprocess.run(try Binaries.etcdctl(), ["--endpoints", "http://\(s.server.clientAddress)"] + args,
                                              environment: childEnvironment(["ETCDCTL_API": "2"]), timeout: 20))
                ?? CommandResult(stdout: "", stderr: "etcdctl failed", exitCode: -1, timedOut: false)
            s.record("ETCDCTL_API=2 etcdctl " + args.joined(separator: " "), Session.render(result))
        }

        @Test func keysOverHTTPMatchEtcd() throws {
            try differential(ScenarioOptions(serverArguments: ["--enable-v2"])) { s in
                _ = Self.http(s, "PUT", "/v2/keys/foo", ["value=bar"])
                _ = Self.http(s, "PUT", "/v2/keys/foo", ["value=baz"])
                _ = Self.http(s, "GET", "/v2/keys/foo")
                _ = Self.http(s, "HEAD", "/v2/keys/foo")
                _ = Self.http(s, "PUT", "/v2/keys/dir/a", ["value=1"])
                _ = Self.http(s, "PUT", "/v2/keys/dir/sub/b", ["value=2"])
                _ = Self.http(s, "PUT", "/v2/keys/dir/_hidden", ["value=h"])
                _ = Self.http(s, "GET", "/v2/keys/dir?sorted=true")
                _ = Self.http(s, "GET", "/v2/keys/dir?recursive=true&sorted=true")
                _ = Self.http(s, "GET", "/v2/keys/dir/_hidden")
                _ = Self.http(s, "POST", "/v2/keys/queue", ["value=job1"])
                _ = Self.http(s, "POST", "/v2/keys/queue", ["value=job2"])
                _ = Self.http(s, "GET", "/v2/keys/queue?sorted=true")
                // Preconditions: create, update, compare-and-swap, compare-and-delete.
                _ = Self.http(s, "PUT", "/v2/keys/foo?prevExist=false", ["value=x"])
                _ = Self.http(s, "PUT", "/v2/keys/nope?prevExist=true", ["value=x"])
                _ = Self.http(s, "PUT", "/v2/keys/new1?prevExist=false", ["value=x"])
                _ = Self.http(s, "PUT", "/v2/keys/new1?prevExist=true", ["value=y"])
                _ = Self.http(s, "PUT", "/v2/keys/foo", ["value=new", "prevIndex=3", "prevValue=wrong"])
                _ = Self.http(s, "PUT", "/v2/keys/foo", ["value=new", "prevValue=baz"])
                _ = Self.http(s, "DELETE", "/v2/keys/new1?prevValue=nomatch")
                _ = Self.http(s, "DELETE", "/v2/keys/new1?prevValue=y")
                // Directories.
                _ = Self.http(s, "DELETE", "/v2/keys/dir")
                _ = Self.http(s, "DELETE", "/v2/keys/dir?dir=true")
                _ = Self.http(s, "PUT", "/v2/keys/dir?dir=true")
                _ = Self.http(s, "GET", "/v2/keys/foo/bar")
                _ = Self.http(s, "DELETE", "/v2/keys/dir?recursive=true")
                _ = Self.http(s, "DELETE", "/v2/keys/?recursive=true")
                _ = Self.http(s, "PUT", "/v2/keys/emptydir?dir=true")
                _ = Self.http(s, "DELETE", "/v2/keys/emptydir?dir=true")
                // TTLs and refresh.
                _ = Self.http(s, "PUT", "/v2/keys/tmp", ["value=t", "ttl=100"])
                _ = Self.http(s, "PUT", "/v2/keys/tmp?prevExist=true", ["ttl=200", "refresh=true"])
                _ = Self.http(s, "PUT", "/v2/keys/tmp?prevExist=true", ["value=t2", "ttl="])
                _ = Self.http(s, "PUT", "/v2/keys/short", ["value=s", "ttl=1"])
                Thread.sleep(forTimeInterval: 2.5)
                _ = Self.http(s, "GET", "/v2/keys/short", label: "GET /v2/keys/short after its TTL")
                _ = Self.http(s, "GET", "/v2/keys/foo?wait=true&waitIndex=5")
                // Bad input: etcd's error codes and messages, nothing stored changes.
                _ = Self.http(s, "PUT", "/v2/keys/bad", ["value=x", "ttl=abc"])
                _ = Self.http(s, "PUT", "/v2/keys/bad", ["value=x", "ttl=-1"])
                _ = Self.http(s, "PUT", "/v2/keys/bad?prevIndex=x", ["value=x"])
                _ = Self.http(s, "GET", "/v2/keys/bad?waitIndex=x")
                _ = Self.http(s, "GET", "/v2/keys/bad?recursive=yes")
                _ = Self.http(s, "PUT", "/v2/keys/bad?wait=true", ["value=x"])
                _ = Self.http(s, "PUT", "/v2/keys/bad", ["value=x", "prevValue="])
                _ = Self.http(s, "PUT", "/v2/keys/bad?refresh=true", ["value=z", "ttl=20"])
                _ = Self.http(s, "PUT", "/v2/keys/bad?refresh=true", ["value="])
                _ = Self.http(s, "PUT", "/v2/keys/bad?value=%zz")
                _ = Self.http(s, "PATCH", "/v2/keys/bad")
                _ = Self.http(s, "PUT", "/v2/keys/", ["value=x"])
                _ = Self.http(s, "GET", "/v2/keys/?recursive=true&sorted=true", label: "the whole tree after the bad input")
            }
        }

        @Test func etcdctlV2MatchesEtcd() throws {
            try differential(ScenarioOptions(serverArguments: ["--enable-v2"])) { s in
                for args in [["set", "/c/k1", "v1"], ["mk", "/c/k2", "v2"], ["mk", "/c/k2", "v2"], ["mkdir", "/c/d"], ["mkdir", "/c/d"],
                             ["update", "/c/k1", "v1b"], ["update", "/c/nope", "x"], ["get", "/c/k1"], ["get", "/c/d"], ["ls", "--sort", "/c"],
                             ["ls", "--recursive", "--sort", "-p", "/"], ["set", "--swap-with-value", "wrong", "/c/k1", "v9"],
                             ["rm", "/c/d"], ["rmdir", "/c/d"], ["rmdir", "/c"], ["rm", "/c/k1"], ["mk", "--in-order", "/c/q", "job"],
                             ["rm", "--recursive", "/c/q"], ["setdir", "/c/d2"], ["get", "-o", "extended", "/c/k2"]] {
                    Self.ctl2(s, args)
                }
                // A watch woken by a write, and one from the history.
                let watcher = try Subprocess(try Binaries.etcdctl(), ["--endpoints", "http://\(s.server.clientAddress)", "watch", "/c/w"],
                                             environment: childEnvironment(["ETCDCTL_API": "2"]))
                Thread.sleep(forTimeInterval: 1)
                Self.ctl2(s, ["set", "/c/w", "hello"])
                s.record("watch /c/w woken by the write", Session.render(watcher.finish(timeout: 10)))
                Self.ctl2(s, ["watch", "--after-index", "5", "/c/k2"])
                let exec = try Subprocess(try Binaries.etcdctl(), ["--endpoints", "http://\(s.server.clientAddress)", "exec-watch", "--recursive", "/c",
                                                                   "--", "sh", "-c", "echo $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_MODIFIED_INDEX"],
                                          environment: childEnvironment(["ETCDCTL_API": "2"]))
                Thread.sleep(forTimeInterval: 1)
                Self.ctl2(s, ["set", "/c/k2", "b"])
                s.record("exec-watch ran the command", "\(exec.waitForStdout(seconds: 10) { $0.contains("set /c/k2 b") })")
                s.record("exec-watch output", exec.stop().stdout)
            }
        }
    }
}
