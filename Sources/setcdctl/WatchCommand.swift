import ArgumentParser
import Client
import EtcdCtl
import EtcdProto
import Foundation

/// `watch [options] <key or prefix> [range_end]`, as etcdctl's (not yet: `-i` and an exec-command).
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Watches events stream on keys or prefixes")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Flag(name: [.customShort("i"), .long], help: "Interactive mode") var interactive = false
    @Flag(help: "Watch on a prefix if prefix is set") var prefix = false
    @Option(help: "Revision to start watching") var rev: Int64 = 0
    @Flag(name: .customLong("prev-kv"), help: "get the previous key-value pair before the event happens") var prevKV = false
    @Flag(name: .customLong("progress-notify"), help: "get periodic watch progress notification from server") var progressNotify = false

    func run() async throws {
        await runReportingErrors {
            if interactive { throw CtlError(code: ExitCode.badFeature, message: "interactive watch is not supported yet") }
            guard (1...2).contains(args.count) else { throw CtlError(code: ExitCode.badArgs, message: "bad number of arguments") }
            if args.count == 2 && prefix {
                throw CtlError(code: ExitCode.badArgs, message: "`range_end` and `--prefix` are mutually exclusive")
            }
            let key = Array(args[0].utf8)
            var options = WatchOptions(key: key, startRevision: rev)
            if args.count == 2 { options.rangeEnd = Array(args[1].utf8) }
            if prefix {
                if key.isEmpty {
                    options.key = [0]
                    options.rangeEnd = [0]
                } else {
                    options.rangeEnd = KeyRanges.prefixEnd(of: key)
                }
            }
            options.prevKV = prevKV
            options.progressNotify = progressNotify
            let printer = try global.printer()
            var configuration = try global.clientConfiguration()
            configuration.requireLeader = true
            do {
                try await EtcdClient.withClient(configuration) { client in
                    for try await response in client.watch(options) {
                        if response.events.isEmpty { emit("progress notify: \(response.header.revision)\n") }
                        try emit(printer.watch(response))
                    }
                }
            } catch let error as EtcdClientError {
                switch error {
                case .compacted:
                    FileHandle.standardError.write(Data("watch was canceled (etcdserver: mvcc: required revision has been compacted)\n".utf8))
                case .watchCanceled(let reason):
                    FileHandle.standardError.write(Data("watch was canceled (\(reason))\n".utf8))
                default:
                    throw error
                }
            }
            throw CtlError(code: ExitCode.interrupted, message: "watch is canceled by the server")
        }
    }
}
