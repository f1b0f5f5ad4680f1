import ArgumentParser
import BenchCore
import Client
import EtcdProto
import Foundation
import NIOCore
import NIOPosix
import Synchronization

// `setcd-bench`: etcd's benchmark tool (`tools/benchmark`), etcdctl's check perf and etcd's disk
// check, for setcd and etcd alike.

/// The connection flags of etcd's benchmark (its global flags).
struct ConnectionOptions: ParsableArguments {
    @Option(help: "gRPC endpoints") var endpoints = "127.0.0.1:2379"
    @Option(help: "Total number of gRPC connections") var conns = 1
    @Option(help: "Total number of gRPC clients") var clients = 1
    @Flag(name: .customLong("target-leader"), help: "Target leader endpoint") var targetLeader = false
    @Flag(help: "use full floating point precision") var precise = false
    @Option(help: "provide username[:password] and prompt if password is not supplied.") var user = ""
    @Option(help: "identify secure client using this TLS certificate file") var cert = ""
    @Option(help: "identify secure client using this TLS key file") var key = ""
    @Option(help: "verify certificates of TLS-enabled secure servers using this CA bundle") var cacert = ""
    @Option(name: [.customShort("w"), .customLong("write-out")], help: "Report format: simple or json") var writeOut = "simple"

    func validate() throws {
        guard writeOut == "simple" || writeOut == "json" else { throw ValidationError("write-out must be simple or json") }
        guard conns > 0, clients > 0 else { throw ValidationError("--conns and --clients must be positive") }
    }

    /// The workload's connections: to the leader's URLs with `--target-leader`.
    func workload() async throws -> Workload {
        var configuration = EtcdClient.Configuration(endpoints: endpoints.split(separator: ",").map(String.init))
        if !user.isEmpty {
            let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
            let password = parts.count == 2 ? parts[1] : readPassword()
            configuration.credentials = .init(user: parts[0], password: password)
        }
        if !cert.isEmpty || !key.isEmpty || !cacert.isEmpty {
            configuration.tls = .init(caFile: cacert.isEmpty ? nil : cacert, certFile: cert.isEmpty ? nil : cert, keyFile: key.isEmpty ? nil : key)
        }
        if targetLeader { configuration.endpoints = try await Workload.leaderEndpoints(configuration) }
        var workload = Workload(configuration: configuration)
        workload.connections = conns
        workload.clients = clients
        return workload
    }

    private func readPassword() -> String {
        FileHandle.standardError.write(Data("Password: ".utf8))
        return readLine(strippingNewline: true) ?? ""
    }

    /// A progress bar on stdout when it is a terminal and the report is text.
    func bar(_ total: Int) -> ProgressBar? { writeOut == "json" ? nil : ProgressBar(total: total) }

    /// Prints a report, after `title` when there is one (and a blank line between them, unless
    /// `gap` is false).
    func print(_ report: BenchReport, title: String? = nil, gap: Bool = true) {
        var body = writeOut == "json" ? report.json() : report.text(precise: precise)
        if title != nil && !gap && body.hasPrefix("\n") { body.removeFirst() }
        FileHandle.standardOutput.write(Data(((title.map { $0 + "\n" } ?? "") + body).utf8))
    }

    /// A line of etcd's text output (none with `-w json`).
    func say(_ line: String) {
        if writeOut != "json" { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    }
}

/// `--total` and `--rate`, which etcd's commands take each for itself.
struct LoadOptions: ParsableArguments {
    @Option(help: "Total number of requests") var total = 10_000
    @Option(help: "Maximum requests per second (0 is no limit)") var rate = 0
}

/// Keys and values of the write workloads.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("key-size"), help: "Key size of put request") var keySize = 8
    @Option(name: .customLong("val-size"), help: "Value size of put request") var valSize = 8
    @Option(name: .customLong("key-space-size"), help: "Maximum possible keys") var keySpaceSize = 1

    func validate() throws {
        guard keySpaceSize > 0 else { throw ValidationError("expected positive --key-space-size, got (\(keySpaceSize))") }
    }

    /// A random value of `--val-size` bytes, made once per run as etcd's tool does.
    var value: Data { Data((0..<valSize).map { _ in UInt8.random(in: 0...255) }) }
}

