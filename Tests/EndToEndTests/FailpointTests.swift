import Client
import Foundation
import Testing

extension EndToEnd {
    /// Failpoints (`SETCD_FAILPOINTS`): a member killed at each point of its write path, as kill -9
    /// there would, keeps every write it acknowledged and starts again. (A lone member sends no raft
    /// messages, so `raftBeforeSend` is for clusters.)
    @Suite struct Failpoints {
        @Test(arguments: ["walBeforeSave", "walAfterSave", "applyBeforeCommit", "applyAfterCommit"])
        func crashKeepsAcknowledgedWrites(_ point: String) async throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            server.extraEnvironment = ["SETCD_FAILPOINTS": "\(point)=crash@40"]
            try server.launch()
            try server.waitHealthy()
            var configuration = EtcdClient.Configuration(endpoints: [server.clientAddress])
            configuration.requestTimeout = .seconds(2)
            // Puts, one at a time, until the failpoint kills the member.
            let (acknowledged, inFlight): ([Put], Put?) = try await EtcdClient.withClient(configuration) { client in
                var acknowledged: [Put] = []
                for number in 0..<400 {
                    let put = Put(key: "k\(number % 16)", value: "v\(number)")
                    do {
                        _ = try await client.put(put.key, put.value)
                        acknowledged.append(put)
                    } catch {
                        // This put may or may not have been made: it was in flight when the member died.
                        return (acknowledged, put)
                    }
                }
                return (acknowledged, nil)
            }
            /// Waits for the member to exit (the failpoint crashes it); the 30 s deadline only keeps a member
            /// that never crashes from hanging the test.
            let exitStatus = server.exitStatus(within: 30)
            #expect(exitStatus != nil && !server.isRunning, "\(point) crashed the member")
            #expect(acknowledged.count >= 5 && inFlight != nil, "\(acknowledged.count) puts acknowledged before the crash")
            server.extraEnvironment = [:]
            try server.relaunch()
            try server.waitHealthy()
            var latest: [String: String] = [:]
            for put in acknowledged { latest[put.key] = put.value }
            try await EtcdClient.withClient(configuration) { client in
                for (key, value) in latest {
                    let found = try await client.get(prefix: key).kvs.first { String(decoding: $0.key, as: UTF8.self) == key }
                    let stored = found.map { String(decoding: $0.value, as: UTF8.self) }
                    let allowed = [value] + [inFlight].compactMap { $0?.key == key ? $0?.value : nil }
                    #expect(stored.map(allowed.contains) == true, "\(key) is \(stored ?? "missing") after a crash at \(point), acknowledged \(value)")
                }
            }
        }

        /// A misspelt failpoint is refused at start, naming the known ones.
        @Test func unknownFailpointIsRefused() throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            let run = try Subprocess.run(try Binaries.setcd(), ["--data-dir", server.dataDir], environment: childEnvironment(["SETCD_FAILPOINTS": "walBeforeSav=crash"]),
                                         timeout: 20)
            #expect(run.exitCode != 0 && run.stderr.contains("unknown failpoint in SETCD_FAILPOINTS: walBeforeSav=crash; known: walBeforeSave"), "\(run.stderr)")
        }
    }
}

/// A put of the failpoint test.
private struct Put: Sendable {
    let key: String
    let value: String
}
