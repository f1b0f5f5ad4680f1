import Client
import EtcdProto
import Foundation
import Testing

extension EndToEnd {
    /// The Swift client library against real clusters.
    @Suite struct ClientLibrary {
        /// A watch through the client survives kill -9 of members, one after another, while writes go
        /// on: it moves to another member and resumes after the last revision it delivered, so it sees
        /// every change exactly once, in revision order.
        @Test func watchSurvivesMemberKillsWithoutGapOrDuplicate() async throws {
            let cluster = try ClusterProcess(.setcd, size: 3)
            defer { cluster.cleanUp() }
            try cluster.start()
            var configuration = EtcdClient.Configuration(endpoints: cluster.members.map(\.endpoint))
            configuration.requestTimeout = .seconds(10)
            let start = try await EtcdClient.withClient(configuration) { client in
                try await client.put("w/0", "start").header.revision
            }

            let ctl = try Binaries.etcdctl()
            let dir = cluster.root + "/writer"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let script = """
                i=0
                while [ ! -e "$DIR/stop" ]; do
                  i=$((i+1))
                  "$CTL" --endpoints="$EPS" --dial-timeout=1s --command-timeout=3s put "w/$i" "v$i" >/dev/null 2>&1 || sleep 0.1
                done
                """
            let writer = try Subprocess("/bin/bash", ["-c", script], environment: childEnvironment([
                "ETCDCTL_API": "3", "DIR": dir, "CTL": ctl, "EPS": cluster.members.map(\.endpoint).joined(separator: ","),
            ]))

            let events = try await EtcdClient.withClient(configuration) { client in
                try await withThrowingTaskGroup(of: [Mvccpb_Event].self) { group in
                    group.addTask {
                        var seen: [Mvccpb_Event] = []
                        for try await response in client.watch(.prefix("w/", startRevision: start)) {
                            seen += response.events
                            if FileManager.default.fileExists(atPath: dir + "/watched") && seen.last.map({ String(decoding: $0.kv.key, as: UTF8.self) }) == "w/end" {
                                break
                            }
                        }
                        return seen
                    }
                    // Kill each member in turn while the watch and the writes go on, restarting it after.
                    for member in cluster.members {
                        try await Task.sleep(for: .seconds(2))
                        cluster.crash(member)
                        try await Task.sleep(for: .seconds(2))
                        try cluster.launch(member)
                        try cluster.waitHealthy(member)
                    }
                    try await Task.sleep(for: .seconds(1))
                    _ = FileManager.default.createFile(atPath: dir + "/stop", contents: nil)
                    _ = writer.wait(seconds: 30)
                    _ = FileManager.default.createFile(atPath: dir + "/watched", contents: nil)
                    _ = try await client.put("w/end", "end")
                    let seen = try await group.next() ?? []
                    group.cancelAll()
                    return seen
                }
            }

            // Exactly the store's history: every change once, in revision order, none missing.
            let revisions = events.map(\.kv.modRevision)
            #expect(revisions == revisions.sorted() && Set(revisions).count == revisions.count, "events out of order or repeated")
            #expect(revisions.first == start, "the watch did not start at revision \(start)")
            let last = revisions.last ?? 0
            #expect(revisions.count == Int(last - start) + 1, "\(Int(last - start) + 1 - revisions.count) revisions missing between \(start) and \(last)")
            #expect(events.count > 20, "only \(events.count) events: the writer made little progress")
            let stored = try await EtcdClient.withClient(configuration) { client in try await client.get(prefix: "w/") }
            let watchedKeys = Set(events.map { $0.kv.key })
            #expect(stored.kvs.allSatisfy { watchedKeys.contains($0.key) }, "a stored key never reached the watch")
        }
    }
}