/// A txn's put of `value` at `key`.
func putOperation(key: [UInt8], value: Data) -> Etcdserverpb_RequestOp {
    var put = Etcdserverpb_PutRequest()
    put.key = Data(key)
    put.value = value
    var operation = Etcdserverpb_RequestOp()
    operation.requestPut = put
    return operation
}

/// The line etcd's range and txn-mixed print first.
func consistencyLine(_ consistency: String) -> String {
    consistency == "s" ? "bench with serializable range" : "bench with linearizable range"
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setcd-bench", abstract: "A low-level benchmark tool for etcd3 and setcd.",
        subcommands: [
            Put.self, Range.self, TxnPut.self, TxnMixed.self, Watch.self, WatchLatency.self, WatchGet.self, LeaseKeepAlive.self,
            MVCC.self, CheckPerfCommand.self, Disk.self,
        ])

    /// `put`: puts of `--val-size` bytes at `--key-size`-byte keys.
    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Benchmark put")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var load: LoadOptions
        @OptionGroup var data: DataOptions
        @Flag(name: .customLong("sequential-keys"), help: "Use sequential keys") var sequentialKeys = false
        @Option(name: .customLong("compact-interval"), help: "Interval to compact database (do not duplicate this with etcd's 'auto-compaction-retention' flag) (e.g. --compact-interval=5m compacts every 5-minute)")
        var compactInterval = "0"
        @Option(name: .customLong("compact-index-delta"), help: "Delta between current revision and compact revision (e.g. current revision 10000, compact at 9000)")
        var compactIndexDelta: Int64 = 1000
        @Flag(name: .customLong("check-hashkv"), help: "'true' to check hashkv") var checkHashKV = false

        func validate() throws {
            guard GoDuration.parse(compactInterval) != nil else { throw ValidationError("invalid --compact-interval \(compactInterval)") }
        }

        func run() async throws {
            let value = data.value
            let (keySize, keySpace, sequential) = (data.keySize, data.keySpaceSize, sequentialKeys)
            let workload = try await connection.workload()
            // etcd's compaction loop: every interval, compact at the current revision minus the delta.
            let interval = GoDuration.parse(compactInterval) ?? .zero
            let delta = compactIndexDelta
            let compactor = interval > .zero ? Task {
                try await EtcdClient.withClient(workload.configuration) { client in
                    while !Task.isCancelled {
                        try await Task.sleep(for: interval)
                        let revision = try await client.range(Etcdserverpb_RangeRequest.with { $0.key = Data("foo".utf8) }).header.revision
                        if revision > delta { _ = try? await client.compact(revision: revision - delta) }
                    }
                }
            } : nil
            let report = try await workload.run(total: load.total, rate: load.rate, bar: connection.bar(load.total)) { client, number in
                var request = Etcdserverpb_PutRequest()
                request.key = Data(Workload.key(number, keySize: keySize, keySpace: keySpace, sequential: sequential))
                request.value = value
                _ = try await client.put(request)
            }
            compactor?.cancel()
            connection.print(report)
            if checkHashKV { try await printHashKV(workload.configuration) }
        }

        /// etcd's `--check-hashkv` summary: the first endpoint's HashKV, the time it took and the DB size.
        private func printHashKV(_ configuration: EtcdClient.Configuration) async throws {
            var first = configuration
            first.endpoints = Array(configuration.endpoints.prefix(1))
            try await EtcdClient.withClient(first) { client in
                let clock = ContinuousClock()
                let started = clock.now
                let hash = try await client.hashKV().hash
                let took = clock.now - started
                let size = try await client.status().dbSize
                connection.say("HashKV Summary:\n\tHashKV: \(hash)\n\tEndpoint: \(first.endpoints[0])\n\tTime taken to get hashkv: "
                    + GoDuration.format(took) + "\n\tDB size: " + GoDuration.humanBytes(size))
            }
        }
    }

    /// `range <key> [end-range]`: reads, linearizable or serializable.
    struct Range: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Benchmark range")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var load: LoadOptions
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
            connection.say(consistencyLine(consistency))
            let report = try await connection.workload().run(total: load.total, rate: load.rate, bar: connection.bar(load.total)) { client, _ in
                _ = try await client.range(range)
            }
            connection.print(report)
        }
    }

    /// `txn-put`: txns of `--txn-ops` puts each.
    struct TxnPut: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "txn-put", abstract: "Benchmark txn-put")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var load: LoadOptions
        @OptionGroup var data: DataOptions
        @Option(name: .customLong("txn-ops"), help: "Number of puts per txn") var txnOps = 1

        func validate() throws {
            guard txnOps <= data.keySpaceSize else {
                throw ValidationError("expected --txn-ops no larger than --key-space-size, got txn-ops(\(txnOps)) key-space-size(\(data.keySpaceSize))")
            }
        }

        func run() async throws {
            let value = data.value
            let (keySize, keySpace, ops) = (data.keySize, data.keySpaceSize, txnOps)
            let report = try await connection.workload().run(total: load.total, rate: load.rate, bar: connection.bar(load.total)) { client, number in
                var txn = Etcdserverpb_TxnRequest()
                txn.success = (0..<ops).map { op in
                    putOperation(key: Workload.varintKey((number * ops + op) % keySpace, keySize: keySize), value: value)
                }
                _ = try await client.txn(txn)
            }
            connection.print(report)
        }
    }

    /// `txn-mixed`: txns that read (a range over every key, up to `--limit`) or write (a put), in
    /// `--rw-ratio` proportion, reported apart.
    struct TxnMixed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "txn-mixed", abstract: "Benchmark a mixed load of txn-put & txn-range.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var load: LoadOptions
        @OptionGroup var data: DataOptions
        @Argument var args: [String] = []
        @Option(name: .customLong("end-key"), help: "Read operation range end key. By default, we do full range query with the default limit of 1000.")
        var endKey = ""
        @Option(help: "Read operation range result limit") var limit = 1000
        @Option(help: "Linearizable(l) or Serializable(s)") var consistency = "l"
        @Option(name: .customLong("rw-ratio"), help: "Read/write ops ratio") var rwRatio = 1.0

        func validate() throws {
            guard (1...2).contains(args.count) else { throw ValidationError("txn-mixed takes a key and an optional end key") }
            guard consistency == "l" || consistency == "s" else { throw ValidationError("consistency must be l or s") }
        }

        func run() async throws {
            let value = data.value
            let (keySize, keySpace, readShare) = (data.keySize, data.keySpaceSize, rwRatio / (1 + rwRatio))
            // etcd's read: everything from "" (with --end-key, up to it), at most --limit keys.
            var read = Etcdserverpb_RangeRequest()
            read.key = Data([0])
            read.rangeEnd = endKey.isEmpty ? Data([0]) : Data(endKey.utf8)
            read.serializable = consistency == "s"
            read.limit = Int64(limit)
            var readOp = Etcdserverpb_RequestOp()
            readOp.requestRange = read
            var readTxn = Etcdserverpb_TxnRequest()
            readTxn.success = [readOp]
            let reads = readTxn
            connection.say(consistencyLine(consistency))
            // Which requests read is decided up front, so the two reports split one run.
            let isRead = (0..<load.total).map { _ in Double.random(in: 0..<1) < readShare }
            let workload = try await connection.workload()
            let reports = try await workload.withCallers { connections in
                try await Workload.drive(
                    connections: connections, clients: workload.clients, total: load.total, rate: load.rate, bar: connection.bar(load.total),
                    slots: 2, slot: { isRead[$0] ? 0 : 1 }
                ) { client, number in
                    if isRead[number] {
                        _ = try await client.txn(reads)
                    } else {
                        // etcd's writes are txns too: Txn().Then(OpPut(key, value)).
                        var txn = Etcdserverpb_TxnRequest()
                        txn.success = [putOperation(key: Workload.varintKey(number % keySpace, keySize: keySize), value: value)]
                        _ = try await client.txn(txn)
                    }
                }
            }
            let (readReport, writeReport) = (reports[0], reports[1])
            // etcd counts every request issued, failed ones included, and prints the report right under "Details:".
            connection.print(readReport, title: connection.writeOut == "json" ? nil : "Total Read Ops: \(readReport.requests)\nDetails:", gap: false)
            connection.print(writeReport, title: connection.writeOut == "json" ? nil : "Total Write Ops: \(writeReport.requests)\nDetails:", gap: false)
        }
    }

    /// `watch`: watcher creation, then the events of `--put-total` puts to the watched keys.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Benchmark watch")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Total watch streams") var streams = 10
        @Option(name: .customLong("watch-per-stream"), help: "Total watchers per stream") var watchPerStream = 100
        @Option(name: .customLong("watched-key-total"), help: "Total number of keys to be watched") var watchedKeyTotal = 1
        @Option(name: .customLong("put-rate"), help: "Number of keys to put per second") var putRate = 0
        @Option(name: .customLong("put-total"), help: "Number of put requests") var putTotal = 1000
        @Option(name: .customLong("key-size"), help: "Key size of watch request") var keySize = 32
        @Option(name: .customLong("key-space-size"), help: "Maximum possible keys") var keySpaceSize = 1
        @Flag(name: .customLong("sequential-keys"), help: "Use sequential keys") var sequentialKeys = false

        func run() async throws {
            let needed = 1 + streams / 100
            if min(connection.clients, connection.conns) < needed {
                FileHandle.standardError.write(Data("warning: grpc limits 100 streams per client connection, have \(min(connection.clients, connection.conns)) but need \(needed)\n".utf8))
            }
            let keys = (0..<max(watchedKeyTotal, 1)).map { Workload.key($0, keySize: keySize, keySpace: keySpaceSize, sequential: sequentialKeys) }
            let (creation, events) = try await WatchBench.watch(
                connection.workload(), streams: streams, watchersPerStream: watchPerStream, watchedKeys: keys, putTotal: putTotal,
                putRate: putRate, bar: connection.bar)
            connection.print(creation, title: connection.writeOut == "json" ? nil : "Watch creation summary:")
            connection.print(events, title: connection.writeOut == "json" ? nil : "Watch events received summary:")
        }
    }

    /// `watch-latency`: from a put's answer to each watcher's event.
    struct WatchLatency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "watch-latency", abstract: "Benchmark watch latency")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Total number of put requests") var total = 10_000
        @Option(name: .customLong("put-rate"), help: "Number of keys to put per second") var putRate = 100
        @Option(name: .customLong("key-size"), help: "Key size of watch response") var keySize = 32
        @Option(name: .customLong("val-size"), help: "Value size of watch response") var valSize = 32

        func run() async throws {
            let report = try await WatchBench.latency(
                connection.workload(), total: total, putRate: putRate, keySize: keySize, valueSize: valSize, bar: connection.bar(total))
            connection.print(report)
        }
    }

    /// `watch-get`: serializable gets while many unsynced watchers catch up.
    struct WatchGet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "watch-get", abstract: "Benchmark watch with get")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Total number of watchers") var watchers = 10_000
        @Option(help: "Total number of watcher streams") var streams = 1
        @Option(help: "Number of events per watcher") var events = 8

        func run() async throws {
            let report = try await WatchBench.get(
                connection.workload(), watchers: watchers, streams: streams, events: events, bar: connection.bar(watchers * events))
            connection.print(report, title: connection.writeOut == "json" ? nil : "Get during watch summary:")
        }
    }

    /// `lease-keepalive`: keep-alives of one lease per client.
    struct LeaseKeepAlive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "lease-keepalive", abstract: "Benchmark lease keepalive")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Total number of lease keepalive requests") var total = 10_000

        func run() async throws {
            let workload = try await connection.workload()
            let report = try await workload.withConnections { connections in
                // One lease (TTL 100 s) per client, granted before the clock starts.
                var leases: [Int64] = []
                for client in 0..<workload.clients { leases.append(try await connections[client % connections.count].grantLease(ttl: 100).id) }
                let owned = leases
                let next = LeaseCursor(owned)
                let clients = connections.map(Caller.client)
                return try await Workload.drive(connections: clients, clients: workload.clients, total: total, rate: 0, bar: connection.bar(total)) { caller, _ in
                    guard case .client(let client) = caller else { throw BenchError("keep-alives need the client library") }
                    _ = try await client.keepAliveOnce(next.take())
                }[0]
            }
            connection.print(report)
        }
    }

    /// `mvcc put`: puts into the storage engine alone.
    struct MVCC: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Benchmark mvcc", subcommands: [MVCCPut.self])
    }

    struct MVCCPut: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "put", abstract: "Benchmark put performance of storage")
        @Option(name: .customLong("batch-interval"), help: "Interval of batching (milliseconds)") var batchInterval = 100
        @Option(name: .customLong("batch-limit"), help: "A limit of batched transaction") var batchLimit = 10_000
        @Option(help: "total number of put operations") var total = 100
        @Option(name: .customLong("key-size"), help: "a size of key (Byte)") var keySize = 64
        @Option(name: .customLong("value-size"), help: "a size of value (Byte)") var valueSize = 64
        @Flag(help: "put operations are executed in a txn") var txn = false
        @Option(name: .customLong("txn-ops"), help: "Number of puts per txn") var txnOps = 1
        @Flag(help: "use full floating point precision") var precise = false
        @Option(name: [.customShort("w"), .customLong("write-out")], help: "Report format: simple or json") var writeOut = "simple"

        func run() throws {
            // etcd's tool works in ./mvcc-bench and removes it.
            let directory = FileManager.default.currentDirectoryPath + "/mvcc-bench"
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let report = try MVCCBench.put(
                directory: directory, total: total, keySize: keySize, valueSize: valueSize, txnOps: txn ? txnOps : 1,
                batchInterval: .milliseconds(batchInterval), batchLimit: batchLimit, bar: writeOut == "json" ? nil : ProgressBar(total: total))
            FileHandle.standardOutput.write(Data((writeOut == "json" ? report.json() : report.text(precise: precise)).utf8))
        }
    }

    /// `check-perf --load s|m|l|xl`: etcdctl check perf's workloads and verdict.
    struct CheckPerfCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "check-perf", abstract: "Check the performance of the etcd cluster (etcdctl check perf)")
        @Option(help: "gRPC endpoints") var endpoints = "127.0.0.1:2379"
        @Option(help: "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)")
        var load = "s"
        @Option(help: "The prefix for writing the performance check's keys.") var prefix = "/etcdctl-check-perf/"

        func run() async throws {
            guard let model = CheckPerf.model(load), let check = CheckPerf.models[model] else {
                throw BenchError("unknown load option \(load)")
            }
            let configuration = EtcdClient.Configuration(endpoints: endpoints.split(separator: ",").map(String.init))
            var prefixRange = Etcdserverpb_RangeRequest()
            prefixRange.key = Data(prefix.utf8)
            prefixRange.rangeEnd = Data(EtcdClient.prefixEnd(of: Array(prefix.utf8)))
            prefixRange.countOnly = true
            let everything = prefixRange
            if try await EtcdClient.withClient(configuration, { try await $0.range(everything).count }) > 0 {
                throw BenchError("prefix \"\(prefix)\" has keys. Delete with etcdctl del --prefix \(prefix) first")
            }
            let report = try await check.run(configuration: configuration, prefix: Array(prefix.utf8))
            _ = try await EtcdClient.withClient(configuration) { client in
                var delete = Etcdserverpb_DeleteRangeRequest()
                delete.key = everything.key
                delete.rangeEnd = everything.rangeEnd
                return try await client.delete(delete)
            }
            let verdict = check.verdict(report)
            for line in verdict.lines { Swift.print(line) }
            if !verdict.passed { throw ExitCode(1) }
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

/// Hands the clients' leases round in turn (each keep-alive renews the next lease).
final class LeaseCursor: Sendable {
    private let leases: [Int64]
    private let position = Atomic<Int>(0)

    init(_ leases: [Int64]) { self.leases = leases }

    func take() -> Int64 { leases[position.add(1, ordering: .relaxed).oldValue % leases.count] }
}

/// Runs a parsed command's asynchronous `run()` (an existential would pick the synchronous one).
func runAsync<Command: AsyncParsableCommand>(_ command: Command) async throws {
    var command = command
    try await command.run()
}

// Tasks run on the event loops that do the client's I/O, not on a pool of their own: a request then
// costs no thread switches, so the benchmark's own overhead stays small beside the server's.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

do {
    var command = try Bench.parseAsRoot(Array(CommandLine.arguments.dropFirst()))
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch let error as BenchError {
    FileHandle.standardError.write(Data((error.description + "\n").utf8))
    exit(1)
} catch {
    Bench.exit(withError: error)
}
