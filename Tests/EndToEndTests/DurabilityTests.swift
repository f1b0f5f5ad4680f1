import Foundation
import Testing

extension EndToEnd {
    @Suite struct Durability {
        /// 16 concurrent writers (etcdctl put in 16 shell loops, each logging a put only after etcdctl said OK),
        /// kill -9 of setcd mid-stream (once every writer has had puts acknowledged), restart with the same command line and data dir: every acknowledged put
        /// is there with its value, and the store is consistent (each put a new key, so keys = revision - 1).
        /// Twice, the second time on top of the first.
        @Test func killDashNineLosesNoAcknowledgedPut() throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            try server.start()
            let ctl = try Binaries.etcdctl()
            var acknowledged: [String: String] = [:]

            for round in 1...2 {
                let dir = server.root + "/writers-\(round)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let script = """
                    for k in $(seq 1 16); do
                      (
                        i=0
                        while [ ! -e "$DIR/stop" ]; do
                          i=$((i+1))
                          key="r$ROUND/w$k/$i"; value="v$ROUND-$k-$i"
                          if "$CTL" --endpoints="$EP" --dial-timeout=1s --command-timeout=3s put "$key" "$value" >/dev/null 2>&1; then
                            echo "$key $value" >> "$DIR/acked.$k"
                          fi
                        done
                      ) &
                    done
                    wait
                    """
                let writers = try Subprocess("/bin/bash", ["-c", script], environment: childEnvironment([
                    "ETCDCTL_API": "3", "DIR": dir, "CTL": ctl, "EP": server.clientAddress, "ROUND": "\(round)",
                ]))
                // Let the stream run, then kill -9 the server in the middle of it.
                func ackedPerWriter() -> [Int] {
                    (1...16).map { k in
                        (try? String(contentsOfFile: "\(dir)/acked.\(k)", encoding: .utf8))?.split(separator: "\n").count ?? 0
                    }
                }
                /// Waits until every one of the 16 writers has had 20 puts acknowledged (about 320 in all): all
                /// are mid-stream, so the kill lands among concurrent writes. A workload size, not a rate: the
                /// 120 s deadline only keeps a stuck server from hanging the test.
                let streaming = waitUntil(seconds: 120, interval: 0.1) { ackedPerWriter().allSatisfy { $0 >= 20 } }
                #expect(streaming, "round \(round): not every writer had 20 puts acknowledged before the kill: \(ackedPerWriter())")
                trace("durability round \(round): kill -9 after \(ackedPerWriter().reduce(0, +)) acknowledged puts")
                server.crash()
                _ = FileManager.default.createFile(atPath: dir + "/stop", contents: nil)
                let finished = writers.wait(seconds: 30)
                #expect(finished, "the writer loops did not stop")
                if !finished { writers.stop() }

                var roundAcked = 0
                for k in 1...16 {
                    let text = (try? String(contentsOfFile: "\(dir)/acked.\(k)", encoding: .utf8)) ?? ""
                    for line in text.split(separator: "\n") {
                        let parts = line.split(separator: " ", maxSplits: 1)
                        guard parts.count == 2 else { continue }
                        acknowledged[String(parts[0])] = String(parts[1])
                        roundAcked += 1
                    }
                }
                trace("durability round \(round): \(roundAcked) puts acknowledged in all")

                try server.relaunch()
                try server.waitHealthy()
                // Every acknowledged put survived.
                let get = try Subprocess.run(ctl, ["--endpoints=\(server.clientAddress)", "get", "r", "--prefix"],
                                             environment: childEnvironment(["ETCDCTL_API": "3"]), timeout: 60)
                #expect(get.exitCode == 0, "get after restart failed: \(get.stderr)")
                let lines = get.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                var stored: [String: String] = [:]
                var index = 0
                while index + 1 < lines.count {
                    stored[lines[index]] = lines[index + 1]
                    index += 2
                }
                let lost = acknowledged.filter { stored[$0.key] != $0.value }.sorted { $0.key < $1.key }
                #expect(lost.isEmpty, """
                    round \(round): \(lost.count) of \(acknowledged.count) acknowledged puts lost or wrong after kill -9 \
                    and restart, e.g. \(lost.prefix(10).map { "\($0.key)=\($0.value) (stored: \(stored[$0.key] ?? "missing"))" })
                    """)

                // Consistency: each put made one revision and one new key.
                let status = try Subprocess.run(ctl, ["--endpoints=\(server.clientAddress)", "get", "r", "--prefix",
                                                      "--keys-only", "--limit", "1", "-w", "json"],
                                                environment: childEnvironment(["ETCDCTL_API": "3"]), timeout: 30)
                let revision = status.stdout.range(of: #""revision":\d+"#, options: .regularExpression)
                    .flatMap { Int(status.stdout[$0].dropFirst(11)) } ?? -1
                #expect(revision == stored.count + 1,
                        "round \(round): revision \(revision) after restart, but \(stored.count) keys (expected keys + 1)")
                #expect(stored.count >= acknowledged.count)
                trace("durability round \(round): \(acknowledged.count) acknowledged, \(stored.count) stored, revision \(revision)")
            }
        }
    }
}
