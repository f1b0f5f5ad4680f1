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
            let result: CommandResult
            do {
                result = try Subprocess.run("/usr/bin/curl", args, timeout: 20)
            } catch {
                // Both servers would record the same placeholder: fail loudly instead of comparing equal.
                s.fail("\(s.flavor): cannot run /usr/bin/curl (tools/install-deps.sh --test installs it): \(error)")
                result = CommandResult(stdout: "", stderr: "curl failed", exitCode: -1, timedOut: false)
            }
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
            // Header order carries no meaning: sorted, after the status line.
            if let blank = lines.firstIndex(of: ""), blank > 1 { lines[1..<blank].sort() }
            let text = lines.joined(separator: "\n")
            s.record(label ?? "\(method) \(path) \(form)", text)
            return text
        }

        /// `ETCDCTL_API=2 etcdctl` against the session's server.
        static func ctl2(_ s: Session, _ args: [String]) {
            let result: CommandResult
            do {
                result = try Subprocess.run(try Binaries.etcdctl(), ["--endpoints", "http://\(s.server.clientAddress)"] + args,
                                            environment: childEnvironment(["ETCDCTL_API": "2"]), timeout: 20)
            } catch {
                // Both servers would record the same placeholder: fail loudly instead of comparing equal.
                s.fail("\(s.flavor): cannot run etcdctl: \(error)")
                result = CommandResult(stdout: "", stderr: "etcdctl failed", exitCode: -1, timedOut: false)
            }
            s.record("ETCDCTL_API=2 etcdctl " + args.joined(separator: " "), Session.render(result))
        }

        /// How many v2 watchers (long polls) the server counts: `"watchers"` in /v2/stats/store, a read that
        /// changes nothing the scenario records. Nil if it cannot be read.
        static func watchers(_ s: Session) -> Int? {
            let stats = try? Subprocess.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(s.server.clientAddress)/v2/stats/store"], timeout: 10)
            return stats?.stdout.firstMatch(of: /"watchers":(\d+)/).flatMap { Int($0.1) }
        }

        /// Waits until the server counts no v2 watcher (a long poll that was answered or stopped is gone once
        /// the server has noticed), so that a count taken next is of the watches started next. The 20 s
        /// deadline only keeps a server that leaks watchers from hanging the test.
        static func waitForNoWatchers(_ s: Session) -> Bool {
            waitUntil(seconds: 20, interval: 0.1) { watchers(s) == 0 }
        }

        /// Waits until the server counts a v2 watcher: a long poll just started is in place.
        static func waitForAWatcher(_ s: Session) -> Bool {
            waitUntil(seconds: 20, interval: 0.1) { (watchers(s) ?? 0) >= 1 }
        }

        /// GETs `path` (unrecorded) until the answer is v2's "Key not found" (error code 100): the key's TTL
        /// ran out and the leader's sweep removed it. The 15 s deadline only keeps a key that never expires
        /// from hanging the test.
        static func waitForExpiry(_ s: Session, _ path: String) -> Bool {
            waitUntil(seconds: 15, interval: 0.2) {
                let get = try? Subprocess.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(s.server.clientAddress)\(path)"], timeout: 10)
                return get?.stdout.contains(#""errorCode":100"#) == true
            }
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
                // The 2.5 s are the point: past the key's 1 s TTL. Then, not to depend on how soon the sweep
                // runs, wait (unrecorded reads) until it has gone before recording the read.
                Thread.sleep(forTimeInterval: 2.5)
                _ = Self.waitForExpiry(s, "/v2/keys/short")
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
                _ = Self.http(s, "GET", "/v2/keys/foo?quorum=true")
                // A body over Go's 10 MiB form limit.
                let big = NSTemporaryDirectory() + "v2-big-\(UUID().uuidString)"
                try Data(("value=" + String(repeating: "a", count: 11_000_000)).utf8).write(to: URL(fileURLWithPath: big))
                defer { try? FileManager.default.removeItem(atPath: big) }
                let huge = try Subprocess.run("/usr/bin/curl", ["-s", "-w", " %{http_code}", "-X", "PUT", "http://\(s.server.clientAddress)/v2/keys/big",
                                                                "-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", "@\(big)"], timeout: 60)
                s.record("PUT /v2/keys/big with an 11 MB form", huge.stdout)
                _ = Self.http(s, "GET", "/health", label: "still healthy")
            }
        }

        /// Long polls woken by writes: a single-event wait and a stream.
        @Test func longPollsAndStreamsMatchEtcd() throws {
            try differential(ScenarioOptions(serverArguments: ["--enable-v2"])) { s in
                func watch(_ query: String, _ label: String, writes: [(String, [String])], events: Int) throws {
                    /// Waits until the long polls of earlier steps are gone, then, once this one is started,
                    /// until the server counts its watcher: it is in place before the writes it should see.
                    let idle = Self.waitForNoWatchers(s)
                    let child = try Subprocess("/usr/bin/curl", ["-sN", "http://\(s.server.clientAddress)/v2/keys/lp\(query)"])
                    let inPlace = Self.waitForAWatcher(s)
                    s.record(label + " in place (counted in /v2/stats/store)", "\(idle && inPlace)")
                    for (path, form) in writes { _ = Self.http(s, "PUT", path, form, label: "write \(path) \(form) during \(label)") }
                    s.record(label + " answered", "\(child.waitForStdout(seconds: 10) { $0.components(separatedBy: "\n").count > events })")
                    /// Not a wait for readiness: a short window after the answer, in which extra events would show.
                    Thread.sleep(forTimeInterval: 0.3)
                    s.record(label, child.stop().stdout)
                }
                try watch("?wait=true", "wait on /lp", writes: [("/v2/keys/lp", ["value=1"])], events: 1)
                try watch("?wait=true&recursive=true&stream=true", "stream on /lp", writes: [("/v2/keys/lp/a", ["value=2"]), ("/v2/keys/lp/b", ["value=3"])], events: 2)
                try watch("?wait=true&waitIndex=1000", "wait for a future index", writes: [("/v2/keys/lp", ["value=4"])], events: 0)
                // 1,010 more writes: the history (1,000 events) no longer reaches back to the first ones.
                let writes = "for i in $(seq 1010); do /usr/bin/curl -s -o /dev/null -X PUT http://\(s.server.clientAddress)/v2/keys/bulk -d value=$i || exit 1; done"
                let bulk = try Subprocess.run("/bin/sh", ["-c", writes], timeout: 300)
                if bulk.exitCode != 0 {
                    // Both servers would miss the same writes: fail loudly instead of comparing equal.
                    s.fail("\(s.flavor): the 1,010 writes with curl failed (exit \(bulk.exitCode)): \(bulk.stderr)")
                }
                _ = Self.http(s, "GET", "/v2/keys/lp?wait=true&waitIndex=5", label: "wait from an index older than the history")
                _ = Self.http(s, "GET", "/v2/keys/bulk?wait=true&waitIndex=100", label: "wait from an index still in the history")
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
                /// Waits until the watch is in place: the server counts its watcher (no other watch runs here).
                s.record("watch /c/w in place (counted in /v2/stats/store)", "\(Self.waitForAWatcher(s))")
                Self.ctl2(s, ["set", "/c/w", "hello"])
                s.record("watch /c/w woken by the write", Session.render(watcher.finish(timeout: 10)))
                Self.ctl2(s, ["watch", "--after-index", "5", "/c/k2"])
                /// Waits until the watches above are gone, then, once exec-watch is started, until the server
                /// counts its watcher: it is in place before the write it should see.
                let idle = Self.waitForNoWatchers(s)
                let exec = try Subprocess(try Binaries.etcdctl(), ["--endpoints", "http://\(s.server.clientAddress)", "exec-watch", "--recursive", "/c",
                                                                   "--", "sh", "-c", "echo $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_MODIFIED_INDEX"],
                                          environment: childEnvironment(["ETCDCTL_API": "2"]))
                s.record("exec-watch in place (counted in /v2/stats/store)", "\(idle && Self.waitForAWatcher(s))")
                Self.ctl2(s, ["set", "/c/k2", "b"])
                s.record("exec-watch ran the command", "\(exec.waitForStdout(seconds: 10) { $0.contains("set /c/k2 b") })")
                s.record("exec-watch output", exec.stop().stdout)
            }
        }
    }
}

