import Foundation
import Testing

extension EndToEnd {
    /// Plain HTTP on the client port, beside gRPC, as etcd serves it.
    @Suite struct HTTP {
        /// Status line, the headers clients read, and body, of one GET made with curl (HTTP/1.1). A missing or
        /// unrunnable curl is handed to `problem` (a test failure), never compared as if it were an answer.
        private static func get(_ server: ServerProcess, _ path: String, problem: (String) -> Void) -> String {
            guard let curl = RawGRPC.curl else {
                problem("curl is needed for this test: tools/install-deps.sh --test installs it")
                return "curl not installed"
            }
            let result: CommandResult
            do {
                result = try Subprocess.run(curl, ["-s", "-i", "--max-time", "5", "http://\(server.clientAddress)\(path)"], timeout: 10)
            } catch {
                problem("cannot run curl: \(error)")
                return "cannot run curl: \(error)"
            }
            let parts = result.stdout.components(separatedBy: "\r\n\r\n")
            let head = parts.first ?? ""
            let body = parts.dropFirst().joined(separator: "\r\n\r\n")
            let kept = head.components(separatedBy: "\r\n").filter { line in
                line.hasPrefix("HTTP/") || line.lowercased().hasPrefix("content-type:") || line.lowercased().hasPrefix("access-control-")
            }
            return (kept + [body]).joined(separator: "\n")
        }

        /// /health, an unknown path and (its shape) /version answer as etcd's do, on the same port as gRPC,
        /// which keeps working between HTTP requests.
        @Test func healthVersionAndUnknownPaths() throws {
            try differential { s in
                s.ctl("put", "a", "1")
                let problem = { (message: String) in s.fail("\(s.flavor): \(message)") }
                s.record("GET /health", Self.get(s.server, "/health", problem: problem))
                s.record("GET /no/such/path", Self.get(s.server, "/no/such/path", problem: problem))
                let version = Self.get(s.server, "/version", problem: problem)
                // Versions differ by nature; the keys and the content type must not.
                let shape = version.replacingOccurrences(of: #"\d+\.\d+\.\d+"#, with: "<V>", options: .regularExpression)
                s.record("GET /version", shape)
                s.ctl("get", "a")
            }
        }

        /// /metrics speaks Prometheus' text format under etcd's metric names, and counts what happened.
        @Test func metricsUseEtcdNames() throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            try server.start()
            let session = try Session(server: server)
            for i in 0..<5 { _ = session.ctlUnrecorded(["put", "k\(i)", "v"]) }
            let metrics = Self.get(server, "/metrics") { _ = Issue.record(Comment(rawValue: $0)) }
            #expect(metrics.contains("Content-Type: text/plain; version=0.0.4"))
            for name in ["etcd_server_has_leader 1", "etcd_server_is_leader 1", "etcd_disk_wal_fsync_duration_seconds_count",
                         "etcd_disk_backend_commit_duration_seconds_count", "etcd_mvcc_db_total_size_in_bytes"] {
                #expect(metrics.contains(name), "missing \(name)")
            }
            let applied = metrics.components(separatedBy: "\n").first { $0.hasPrefix("etcd_server_proposals_applied_total ") }
            #expect(applied.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 5 } == true, "applied: \(applied ?? "none")")
        }
    }
}
