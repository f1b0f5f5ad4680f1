import ArgumentParser
import Client
import EtcdCtl
import EtcdProto
import Foundation

/// `endpoint health|status|hashkv`, as etcdctl's: each endpoint (or, with `--cluster`, each member's
/// client URL) asked on its own.
struct EndpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endpoint", abstract: "Endpoint related commands", subcommands: [Health.self, Status.self, HashKV.self])

    /// The flags every endpoint subcommand takes.
    struct Options: ParsableArguments {
        @Flag(help: "use all endpoints from the cluster member list") var cluster = false
    }

    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Checks the healthiness of endpoints specified in `--endpoints` flag")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: Options

        func run() async throws {
            await runReportingErrors {
                let endpoints = try await targets(global, cluster: options.cluster)
                var results: [EndpointHealth] = []
                for endpoint in endpoints {
                    let started = ContinuousClock.now
                    var configuration = try global.clientConfiguration()
                    configuration.endpoints = [endpoint]
                    var failure = ""
                    do {
                        _ = try await EtcdClient.withClient(configuration) { try await $0.get("health") }
                    } catch {
                        // A permission error still proves the member answers.
                        let text = describe(error)
                        if text != "etcdserver: permission denied" { failure = text }
                    }
                    let took = ContinuousClock.now - started
                    let nanoseconds = took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000
                    results.append(EndpointHealth(endpoint: endpoint, health: failure.isEmpty, took: GoDuration.string(nanoseconds: nanoseconds), error: failure))
                }
                let text = try global.printer().endpointHealth(results)
                emit(text.stdout)
                FileHandle.standardError.write(Data(text.stderr.utf8))
                if results.contains(where: { !$0.error.isEmpty }) { throw CtlError(code: ExitCode.error, message: "unhealthy cluster") }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prints out the status of endpoints specified in `--endpoints` flag")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: Options

        func run() async throws {
            await runReportingErrors {
                var statuses: [EndpointStatus] = []
                var failed = false
                for endpoint in try await targets(global, cluster: options.cluster) {
                    var configuration = try global.clientConfiguration()
                    configuration.endpoints = [endpoint]
                    do {
                        let status = try await EtcdClient.withClient(configuration) { try await $0.status() }
                        statuses.append(EndpointStatus(endpoint: endpoint, status: status))
                    } catch {
                        failed = true
                        FileHandle.standardError.write(Data(CommandText.statusFailed(endpoint: endpoint, reason: describe(error)).utf8))
                    }
                }
                try emit(global.printer().endpointStatus(statuses))
                if failed { Foundation.exit(ExitCode.error) }
            }
        }
    }

    struct HashKV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "hashkv", abstract: "Prints the KV history hash for each endpoint in --endpoints")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: Options
        @Option(help: "maximum revision to hash (default: all revisions)") var rev: Int64 = 0

        func run() async throws {
            await runReportingErrors {
                var hashes: [EndpointHashKV] = []
                var failure: (any Error)?
                for endpoint in try await targets(global, cluster: options.cluster) {
                    var configuration = try global.clientConfiguration()
                    configuration.endpoints = [endpoint]
                    do {
                        let hash = try await EtcdClient.withClient(configuration) { try await $0.hashKV(revision: rev) }
                        hashes.append(EndpointHashKV(endpoint: endpoint, hashKV: hash))
                    } catch {
                        failure = error
                        FileHandle.standardError.write(Data(CommandText.hashKVFailed(endpoint: endpoint, reason: describe(error)).utf8))
                    }
                }
                try emit(global.printer().endpointHashKV(hashes))
                if let failure { throw failure }
            }
        }
    }
}

/// The endpoints a per-endpoint command asks: `--endpoints`, or with `--cluster` every member's client
/// URLs from the member list.
func targets(_ global: GlobalOptions, cluster: Bool) async throws -> [String] {
    guard cluster else { return global.endpointList }
    do {
        let members = try await global.withClient { try await $0.memberList() }
        return members.members.flatMap(\.clientUrls)
    } catch {
        throw CtlError(code: ExitCode.error, message: "failed to fetch endpoints from etcd cluster member list: \(describe(error))")
    }
}

/// `move-leader <transferee-member-id>`, as etcdctl's: finds the leader among the endpoints and asks it.
struct MoveLeaderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "move-leader", abstract: "Transfers leadership to another etcd cluster member.")
    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []

    func run() async throws {
        await runReportingErrors {
            guard args.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "move-leader command needs 1 argument") }
            guard let target = UInt64(args[0], radix: 16) else {
                throw CtlError(code: ExitCode.badArgs, message: "strconv.ParseUint: parsing \(goQuote(args[0])): invalid syntax")
            }
            for endpoint in global.endpointList {
                var configuration = try global.clientConfiguration()
                configuration.endpoints = [endpoint]
                let moved: (UInt64, Etcdserverpb_MoveLeaderResponse)? = try await EtcdClient.withClient(configuration) { client in
                    let status = try await client.status()
                    guard status.header.memberID == status.leader else { return nil }
                    return (status.leader, try await client.moveLeader(to: target))
                }
                if let (leader, response) = moved {
                    try emit(global.printer().moveLeader(from: leader, to: target, response))
                    return
                }
            }
            throw CtlError(code: ExitCode.badArgs, message: "no leader endpoint given at [\(global.endpointList.joined(separator: " "))]")
        }
    }
}

/// `defrag`, as etcdctl's (each endpoint, or every member with `--cluster`).
struct DefragCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "defrag", abstract: "Defragments the storage of the etcd members with given endpoints")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "use all endpoints from the cluster member list") var cluster = false

    func run() async throws {
        await runReportingErrors {
            var failed = false
            for endpoint in try await targets(global, cluster: cluster) {
                var configuration = try global.clientConfiguration()
                configuration.endpoints = [endpoint]
                do {
                    _ = try await EtcdClient.withClient(configuration) { try await $0.defragment() }
                    emit(CommandText.defragmented(endpoint: endpoint))
                } catch {
                    failed = true
                    FileHandle.standardError.write(Data(CommandText.defragmentFailed(endpoint: endpoint, reason: describe(error)).utf8))
                }
            }
            if failed { Foundation.exit(ExitCode.error) }
        }
    }
}