extension EndToEnd {
    /// The v3 JSON gateway against a real etcd: the same POSTs, the same answers (ids, terms and
    /// lease ids normalised; JSON compared with sorted keys, since etcd 3.4's error body orders its
    /// fields differently from 3.5's, which setcd follows).
    @Suite struct Gateway {
        /// POSTs `json` and records the status and body; `comparing` names parts of the body to blank out.
        static func post(_ s: Session, _ path: String, _ json: String, comparing blanked: String? = nil) {
            let result: CommandResult
            do {
                result = try Subprocess.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "-X", "POST", "http://\(s.server.clientAddress)\(path)", "-d", json],
                                            timeout: 20)
            } catch {
                // Both servers would record the same placeholder: fail loudly instead of comparing equal.
                s.fail("\(s.flavor): cannot run /usr/bin/curl (tools/install-deps.sh --test installs it): \(error)")
                result = CommandResult(stdout: "", stderr: "curl failed", exitCode: -1, timedOut: false)
            }
            var lines = result.stdout.split(separator: "\n").map(String.init)
            let status = lines.popLast() ?? ""
            let bodies = lines.map { line -> String in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)),
                      let sorted = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return line }
                return String(decoding: sorted, as: UTF8.self)
                    .replacingOccurrences(of: #""(cluster_id|member_id|raft_term|ID)":"\d+""#, with: #""$1":"<n>""#, options: .regularExpression)
                    .replacingOccurrences(of: blanked ?? "^$", with: "<text>", options: .regularExpression)
            }
            s.record("POST \(path) \(json)", "status \(status)\n" + bodies.joined(separator: "\n"))
        }

        @Test func jsonGatewayMatchesEtcd() throws {
            try differential { s in
                Self.post(s, "/v3/kv/put", #"{"key":"Zm9v","value":"YmFy"}"#)
                Self.post(s, "/v3/kv/put", #"{"key":"Zm9v","value":"YmF6","prev_kv":true}"#)
                Self.post(s, "/v3/kv/range", #"{"key":"Zm9v"}"#)
                Self.post(s, "/v3/kv/range", #"{"key":"AA==","range_end":"AA==","keys_only":true}"#)
                Self.post(s, "/v3/kv/range", #"{"key":"Zm9v","revision":"999"}"#)
                Self.post(s, "/v3/kv/txn", #"{"compare":[{"key":"Zm9v","result":"EQUAL","target":"VALUE","value":"YmF6"}],"success":[{"request_put":{"key":"YQ==","value":"MQ=="}}],"failure":[]}"#)
                Self.post(s, "/v3/kv/deleterange", #"{"key":"YQ==","prev_kv":true}"#)
                Self.post(s, "/v3/kv/compaction", #"{"revision":"2"}"#)
                Self.post(s, "/v3/kv/compaction", #"{"revision":"2"}"#)
                Self.post(s, "/v3/lease/grant", #"{"TTL":"30","ID":"7587"}"#)
                Self.post(s, "/v3/kv/lease/timetolive", #"{"ID":"7587"}"#)
                Self.post(s, "/v3/lease/revoke", #"{"ID":"7587"}"#)
                Self.post(s, "/v3/lease/revoke", #"{"ID":"7587"}"#)
                Self.post(s, "/v3/maintenance/alarm", #"{"action":"GET"}"#)
                Self.post(s, "/v3/auth/authenticate", #"{"name":"root","password":"x"}"#)
                // Malformed JSON: the same status and code (the decoder's text is Go's on etcd).
                Self.post(s, "/v3/kv/range", #"{bad json"#, comparing: #""(error|message)":"[^"]*""#)
                Self.post(s, "/v3/kv/nosuch", #"{}"#)
            }
        }
    }
}

extension EndToEnd {
    /// The v2 API in a 3-member setcd cluster: writes through any member reach all, TTL keys expire
    /// everywhere (swept by the leader through the log), and all of it survives kill -9 of the leader.
    @Suite struct V2Cluster {
        static func curl(_ member: MemberProcess, _ args: [String]) -> String {
            do {
                return try Subprocess.run("/usr/bin/curl", ["-s"] + args.map { $0.replacingOccurrences(of: "HOST", with: member.endpoint) }, timeout: 20).stdout
            } catch {
                Issue.record("cannot run /usr/bin/curl (tools/install-deps.sh --test installs it): \(error)")
                return ""
            }
        }

        @Test func replicatedExpiringAndDurable() throws {
            let cluster = try ClusterProcess(.setcd, size: 3, extraArguments: ["--enable-v2"])
            defer { cluster.cleanUp() }
            try cluster.start()
            let (m1, m2, m3) = (cluster.members[0], cluster.members[1], cluster.members[2])
            let set = Self.curl(m1, ["-X", "PUT", "http://HOST/v2/keys/app/config", "-d", "value=v1"])
            #expect(set.contains(#""value":"v1""#), "\(set)")
            _ = Self.curl(m2, ["-X", "PUT", "http://HOST/v2/keys/app/short", "-d", "value=s", "-d", "ttl=1"])
            _ = Self.curl(m3, ["-X", "POST", "http://HOST/v2/keys/app/queue", "-d", "value=job"])
            for member in cluster.members {
                let tree = Self.curl(member, ["http://HOST/v2/keys/app?recursive=true&sorted=true&quorum=true"])
                #expect(tree.contains(#""value":"v1""#) && tree.contains(#""value":"job""#), "\(member.name): \(tree)")
            }
            // The TTL key expires on every member (the leader proposes the sweep). The 2.5 s are the point:
            // past the 1 s TTL; after that, how soon the sweep has run is not what is checked (15 s at most,
            // so that a key that never expires cannot hang the test).
            Thread.sleep(forTimeInterval: 2.5)
            for member in cluster.members {
                var gone = ""
                waitUntil(seconds: 15, interval: 0.2) {
                    gone = Self.curl(member, ["http://HOST/v2/keys/app/short?quorum=true"])
                    return gone.contains(#""errorCode":100"#)
                }
                #expect(gone.contains(#""errorCode":100"#), "\(member.name) after the TTL: \(gone)")
            }
            let index = Self.curl(m1, ["-si", "http://HOST/v2/keys/app/config?quorum=true"])
                .firstMatch(of: /X-Etcd-Index: (\d+)/).map { String($0.1) }
            // kill -9 of the leader: the keys and the v2 index survive, and writes go on.
            guard let leader = cluster.waitForLeader() else {
                Issue.record("no leader")
                return
            }
            cluster.crash(leader)
            let survivor = cluster.members.first { $0 !== leader }!
            #expect(cluster.waitForLeader() != nil)
            let after = Self.curl(survivor, ["-X", "PUT", "http://HOST/v2/keys/app/config", "-d", "value=v2", "-d", "prevValue=v1"])
            #expect(after.contains(#""action":"compareAndSwap""#), "\(after)")
            try cluster.launch(leader)
            try cluster.waitHealthy(leader)
            let restarted = Self.curl(leader, ["-si", "http://HOST/v2/keys/app/config?quorum=true"])
            #expect(restarted.contains(#""value":"v2""#), "restarted leader: \(restarted)")
            let newIndex = restarted.firstMatch(of: /X-Etcd-Index: (\d+)/).map { String($0.1) }
            #expect(index != nil && newIndex.flatMap { UInt64($0) } ?? 0 > index.flatMap { UInt64($0) } ?? .max, "index \(String(describing: index)) then \(String(describing: newIndex))")
        }
    }
}
