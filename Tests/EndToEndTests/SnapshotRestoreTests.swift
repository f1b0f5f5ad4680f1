import Foundation
import Testing

extension EndToEnd {
    /// `setcdctl snapshot save`, `status` and `restore`, as etcdctl's.
    @Suite struct SnapshotRestore {
        /// A snapshot of a loaded setcd, restored with setcdctl into the data dirs of a new 3-member
        /// cluster (etcd's restore flags), comes up with every key on every member and agreeing hashes;
        /// a damaged snapshot and an existing data dir are refused with etcdctl's messages.
        @Test func restoreIntoANewThreeMemberCluster() throws {
            let source = try ServerProcess(.setcd)
            defer { source.cleanUp() }
            try source.start()
            let ctl = try Binaries.etcdctl()
            let setcdctl = try Binaries.setcdctl()
            let environment = childEnvironment(["ETCDCTL_API": "3"])
            // Load it: 500 keys in batches (one txn each), a deletion, a lease.
            for batch in 0..<10 {
                let ops = (0..<50).map { "put k/\(batch * 50 + $0) v\(batch * 50 + $0)" }.joined(separator: "\n")
                let txn = try Subprocess.run(ctl, ["--endpoints=\(source.clientAddress)", "txn"], stdin: "\n\(ops)\n\n\n", environment: environment, timeout: 20)
                #expect(txn.exitCode == 0, "load: \(txn.stderr)")
            }
            _ = try Subprocess.run(ctl, ["--endpoints=\(source.clientAddress)", "del", "k/7"], environment: environment, timeout: 10)
            let snapshot = source.root + "/backup.db"
            let save = try Subprocess.run(setcdctl, ["--endpoints=\(source.clientAddress)", "snapshot", "save", snapshot], timeout: 30)
            #expect(save.exitCode == 0 && save.stdout == "Snapshot saved at \(snapshot)\n", "snapshot save: \(save.stdout) \(save.stderr)")
            let expected = try Subprocess.run(ctl, ["--endpoints=\(source.clientAddress)", "get", "k/", "--prefix"], environment: environment, timeout: 20).stdout
            #expect(expected.split(separator: "\n").count == 998)

            // `snapshot status`: the source's revision; 500 puts and a delete at least in its history;
            // the hash changes with the content; a damaged or missing file is refused.
            func status(_ path: String, _ format: String = "json") throws -> CommandResult {
                try Subprocess.run(setcdctl, ["snapshot", "status", path, "-w", format], timeout: 30)
            }
            let revision = try Subprocess.run(ctl, ["--endpoints=\(source.clientAddress)", "get", "k/0", "-w", "json"], environment: environment, timeout: 10)
                .stdout.firstMatch(of: /"revision":(\d+)/).map { String($0.1) }
            let saved = try status(snapshot)
            #expect(saved.exitCode == 0 && saved.stdout.contains("\"revision\":\(revision ?? "?"),"), "status: \(saved.stdout) \(saved.stderr), revision \(String(describing: revision))")
            let keys = saved.stdout.firstMatch(of: /"totalKey":(\d+)/).flatMap { Int($0.1) } ?? 0
            #expect(keys >= 1001, "status counts every entry of the store: \(saved.stdout)")
            let size = try FileManager.default.attributesOfItem(atPath: snapshot)[.size] as? Int ?? 0
            #expect(saved.stdout.contains("\"totalSize\":\(size - 32)}"), "status size is the store's (file minus its hash): \(saved.stdout), file \(size)")
            #expect(try status(snapshot, "table").stdout.contains("| TOTAL KEYS |"))
            _ = try Subprocess.run(ctl, ["--endpoints=\(source.clientAddress)", "put", "one", "more"], environment: environment, timeout: 10)
            let later = source.root + "/later.db"
            _ = try Subprocess.run(setcdctl, ["--endpoints=\(source.clientAddress)", "snapshot", "save", later], timeout: 30)
            let hash = { (text: String) in text.firstMatch(of: /"hash":(\d+)/).map { String($0.1) } }
            let laterHash = hash(try status(later).stdout)
            #expect(laterHash != nil && laterHash != hash(saved.stdout), "hash after one more put: \(String(describing: laterHash))")
            let missing = try status(source.root + "/missing.db")
            #expect(missing.exitCode == 1 && missing.stderr == "Error: stat \(source.root)/missing.db: no such file or directory\n", "\(missing.stderr)")

            let cluster = try ClusterProcess(.setcd, size: 3)
            defer { cluster.cleanUp() }
            let initialCluster = cluster.members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
            for member in cluster.members {
                let restore = try Subprocess.run(setcdctl, [
                    "snapshot", "restore", snapshot, "--name", member.name, "--data-dir", member.dataDir,
                    "--initial-cluster", initialCluster, "--initial-cluster-token", cluster.token,
                    "--initial-advertise-peer-urls", member.peerURL,
                ], timeout: 30)
                #expect(restore.exitCode == 0, "restore \(member.name): \(restore.stderr)")
            }
            let again = try Subprocess.run(setcdctl, ["snapshot", "restore", snapshot, "--data-dir", cluster.members[0].dataDir], timeout: 30)
            #expect(again.exitCode == 1 && again.stderr == "Error: data-dir \"\(cluster.members[0].dataDir)\" exists\n", "restore over a data dir: \(again.stderr)")
            var damaged = try Data(contentsOf: URL(fileURLWithPath: snapshot))
            damaged[100] ^= 0xFF
            try damaged.write(to: URL(fileURLWithPath: source.root + "/damaged.db"))
            let bad = try Subprocess.run(setcdctl, ["snapshot", "restore", source.root + "/damaged.db", "--data-dir", source.root + "/bad"], timeout: 30)
            #expect(bad.exitCode == 1 && bad.stderr.hasPrefix("Error: expected sha256"), "restore of a damaged snapshot: \(bad.stderr)")
            let badStatus = try status(source.root + "/damaged.db")
            #expect(badStatus.exitCode == 1 && badStatus.stderr.hasPrefix("Error: expected sha256"), "status of a damaged snapshot: \(badStatus.stderr)")

            try cluster.start()
            for member in cluster.members {
                let get = cluster.ctl(["get", "k/", "--prefix"], on: [member], timeout: 30)
                #expect(get.stdout == expected, "\(member.name) after restore: \(get.stdout.split(separator: "\n").count / 2) keys, \(get.stderr)")
            }
            let members = cluster.ctl(["member", "list"], on: [cluster.members[0]])
            #expect(members.stdout.split(separator: "\n").count == 3, "member list: \(members.stdout)")
            #expect(cluster.ctl(["put", "after", "restore"], on: [cluster.members[1]]).exitCode == 0)
            let hashes = cluster.ctl(["endpoint", "hashkv", "--cluster"], on: [cluster.members[2]])
            #expect(Set(hashes.stdout.split(separator: "\n").compactMap { $0.split(separator: ",").last }).count == 1, "hashkv: \(hashes.stdout)")
        }
    }
}
