import Foundation
import Testing

extension EndToEnd {
    /// setcd-bench's workloads against both kinds of server: every request is made and reported (speed
    /// is not asserted), and the puts land.
    @Suite struct Bench {
        @Test(arguments: [Flavor.etcd, .setcd])
        func putAndRangeReportEveryRequest(_ flavor: Flavor) throws {
            let server = try ServerProcess(flavor)
            defer { server.cleanUp() }
            try server.start()
            let bench = try Binaries.setcdBench()
            let put = try Subprocess.run(bench, ["put", "--endpoints", server.clientAddress, "--total", "300", "--clients", "8", "--conns", "2",
                                                 "--key-space-size", "50", "--sequential-keys", "--val-size", "64", "-w", "json"], timeout: 120)
            #expect(put.exitCode == 0 && put.stdout.contains("\"requests\":300,") && put.stdout.contains("\"errors\":{}"), "\(put.stdout) \(put.stderr)")
            let keys = try Subprocess.run(try Binaries.etcdctl(), ["--endpoints=\(server.clientAddress)", "get", "", "--from-key", "--keys-only", "-w", "json"],
                                          environment: childEnvironment(["ETCDCTL_API": "3"]), timeout: 20)
            #expect(keys.stdout.contains("\"count\":50"), "50 distinct sequential keys: \(keys.stdout.prefix(200))")
            let range = try Subprocess.run(bench, ["range", "k", "--endpoints", server.clientAddress, "--total", "200", "--clients", "4",
                                                   "--consistency", "s"], timeout: 120)
            #expect(range.exitCode == 0 && range.stdout.contains("\nSummary:\n") && range.stdout.contains("Latency distribution:"), "\(range.stdout)")
            let bad = try Subprocess.run(bench, ["range", "--endpoints", server.clientAddress], timeout: 20)
            #expect(bad.exitCode != 0 && bad.stderr.contains("range takes a key"), "\(bad.stderr)")
        }

        /// The other workloads (txn-put, txn-mixed, the three watch benchmarks, lease-keepalive):
        /// each reports every request it made, with etcd's section titles, and nothing fails.
        @Test(arguments: [Flavor.etcd, .setcd])
        func everyWorkloadReportsEveryRequest(_ flavor: Flavor) throws {
            let server = try ServerProcess(flavor)
            defer { server.cleanUp() }
            try server.start()
            let bench = try Binaries.setcdBench()
            let endpoint = ["--endpoints", server.clientAddress]
            func run(_ arguments: [String]) throws -> String {
                let result = try Subprocess.run(bench, arguments + endpoint, timeout: 120)
                #expect(result.exitCode == 0 && !result.stdout.contains("Error distribution"), "\(arguments): \(result.stdout) \(result.stderr)")
                return result.stdout
            }
            let txnPut = try run(["txn-put", "--total", "100", "--txn-ops", "4", "--key-space-size", "40", "--clients", "4", "-w", "json"])
            #expect(txnPut.contains("\"requests\":100,"), "\(txnPut)")
            let mixed = try run(["txn-mixed", "k", "--total", "200", "--rw-ratio", "3", "--key-space-size", "20", "--clients", "4"])
            let opCounts = mixed.split(separator: "\n").compactMap { line -> Int? in
                guard line.hasPrefix("Total Read Ops: ") || line.hasPrefix("Total Write Ops: ") else { return nil }
                return Int(line.split(separator: " ").last!)
            }
            #expect(mixed.hasPrefix("bench with linearizable range\n") && opCounts.count == 2 && opCounts.reduce(0, +) == 200, "\(mixed)")
            #expect(mixed.contains("Details:\nSummary:\n"), "etcd prints the report right under Details: \(mixed)")
            let watch = try run(["watch", "--streams", "3", "--watch-per-stream", "5", "--watched-key-total", "2", "--key-space-size", "2", "--sequential-keys", "--put-total", "40",
                                 "--clients", "2", "--conns", "2", "-w", "json"])
            // 15 watchers created; 40 puts alternate over 2 keys watched by 8 and 7 watchers: 20×8 + 20×7 events.
            #expect(watch.contains("\"requests\":15,") && watch.contains("\"requests\":300,"), "\(watch)")
            let latency = try run(["watch-latency", "--total", "30", "--put-rate", "200", "--clients", "3", "-w", "json"])
            #expect(latency.contains("\"requests\":90,"), "one latency per watcher and put: \(latency)")
            let watchGet = try run(["watch-get", "--watchers", "50", "--streams", "2", "--events", "4"])
            #expect(watchGet.hasPrefix("Get during watch summary:\n") && watchGet.contains("Requests/sec:"), "\(watchGet)")
            let keepAlive = try run(["lease-keepalive", "--total", "60", "--clients", "3", "-w", "json"])
            #expect(keepAlive.contains("\"requests\":60,"), "\(keepAlive)")
            let hashKV = try run(["put", "--total", "300", "--clients", "4", "--compact-interval", "50ms", "--compact-index-delta", "10", "--check-hashkv"])
            #expect(hashKV.contains("HashKV Summary:\n\tHashKV: ") && hashKV.contains("\n\tDB size: ") && hashKV.contains(" kB"), "\(hashKV)")
            let leader = try run(["put", "--target-leader", "--total", "20", "--precise"])
            #expect(leader.contains("\nSummary:\n") && !leader.contains("0.0000 secs"), "--precise prints every digit: \(leader)")
        }

