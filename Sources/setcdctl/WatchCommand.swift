import ArgumentParser
import Client
import EtcdCtl
import EtcdProto
import Foundation

/// `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`, as etcdctl's:
/// prints events until the server cancels the watch; with an exec-command, runs it for every event;
/// with `-i`, reads `watch ...` lines from stdin and runs each as a watch of its own.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Watches events stream on keys or prefixes")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Flag(name: [.customShort("i"), .long], help: "Interactive mode") var interactive = false
    @OptionGroup var options: WatchFlags

    func run() async throws {
        await runReportingErrors {
            let environment = ProcessInfo.processInfo.environment
            let envKey = environment["ETCDCTL_WATCH_KEY"] ?? ""
            let envRange = environment["ETCDCTL_WATCH_RANGE_END"] ?? ""
            if envKey.isEmpty && !envRange.isEmpty {
                throw CtlError(code: ExitCode.badArgs, message: "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=\(goQuote(envRange))")
            }
            let printer = try global.printer()
            var configuration = try global.clientConfiguration()
            configuration.requireLeader = true
            if interactive {
                try await EtcdClient.withClient(configuration) { client in
                    try await watchInteractively(client, printer: printer, envKey: envKey, envRange: envRange)
                }
                return
            }
            let (watchArgs, command) = try Self.split(args, rawArguments: CommandLine.arguments, envKey: envKey, envRange: envRange)
            let watch = try options.watchOptions(watchArgs)
            try await EtcdClient.withClient(configuration) { client in
                try await Self.printEvents(client.watch(watch), printer: printer, command: command)
            }
            throw CtlError(code: ExitCode.interrupted, message: "watch is canceled by the server")
        }
    }

    /// The watch's key arguments and the exec-command, from the parsed arguments and the raw command
    /// line (where the `--` before an exec-command is still visible), with etcdctl's checks.
    static func split(_ args: [String], rawArguments: [String], envKey: String, envRange: String) throws -> (watch: [String], command: [String]) {
        var raw = Array(rawArguments.dropFirst())
        if let watch = raw.firstIndex(of: "watch") { raw = Array(raw[(watch + 1)...]) }
        let separator = raw.firstIndex(of: "--")
        if let separator, separator == raw.count - 1 {
            throw CtlError(code: ExitCode.badArgs, message: "bad number of arguments (found separator --, but no commands)")
        }
        let command = separator.map { Array(raw[($0 + 1)...]) } ?? []
        var watchArgs = Array(args.dropLast(command.count))
        if !envKey.isEmpty {
            if !watchArgs.isEmpty {
                throw CtlError(code: ExitCode.badArgs, message: "bad number of arguments (found conflicting environment key)")
            }
            watchArgs = envRange.isEmpty ? [envKey] : [envKey, envRange]
        }
        // etcdctl ignores words past a range end, and a range end after two more.
        guard !watchArgs.isEmpty else { throw CtlError(code: ExitCode.badArgs, message: "bad number of arguments") }
        return (watchArgs.count == 2 ? watchArgs : [watchArgs[0]], command)
    }

    /// Prints a watch's responses as etcdctl does, running `command` for each event, until the watch
    /// ends; a cancellation by the server is reported on stderr.
    static func printEvents(
        _ stream: AsyncThrowingStream<Etcdserverpb_WatchResponse, any Error>, printer: any Printer, command: [String]
    ) async throws {
        do {
            for try await response in stream {
                if response.events.isEmpty { emit("progress notify: \(response.header.revision)\n") }
                try emit(printer.watch(response))
                for event in response.events where !command.isEmpty {
                    let environment = [
                        "ETCD_WATCH_REVISION": "\(response.header.revision)",
                        "ETCD_WATCH_EVENT_TYPE": goQuote(event.type == .put ? "PUT" : "DELETE"),
                        "ETCD_WATCH_KEY": goQuote(String(decoding: event.kv.key, as: UTF8.self)),
                        "ETCD_WATCH_VALUE": goQuote(String(decoding: event.kv.value, as: UTF8.self)),
                    ]
                    let failure: String?
                    do {
                        failure = try await runChild(command, environment: environment)
                    } catch let error as CtlError {
                        failure = error.message
                    }
                    if let failure {
                        let quoted = "[" + command.map(goQuote).joined(separator: " ") + "]"
                        FileHandle.standardError.write(Data("command \(quoted) error (\(failure))\n".utf8))
                        Foundation.exit(1)
                    }
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
    }

    /// `-i`: each stdin line `watch [options] <key> [range_end] [-- command ...]` starts a watch that
    /// prints concurrently with the others; the input ending is an error, as in etcdctl.
    private func watchInteractively(_ client: EtcdClient, printer: any Printer, envKey: String, envRange: String) async throws {
        let lines = StandardInputLines()
        try await withThrowingTaskGroup(of: Void.self) { group in
            while true {
                guard let line = await lines.next() else {
                    throw CtlError(code: ExitCode.invalidInput, message: "Error reading watch request line: EOF")
                }
                let words = try TxnGrammar.argify(line)
                guard let first = words.first else {
                    FileHandle.standardError.write(Data("Invalid command: \(line) (watch and progress supported)\n".utf8))
                    continue
                }
                guard first == "watch" else {
                    FileHandle.standardError.write(Data("Invalid command \(line) (only support watch)\n".utf8))
                    continue
                }
                if words.count < 2 && envKey.isEmpty {
                    FileHandle.standardError.write(Data("Invalid command \(line) (command type or key is not provided)\n".utf8))
                    continue
                }
                let (watch, command) = try Self.parseInteractive(Array(words.dropFirst()), envKey: envKey, envRange: envRange)
                group.addTask { try await Self.printEvents(client.watch(watch), printer: printer, command: command) }
            }
        }
    }

    /// One interactive `watch` line's options and exec-command.
    static func parseInteractive(_ words: [String], envKey: String, envRange: String) throws -> (WatchOptions, [String]) {
        let separator = words.firstIndex(of: "--")
        if let separator, separator == words.count - 1 {
            throw CtlError(code: ExitCode.badArgs, message: "bad number of arguments (found separator --, but no commands)")
        }
        let command = separator.map { Array(words[($0 + 1)...]) } ?? []
        let flags: WatchLine
        do {
            flags = try WatchLine.parse(Array(words[..<(separator ?? words.count)]))
        } catch {
            throw CtlError(code: ExitCode.badArgs, message: WatchLine.message(for: error))
        }
        var keys = flags.args
        if !envKey.isEmpty {
            if separator == nil && !keys.isEmpty {
                throw CtlError(code: ExitCode.badArgs, message: "bad number of arguments (found conflicting environment key)")
            }
            keys = (envRange.isEmpty ? [envKey] : [envKey, envRange]) + keys
        }
        guard !keys.isEmpty else { throw CtlError(code: ExitCode.badArgs, message: "bad number of arguments") }
        return (try flags.options.watchOptions(keys.count == 2 ? keys : [keys[0]]), command)
    }
}

/// The flags of a watch (on the command line, or on an interactive `watch` line).
struct WatchFlags: ParsableArguments {
    @Flag(help: "Watch on a prefix if prefix is set") var prefix = false
    @Option(help: "Revision to start watching") var rev: Int64 = 0
    @Flag(name: .customLong("prev-kv"), help: "get the previous key-value pair before the event happens") var prevKV = false
    @Flag(name: .customLong("progress-notify"), help: "get periodic watch progress notification from server") var progressNotify = false

    /// What to watch: `<key> [range_end]` with these flags.
    func watchOptions(_ keys: [String]) throws -> WatchOptions {
        if keys.count == 2 && prefix {
            throw CtlError(code: ExitCode.badArgs, message: "`range_end` and `--prefix` are mutually exclusive")
        }
        let key = Array(keys[0].utf8)
        var options = WatchOptions(key: key, startRevision: rev)
        if keys.count == 2 { options.rangeEnd = Array(keys[1].utf8) }
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
        return options
    }
}

/// An interactive `watch` line: the flags and the keys.
struct WatchLine: ParsableArguments {
    @OptionGroup var options: WatchFlags
    @Argument var args: [String] = []
}

/// Lines of stdin, read on a thread of their own so the blocking reads never hold a thread of the
/// concurrency pool; nil at the end of the input.
final class StandardInputLines: Sendable {
    private let (stream, continuation) = AsyncStream<String>.makeStream()

    init() {
        let continuation = continuation
        let reader = Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(line) }
            continuation.finish()
        }
        reader.start()
    }

    /// The next line; one consumer at a time.
    func next() async -> String? {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }
}
