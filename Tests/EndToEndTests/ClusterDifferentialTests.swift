import Foundation
import Testing

extension EndToEnd {
    /// The same membership commands against a real 3-member etcd 3.4 cluster and a 3-member setcd
    /// cluster, compared after normalising what must differ (ids, ports, which member happened to win
    /// the election): etcdctl's output, error text and exit code for each step.
    @Suite struct ClusterDifferential {
        @Test func membershipCommandsMatchEtcd() throws {
            let etcd = try transcript(.etcd)
            let setcd = try transcript(.setcd)
            #expect(etcd.count == setcd.count)
            for (expected, actual) in zip(etcd, setcd) {
                #expect(expected.output == actual.output, "step \(expected.label): etcd printed\n\(expected.output)\nsetcd printed\n\(actual.output)")
            }
        }

        private func transcript(_ flavor: Flavor) throws -> [(label: String, output: String)] {
            let cluster = try ClusterProcess(flavor, size: 3)
            defer { cluster.cleanUp() }
            try cluster.start()
            guard let leader = cluster.waitForLeader() else { throw HarnessError("\(flavor): no leader") }
            let followers = cluster.members.filter { $0 !== leader }
            // Roles, not names: which member leads differs from run to run.
            var names: [(String, String)] = [(leader.peerURL, "<leader-peer>"), ("http://" + leader.endpoint, "<leader-client>"),
                                             (leader.endpoint, "<leader-endpoint>"),
                                             (", \(leader.name), ", ", <leader>, "), ("\(leader.name)=", "<leader>=")]
            var ids: [(String, String)] = []
            if let id = cluster.memberID(leader) { ids.append((id, "<leader-id>")) }
            for (index, follower) in followers.enumerated() {
                names += [(follower.peerURL, "<follower\(index)-peer>"), ("http://" + follower.endpoint, "<follower\(index)-client>"),
                          (follower.endpoint, "<follower\(index)-endpoint>"),
                          (", \(follower.name), ", ", <follower\(index)>, "), ("\(follower.name)=", "<follower\(index)>=")]
                if let id = cluster.memberID(follower) { ids.append((id, "<follower\(index)-id>")) }
            }
            let newPeer = "http://127.0.0.1:\(uniqueFreeLoopbackPort())"
            names.append((newPeer, "<new-peer>"))
            func normalize(_ text: String) -> String {
                var text = text
                for (literal, name) in ids + names { text = text.replacingOccurrences(of: literal, with: name) }
                // Other ids (the cluster's, a new member's) differ between runs of either server; etcdctl
                // pads some with spaces to 16 characters.
                text = text.replacingOccurrences(of: #" +[0-9a-f]{12,16}\b"#, with: " <id>", options: .regularExpression)
                text = text.replacingOccurrences(of: #"Member +<"#, with: "Member <", options: .regularExpression)
                text = text.replacingOccurrences(of: #"\b[0-9a-f]{12,16}\b"#, with: "<id>", options: .regularExpression)
                // Member rows and initial-cluster items come in id order, which differs with the ids.
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                    guard line.hasPrefix("ETCD_INITIAL_CLUSTER=") else { return String(line) }
                    let items = line.dropFirst("ETCD_INITIAL_CLUSTER=".count).replacingOccurrences(of: "\"", with: "")
                        .split(separator: ",").map(String.init).sorted()
                    return "ETCD_INITIAL_CLUSTER=" + items.joined(separator: ",") + " (sorted, unquoted)"
                }
                let rows = lines.indices.filter { lines[$0].contains(", started, ") || lines[$0].contains(", unstarted, ") }
                let sorted = rows.map { lines[$0] }.sorted()
                for (row, line) in zip(rows, sorted) { lines[row] = line }
                return lines.joined(separator: "\n")
            }
            var steps: [(String, String)] = []
            func step(_ label: String, _ args: [String], on members: [MemberProcess]? = nil) -> CommandResult {
                let result = cluster.ctl(args, on: members ?? [leader])
                let stderr = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("{\"level\"") }.joined(separator: "\n")
                steps.append((label, normalize("exit \(result.exitCode)\n\(result.stdout)\(stderr)")))
                return result
            }

            _ = step("member list", ["member", "list"])
            // etcd refuses membership changes until every voter has been connected for 5 s ("unhealthy cluster").
            _ = step("add right after start", ["member", "add", "early", "--learner", "--peer-urls=http://127.0.0.1:3"])
            Thread.sleep(forTimeInterval: 6)
            _ = step("remove an unknown member", ["member", "remove", "1234abcd"])
            _ = step("promote a voter", ["member", "promote", cluster.memberID(followers[0]) ?? "0"])
            _ = step("add with a peer URL in use", ["member", "add", "dup", "--peer-urls=\(followers[0].peerURL)"])
            _ = step("update an unknown member", ["member", "update", "1234abcd", "--peer-urls=http://127.0.0.1:1"])
            _ = step("update to another member's peer URL", ["member", "update", cluster.memberID(followers[1]) ?? "0", "--peer-urls=\(followers[0].peerURL)"])
            _ = step("update a member", ["member", "update", cluster.memberID(followers[1]) ?? "0", "--peer-urls=\(followers[1].peerURL)"])
            let add = step("add a learner", ["member", "add", "newbie", "--learner", "--peer-urls=\(newPeer)"])
            let newID = add.stdout.split(separator: " ").dropFirst().first.map(String.init) ?? "0"
            _ = step("member list with the learner", ["member", "list"])
            _ = step("add a second learner", ["member", "add", "second", "--learner", "--peer-urls=http://127.0.0.1:2"])
            _ = step("promote the learner that never started", ["member", "promote", newID])
            _ = step("remove the learner", ["member", "remove", newID])
            _ = step("member list after remove", ["member", "list"])
            if let target = cluster.memberID(followers[0]) {
                _ = step("move-leader from a follower", ["move-leader", target], on: [followers[1]])
                _ = step("move-leader", ["move-leader", target], on: cluster.members)
            }
            _ = step("move-leader to an unknown member", ["move-leader", "1234abcd"], on: cluster.members)
            return steps.map { (label: $0.0, output: $0.1) }
        }
    }
}
