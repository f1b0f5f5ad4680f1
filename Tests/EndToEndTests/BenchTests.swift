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
    }
}
