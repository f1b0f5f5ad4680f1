import ArgumentParser
import BenchCore
import Client
import EtcdCtl
import EtcdProto
import Foundation

/// `make-mirror [options] <destination>`, as etcdctl's: copies the keys under `--prefix` as of one
/// revision to the destination cluster, then replays every later change there (one destination txn
/// per source revision), printing the number of keys mirrored every 30 seconds, until the watch ends.
struct MakeMirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "make-mirror", abstract: "Makes a mirror at the destination etcd cluster")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Option(help: "Key-value prefix to mirror") var prefix = ""
    @Option(name: .customLong("dest-prefix"), help: "destination prefix to mirror a prefix to a different prefix in the destination cluster")
    var destPrefix = ""
    @Flag(name: .customLong("no-dest-prefix"), help: "mirror key-values to the root of the destination cluster") var noDestPrefix = false
    @Option(name: .customLong("dest-cert"), help: "Identify secure client using this TLS certificate file for the destination cluster")
    var destCert = ""
    @Option(name: .customLong("dest-key"), help: "Identify secure client using this TLS key file") var destKey = ""
    @Option(name: .customLong("dest-cacert"), help: "Verify certificates of TLS enabled secure servers using this CA bundle")
    var destCACert = ""

    /// Keys per range request of the initial copy.
    static let batchSize: Int64 = 1000

    func run() async throws {
        await runReportingErrors {
            guard args.count == 1 else { throw CtlError(code: ExitCode.badArgs, message: "make-mirror takes one destination argument") }
            if noDestPrefix && !destPrefix.isEmpty {
                throw CtlError(code: ExitCode.badArgs, message: "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one")
            }
            if !destCert.isEmpty || !destKey.isEmpty || !destCACert.isEmpty {
                throw CtlError(code: ExitCode.badFeature, message: "TLS for the destination is not supported by setcdctl yet")
            }
            let rename = KeyRename(from: prefix, to: noDestPrefix ? "" : (destPrefix.isEmpty ? prefix : destPrefix))
            var destination = EtcdClient.Configuration(endpoints: args)
            destination.requestTimeout = try global.clientConfiguration().requestTimeout
            let total = SharedCounter()
            try await global.withClient { source in
                try await EtcdClient.withClient(destination) { target in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            while true {
                                try await Task.sleep(for: .seconds(30))
                                emit("\(total.value)\n")
                            }
                        }
                        defer { group.cancelAll() }
                        try await mirror(from: source, to: target, rename: rename, total: total)
                    }
                }
            }
            throw CtlError(code: ExitCode.error, message: "<nil>")
        }
    }

    /// The initial copy at one revision, then the changes after it, until the watch ends.
    private func mirror(from source: EtcdClient, to target: EtcdClient, rename: KeyRename, total: SharedCounter) async throws {
        // As clientv3's mirror.Syncer: the whole keyspace from "\0" for an empty prefix.
        let start = prefix.isEmpty ? [UInt8(0)] : Array(prefix.utf8)
        let end = prefix.isEmpty ? [UInt8(0)] : KeyRanges.prefixEnd(of: start)
        var revision: Int64 = 0
        var next = start
        // A bar over the initial copy, on a terminal only (its size is known from the first page).
        var bar: ProgressBar?
        while true {
            var request = Etcdserverpb_RangeRequest()
            request.key = Data(next)
            request.rangeEnd = Data(end)
            request.limit = Self.batchSize
            request.revision = revision
            let response = try await source.range(request)
            if revision == 0 {
                revision = response.header.revision
                bar = ProgressBar(total: Int(response.count))
            }
            for kv in response.kvs {
                var put = Etcdserverpb_PutRequest()
                put.key = Data(rename.apply(Array(kv.key)))
                put.value = kv.value
                _ = try await target.put(put)
                total.add(1)
                bar?.advance()
            }
            guard response.more, let last = response.kvs.last else { break }
            next = Array(last.key) + [0]
        }
        bar?.finish()
        var watch = WatchOptions(key: start, rangeEnd: end, startRevision: revision + 1)
        watch.prevKV = false
        for try await change in source.watch(watch) {
            // One destination txn per source revision, as etcdctl.
            var ops: [Etcdserverpb_RequestOp] = []
            var opsRevision: Int64 = 0
            for event in change.events {
                if !ops.isEmpty && event.kv.modRevision > opsRevision {
                    _ = try await target.txn(.with { $0.success = ops })
                    ops = []
                }
                opsRevision = event.kv.modRevision
                let key = rename.apply(Array(event.kv.key))
                ops.append(event.type == .put ? .put(key, value: Array(event.kv.value), lease: 0) : .delete(key))
                total.add(1)
            }
            if !ops.isEmpty { _ = try await target.txn(.with { $0.success = ops }) }
        }
    }
}

/// etcdctl's `modifyPrefix`: the first occurrence of `from` in a key becomes `to` (for an empty `from`,
/// `to` goes in front).
struct KeyRename {
    let from: [UInt8]
    let to: [UInt8]

    init(from: String, to: String) {
        self.from = Array(from.utf8)
        self.to = Array(to.utf8)
    }

    func apply(_ key: [UInt8]) -> [UInt8] {
        guard !from.isEmpty else { return to + key }
        guard key.count >= from.count else { return key }
        for start in 0...(key.count - from.count) where key[start..<(start + from.count)].elementsEqual(from) {
            return Array(key[..<start]) + to + Array(key[(start + from.count)...])
        }
        return key
    }
}
