import ArgumentParser
import BenchCore
import Client
import EtcdProto
import Foundation

// `setcd-bench`: etcd's benchmark tool (put, range) and etcd's disk check, for setcd and etcd alike.

/// The flags every workload takes (etcd's benchmark globals).
struct WorkloadOptions: ParsableArguments {
    @Option(help: "gRPC endpoints") var endpoints = "127.0.0.1:2379"
    @Option(help: "Total number of gRPC connections") var conns = 1
    @Option(help: "Total number of gRPC clients") var clients = 1
    @Option(help: "Total number of requests") var total = 10_000
    @Option(help: "Maximum requests per second (0 is no limit)") var rate = 0
    @Option(name: [.customShort("w"), .customLong("write-out")], help: "Report format: simple or json") var writeOut = "simple"

    var workload: Workload {
        var workload = Workload(endpoints: endpoints.split(separator: ",").map(String.init))
        workload.connections = conns
        workload.clients = clients
        workload.total = total
        workload.rate = rate
        return workload
    }

    func print(_ report: BenchReport) {
        FileHandle.standardOutput.write(Data((writeOut == "json" ? report.json() : report.text()).utf8))
    }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setcd-bench", abstract: "A low-level benchmark tool for etcd3 and setcd.",
        subcommands: [Put.self, Range.self, Disk.self])

    /// `put`: puts of `--val-size` bytes at `--key-size`-byte keys.
    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Benchmark put")
        @OptionGroup var options: WorkloadOptions
        @Option(name: .customLong("key-size"), help: "Key size of put request") var keySize = 8
        @Option(name: .customLong("val-size"), help: "Value size of put request") var valSize = 8
        @Option(name: .customLong("key-space-size"), help: "Maximum possible keys") var keySpaceSize = 1
        @Flag(name: .customLong("sequential-keys"), help: "Use sequential keys") var sequentialKeys = false

        func run() async throws {
            let value = Data(repeating: 0x62, count: valSize)
            let (keySize, keySpace, sequential) = (keySize, keySpaceSize, sequentialKeys)
            let report = try await options.workload.run { client, number in
                var request = Etcdserverpb_PutRequest()
                request.key = Data(Workload.key(number, keySize: keySize, keySpace: keySpace, sequential: sequential))
                request.value = value
                _ = try await client.put(request)
            }
            options.print(report)
        }
    }

    /// `range <key> [end-range]`: reads, linearizable or serializable.
    struct Range: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Benchmark range")
        @OptionGroup var options: WorkloadOptions
        @Argument var args: [String] = []
        @Option(help: "Linearizable(l) or Serializable(s)") var consistency = "l"

        func validate() throws {
            guard (1...2).contains(args.count) else { throw ValidationError("range takes a key and an optional end key") }
            guard consistency == "l" || consistency == "s" else { throw ValidationError("consistency must be l or s") }
        }

        func run() async throws {
            var request = Etcdserverpb_RangeRequest()
            request.key = Data(args[0].utf8)
            if args.count == 2 { request.rangeEnd = Data(args[1].utf8) }
            request.serializable = consistency == "s"
            let range = request
            let report = try await options.workload.run { client, _ in _ = try await client.range(range) }
            options.print(report)
        }
    }

    /// `disk --data-dir DIR`: etcd's fdatasync check of DIR's filesystem.
    struct Disk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a disk against etcd's fdatasync guidance (p99 under 10 ms)")
        @Option(name: .customLong("data-dir"), help: "A directory on the disk to check") var dataDir = "."
        @Option(help: "Synced writes to time") var writes = 2_200
        @Option(name: .customLong("sequential-mib"), help: "MiB of sequential writes for the throughput figure") var sequentialMiB = 256

        func run() async throws {
            let result = try DiskCheck.run(directory: dataDir, writes: writes, sequentialBytes: sequentialMiB << 20)
            FileHandle.standardOutput.write(Data(DiskCheck.text(result).utf8))
            if !result.passes { throw ExitCode(1) }
        }
    }
}

/// Runs a parsed command's asynchronous `run()` (an existential would pick the synchronous one).
func runAsync<Command: AsyncParsableCommand>(_ command: Command) async throws {
    var command = command
    try await command.run()
}

do {
    var command = try Bench.parseAsRoot(Array(CommandLine.arguments.dropFirst()))
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch {
    Bench.exit(withError: error)
}