        /// A refused request is reported in etcd's words (here over the bare unary path: the status
        /// and message come from the answer's trailers), and the run goes on.
        @Test(arguments: [Flavor.etcd, .setcd])
        func refusedRequestsAreReportedInEtcdsWords(_ flavor: Flavor) throws {
            let server = try ServerProcess(flavor)
            defer { server.cleanUp() }
            try server.start()
            let tooLarge = try Subprocess.run(try Binaries.setcdBench(), ["put", "--endpoints", server.clientAddress, "--total", "3", "--val-size", "1600000"],
                                              timeout: 60)
            #expect(tooLarge.exitCode == 0 && tooLarge.stdout == "\nError distribution:\n  [3]\tetcdserver: request is too large\n", "\(tooLarge.stdout)")
        }

        /// Many short keep-alive streams from many clients all succeed: the client once left each
        /// stream before its end, and a few of 50,000 such calls to setcd failed with "Stream
        /// unexpectedly closed".
        @Test func manyKeepAliveStreamsAllSucceed() throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            try server.start()
            let run = try Subprocess.run(try Binaries.setcdBench(), ["lease-keepalive", "--endpoints", server.clientAddress, "--clients", "64",
                                                                     "--conns", "16", "--total", "20000", "-w", "json"], timeout: 300)
            #expect(run.exitCode == 0 && run.stdout.contains("\"requests\":20000,") && run.stdout.contains("\"errors\":{}"), "\(run.stdout.prefix(400))")
        }

        /// check-perf refuses an unknown load and a prefix that has keys, as etcdctl does, and leaves
        /// the keys alone.
        @Test func checkPerfRefusesBadInput() throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            try server.start()
            let bench = try Binaries.setcdBench()
            let unknown = try Subprocess.run(bench, ["check-perf", "--load", "huge", "--endpoints", server.clientAddress], timeout: 20)
            #expect(unknown.exitCode == 1 && unknown.stderr.contains("unknown load option huge"), "\(unknown.stderr)")
            let etcdctl = try Binaries.etcdctl()
            let environment = childEnvironment(["ETCDCTL_API": "3"])
            _ = try Subprocess.run(etcdctl, ["--endpoints=\(server.clientAddress)", "put", "/p/k", "v"], environment: environment, timeout: 20)
            let taken = try Subprocess.run(bench, ["check-perf", "--prefix", "/p/", "--endpoints", server.clientAddress], timeout: 20)
            #expect(taken.exitCode == 1 && taken.stderr.contains("prefix \"/p/\" has keys"), "\(taken.stderr)")
            let kept = try Subprocess.run(etcdctl, ["--endpoints=\(server.clientAddress)", "get", "/p/k", "--print-value-only"], environment: environment, timeout: 20)
            #expect(kept.stdout == "v\n")
        }
    }
}
