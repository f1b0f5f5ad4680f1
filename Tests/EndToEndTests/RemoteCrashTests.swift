import Foundation
import Testing

extension EndToEnd {
    /// Requests that once took a whole setcd cluster down, each answered now as etcd 3.4 answers it, on
    /// 3-member clusters of both: a range whose limit is Int64.max (alone, and inside a txn, which every
    /// member applied and trapped on, then trapped on again when replaying it), a v2 TTL whose expiry
    /// overflowed, and raft messages on the peer port that the Raft core traps on (an empty proposal, a
    /// heartbeat committing past the log). After each, every member is still the process it was and the
    /// cluster answers what etcd answers.
    @Suite struct RemoteCrashes {
        @Test func crashScenariosAreAnsweredAsEtcdAnswersThem() throws {
            guard let curl = Binaries.optional("curl") else {
                Issue.record("curl is needed for the v2 requests of this test: tools/install-deps.sh --test installs it")
                return
            }
            let etcd = try transcript(.etcd, curl: curl)
            let setcd = try transcript(.setcd, curl: curl)
            #expect(etcd.count == setcd.count)
            for (expected, actual) in zip(etcd, setcd) {
                #expect(expected.output == actual.output, "step \(expected.label): etcd printed\n\(expected.output)\nsetcd printed\n\(actual.output)")
            }
        }

        private func transcript(_ flavor: Flavor, curl: String) throws -> [(label: String, output: String)] {
            let cluster = try ClusterProcess(flavor, size: 3, extraArguments: ["--enable-v2"])
            defer { cluster.cleanUp() }
            try cluster.start()
            guard cluster.waitForLeader() != nil else { throw HarnessError("\(flavor): no leader") }
            let pids = cluster.members.map(\.pid)
            var steps: [(String, String)] = []
            func record(_ label: String, _ output: String) { steps.append((label, output)) }
            func ctl(_ args: [String], stdin: String? = nil, on member: MemberProcess? = nil) {
                let result = cluster.ctl(args, on: member.map { [$0] }, stdin: stdin)
                let label = "etcdctl " + args.joined(separator: " ") + (member.map { " on \($0.name)" } ?? "") + (stdin.map { " <<< \($0.debugDescription)" } ?? "")
                record(label, "exit \(result.exitCode)\n\(result.stdout)\(Self.errorLines(result.stderr))")
            }
            /// After each scenario: every member is the process it was, and each serves a write and a read.
            func checkCluster(after scenario: String) {
                let alive = zip(cluster.members, pids).map { member, pid in member.isRunning && member.pid == pid }
                record("members still running after \(scenario)", "\(alive.filter { $0 }.count) of \(alive.count)")
                for member in cluster.members {
                    ctl(["put", "after/\(member.name)", scenario], on: member)
                    ctl(["get", "after/\(member.name)", "--print-value-only"], on: member)
                }
                ctl(["get", "k", "-w", "simple"])
            }

            // 1. A range limit of Int64.max: alone, inside a txn (committed, then applied by every member),
            //    and the other extremes etcd takes as "no limit".
            ctl(["put", "k", "v"])
            ctl(["put", "k2", "v2"])
            ctl(["txn", "-i"], stdin: "\nput a b\nget k --limit=9223372036854775807\n\n\n")
            checkCluster(after: "a txn ranging with limit 2^63-1")
            for limit in ["9223372036854775807", "-1", "-9223372036854775808"] {
                ctl(["get", "k", "k3", "--limit=\(limit)", "-w", "simple"])
            }
            checkCluster(after: "ranges with extreme limits")

            // 2. A v2 TTL whose expiry overflowed, and the largest TTLs etcd takes.
            for ttl in ["8000000000", "100000000000", "18446744073709551615", "18446744073709551616"] {
                let member = cluster.members[0]
                let put = try Subprocess.run(curl, ["-s", "-X", "PUT", "http://\(member.endpoint)/v2/keys/ttl\(ttl)", "-d", "value=x", "-d", "ttl=\(ttl)"],
                                             timeout: 20)
                record("v2 PUT ttl=\(ttl)", Self.v2Body(put.stdout))
                // 2^64 - 1 expired a second ago (the leader's next sweep removes it); 2^64 is refused.
                guard ttl.count < 20 else { continue }
                let get = try Subprocess.run(curl, ["-s", "http://\(member.endpoint)/v2/keys/ttl\(ttl)"], timeout: 20)
                record("v2 GET ttl\(ttl)", Self.v2Body(get.stdout))
            }
            checkCluster(after: "v2 writes with huge TTLs")

            // 3. Raft messages the core traps on, sent to every member's peer port as a member would send
            //    them (setcd's peer protocol; etcd's rafthttp is another protocol, and etcd's raft panics on
            //    both messages too, so etcd's members are not sent them).
            if flavor == .setcd {
                let closed = try cluster.sendImplausiblePeerMessages()
                record("hostile peer messages: connections cut off", closed)
            } else {
                record("hostile peer messages: connections cut off", "all")
            }
            checkCluster(after: "hostile peer messages")
            return steps
        }

        /// etcdctl's stderr without its JSON log lines.
        static func errorLines(_ stderr: String) -> String {
            let kept = stderr.split(separator: "\n").filter { !$0.hasPrefix("{\"level\":") }
            return kept.isEmpty ? "" : "stderr:\n" + kept.joined(separator: "\n")
        }

        /// A v2 answer with the times that differ by nature replaced.
        static func v2Body(_ body: String) -> String {
            body.replacingOccurrences(of: #""expiration":"[^"]+""#, with: #""expiration":"<time>""#, options: .regularExpression)
        }
    }
}
