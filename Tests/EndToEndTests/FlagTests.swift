import Foundation
import Testing

extension EndToEnd {
    /// setcd's command line as an operator meets it: `--help` and `--version` as etcd's, flags setcd does
    /// not implement refused by name (never silently ignored), bad values refused at start as etcd
    /// refuses them, each fatal error printed once.
    @Suite struct Flags {
        static func run(_ args: [String], environment: [String: String] = [:]) throws -> CommandResult {
            let root = NSTemporaryDirectory() + "setcd-flags-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: root) }
            return try Subprocess.run(try Binaries.setcd(), args + ["--data-dir", root], environment: childEnvironment(environment), timeout: 10)
        }

        @Test func helpListsEveryImplementedFlagWithItsDefault() throws {
            let help = try Subprocess.run(try Binaries.setcd(), ["--help"], timeout: 10)
            #expect(help.exitCode == 0)
            for group in ["Member:", "Clustering:", "Logging:"] {
                #expect(help.stdout.contains(group), "help lacks the \(group) group:\n\(help.stdout)")
            }
            for flag in ["--name 'default'", "--data-dir", "--listen-client-urls 'http://localhost:2379'", "--heartbeat-interval '100'",
                         "--election-timeout '1000'", "--initial-cluster-state 'new'", "--max-txn-ops '128'", "--enable-v2",
                         "--auth-token 'simple'", "--log-level 'info'", "--auto-compaction-mode", "--quota-backend-bytes"] {
                #expect(help.stdout.contains(flag), "help lacks \(flag)")
            }
            #expect(!help.stdout.contains("--discovery"), "help lists a flag setcd does not implement")
        }

        @Test func versionAnswersBeforeAnythingIsValidated() throws {
            let version = try Self.run(["--version", "--election-timeout", "10"])
            #expect(version.exitCode == 0, "\(version.stderr)")
            #expect(version.stdout.contains("etcd API Version: 3.5"), "\(version.stdout)")
            let off = try Self.run(["--version=false", "--election-timeout", "10"])
            #expect(!off.stdout.contains("Version"), "--version=false printed the version")
        }

        @Test func unimplementedFlagsAreRefusedByName() throws {
            for (args, name) in [(["--discovery", "https://discovery.etcd.io/x"], "--discovery"), (["--force-new-cluster"], "--force-new-cluster"),
                                 (["--wal-dir", "/tmp/w"], "--wal-dir"), (["--enable-pprof"], "--enable-pprof"),
                                 (["--listen-metrics-urls", "http://127.0.0.1:1"], "--listen-metrics-urls"), (["--pre-vote=false"], "--pre-vote")] {
                let result = try Self.run(args)
                #expect(result.exitCode == 1 && result.stderr.contains(name) && result.stderr.contains("not supported by setcd"),
                        "\(args): exit \(result.exitCode) \(result.stderr)")
            }
            let variable = try Self.run([], environment: ["ETCD_DISCOVERY": "https://discovery.etcd.io/x"])
            #expect(variable.exitCode == 1 && variable.stderr.contains("ETCD_DISCOVERY"), "exit \(variable.exitCode) \(variable.stderr)")
        }

        @Test func badValuesAreRefusedAsEtcdRefusesThem() throws {
            let cases: [([String], String)] = [
                (["--log-level", "bogus"], #"unknown level "bogus""#),
                (["--auto-compaction-mode", "bogus", "--auto-compaction-retention", "1"], #"unknown auto-compaction-mode "bogus""#),
                (["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "x"], #"error parsing CompactionRetention: time: invalid duration "x""#),
                (["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1.5"], #"time: missing unit in duration "1.5""#),
                (["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1e300"], "CompactionRetention"),
            ]
            for (args, message) in cases {
                let result = try Self.run(args)
                #expect(result.exitCode != 0 && result.stderr.contains(message), "\(args): exit \(result.exitCode) \(result.stderr)")
                let occurrences = result.stderr.components(separatedBy: message).count - 1
                #expect(occurrences == 1, "\(args): the error is printed \(occurrences) times:\n\(result.stderr)")
            }
        }
    }
}
