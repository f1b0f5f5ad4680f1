import Foundation
import Testing

extension EndToEnd {
    /// `setcdctl check perf|datascale`: etcdctl's workloads, verdict lines and errors. Speed is not
    /// asserted: a verdict line may say PASS or FAIL, only its form and the cleanup are checked.
    @Suite struct Check {
        @Test(arguments: [Flavor.etcd, .setcd])
        func refusalsMatchEtcdctl(_ flavor: Flavor) throws {
            try clientDifferential(flavor) { s in
                s.ctl("check", "perf", "--load", "huge")
                s.ctl("check", "datascale", "--load", "tiny")
                s.ctl("put", "/etcdctl-check-perf/left", "over")
                s.ctl("check", "perf")
                s.ctl("put", "/mine/x", "y")
                s.ctl("check", "datascale", "--prefix", "/mine/")
            }
        }

        /// datascale against both kinds of server: 10,000 puts, the memory line, the keys removed.
        @Test(arguments: [Flavor.etcd, .setcd])
        func datascaleLoadsReportsAndCleansUp(_ flavor: Flavor) throws {
            let server = try ServerProcess(flavor)
            defer { server.cleanUp() }
            try server.start()
            let setcdctl = try Binaries.setcdctl()
            let result = try Subprocess.run(setcdctl, ["--endpoints=\(server.clientAddress)", "check", "datascale", "--auto-compact"], timeout: 300)
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(result.exitCode == 0, "\(result.stdout) \(result.stderr)")
            #expect(lines.first == "Start data scale check for work load [10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients].")
            #expect(lines.contains { $0.wholeMatch(of: /PASS: Approximate system memory used : -?\d+\.\d\d MB\./) != nil }, "\(lines)")
            // 10,000 puts and the delete: revision 10,002 compacted.
            #expect(lines.contains("compacted revision 10002"), "\(lines)")
            let left = try Subprocess.run(setcdctl, ["--endpoints=\(server.clientAddress)", "get", "/etcdctl-check-datascale/", "--prefix", "--keys-only"], timeout: 20)
            #expect(left.exitCode == 0 && left.stdout.isEmpty, "keys left behind: \(left.stdout.count) bytes")
        }

        /// perf's 60-second small workload against setcd: the four verdict lines in etcdctl's form.
        @Test func perfRunsTheSmallWorkload() throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            try server.start()
            let setcdctl = try Binaries.setcdctl()
            let result = try Subprocess.run(setcdctl, ["--endpoints=\(server.clientAddress)", "check", "perf"], timeout: 180)
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(lines)")
            #expect(lines.first?.wholeMatch(of: /(PASS: Throughput is|FAIL: Throughput too low:) \d+ writes\/s/) != nil, "\(lines)")
            #expect(lines.contains { $0.wholeMatch(of: /(PASS: Slowest request took|Slowest request took too long:) \d+\.\d{6}s/) != nil }, "\(lines)")
            #expect(lines.contains { $0.wholeMatch(of: /(PASS: Stddev is|Stddev too high:) \d+\.\d{6}s/) != nil }, "\(lines)")
            #expect(lines.last == "PASS" || (lines.last == "FAIL" && result.exitCode == 1), "\(lines) exit \(result.exitCode)")
            // The workload wrote, then deleted the prefix: the revision is 1 (the empty store), plus one per put,
            // plus one for the delete. How many puts a machine manages is for benchmarks; what holds on any machine
            // is that there were some, and never more than the model's rate allows: 150 puts a second for 60 s,
            // 9,000 (the load is paced and never bursts to catch up), with some slack for a put per client at
            // the edges of the window.
            let status = try Subprocess.run(setcdctl, ["--endpoints=\(server.clientAddress)", "get", "x", "-w", "json"], timeout: 20)
            let revision = Int(status.stdout.firstMatch(of: /"revision":(\d+)/).map { String($0.1) } ?? "") ?? 0
            #expect((3...9100).contains(revision), "revision after the run: \(revision)")
            let left = try Subprocess.run(setcdctl, ["--endpoints=\(server.clientAddress)", "get", "/etcdctl-check-perf/", "--prefix", "--keys-only"], timeout: 20)
            #expect(left.stdout.isEmpty, "keys left behind: \(left.stdout.count) bytes")
        }
    }
}
