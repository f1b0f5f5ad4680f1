import ArgumentParser
import BenchCore
import Client
import EtcdCtl
import Foundation
import Server

/// `snapshot save|restore|status`, as etcdctl 3.4's.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Manages etcd node snapshots",
        subcommands: [Save.self, Restore.self, Status.self])

    /// `snapshot save <filename>`: streams a member's store to a file.
    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stores an etcd node backend snapshot to a given file")

        @OptionGroup var global: GlobalOptions
        @Argument var filename: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard filename.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "snapshot save expects one argument") }
                let endpoints = global.endpointList
                guard endpoints.count == 1 else {
                    throw CtlError(code: ExitCode.badArgs, message: "snapshot must be requested to one selected node, not multiple [\(endpoints.joined(separator: " "))]")
                }
                var configuration = try global.clientConfiguration()
                configuration.requestTimeout = .seconds(3600)
                // A bar in percent of the store's size, on a terminal only.
                let bar = ProgressBar(total: 100)
                _ = try await EtcdClient.withClient(configuration) { client in
                    try await client.saveSnapshot(to: filename[0]) { received, total in bar.set(received * 100 / max(total, 1)) }
                }
                bar.finish()
                print("Snapshot saved at \(filename[0])")
            }
        }
    }

    /// `snapshot status <filename>`: a snapshot file's hash, revision, total keys and size.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Gets backend snapshot status of a given file")

        @OptionGroup var global: GlobalOptions
        @Argument var filename: [String] = []

        func run() async throws {
            await runReportingErrors {
                guard filename.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "snapshot status requires exactly one argument") }
                let printer = try global.printer()
                do {
                    let status = try SnapshotRestore.status(of: filename[0])
                    try emit(printer.snapshotStatus(SnapshotStatus(
                        hash: status.hash, revision: status.revision, totalKey: status.totalKey, totalSize: status.totalSize)))
                } catch let error as ConfigError {
                    throw CtlError(code: ExitCode.error, message: error.description)
                }
            }
        }
    }

    /// `snapshot restore <filename>`: makes a new member's data dir from a snapshot.
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restores an etcd member snapshot to an etcd directory")

        @OptionGroup var global: GlobalOptions
        @Argument var filename: [String] = []
        @Option(name: .customLong("data-dir"), help: "Path to the data directory")
        var dataDir: String?
        @Option(name: .customLong("wal-dir"), help: "Path to the WAL directory (use --data-dir if none given)")
        var walDir: String?
        @Option(name: .customLong("initial-cluster"), help: "Initial cluster configuration for restore bootstrap")
        var initialCluster = "default=http://localhost:2380"
        @Option(name: .customLong("initial-cluster-token"), help: "Initial cluster token for the etcd cluster during restore bootstrap")
        var initialClusterToken = "etcd-cluster"
        @Option(name: .customLong("initial-advertise-peer-urls"), help: "List of this member's peer URLs to advertise to the rest of the cluster")
        var initialAdvertisePeerURLs = "http://localhost:2380"
        @Option(help: "Human-readable name for this member")
        var name = "default"
        @Flag(name: .customLong("skip-hash-check"), help: "Ignore snapshot integrity hash value (required if copied from data directory)")
        var skipHashCheck = false

        func run() async throws {
            await runReportingErrors {
                guard filename.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "snapshot restore requires exactly one argument") }
                if walDir != nil { throw CtlError(code: ExitCode.badFeature, message: "--wal-dir is not supported: setcd keeps its WAL in the data dir") }
                var options = SnapshotRestore.Options(snapshotPath: filename[0])
                options.name = name
                options.dataDir = dataDir
                options.initialCluster = initialCluster
                options.initialClusterToken = initialClusterToken
                options.initialAdvertisePeerURLs = initialAdvertisePeerURLs.split(separator: ",").map { String($0) }
                options.skipHashCheck = skipHashCheck
                do {
                    _ = try SnapshotRestore.restore(options)
                } catch let error as ConfigError {
                    throw CtlError(code: ExitCode.error, message: error.description)
                }
            }
        }
    }
}

/// `version`: the client's version and the API version it speaks.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Prints the version of setcdctl")

    func run() async throws {
        print("setcdctl version: \(SetcdCtl.version)")
        print("API version: 3.5")
    }
}
