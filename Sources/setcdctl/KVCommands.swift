import ArgumentParser
import Client
import EtcdProto
import EtcdCtl
import Foundation

/// `put [options] <key> <value>` (the value may come from stdin), as etcdctl's.
struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Puts the given key into the store")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Option(help: "lease ID (in hexadecimal) to attach to the key") var lease = "0"
    @Flag(name: .customLong("prev-kv"), help: "return the previous key-value pair before modification") var prevKV = false
    @Flag(name: .customLong("ignore-value"), help: "updates the key using its current value") var ignoreValue = false
    @Flag(name: .customLong("ignore-lease"), help: "updates the key using its current lease") var ignoreLease = false

    func run() async throws {
        await runReportingErrors {
            let request = try request(valueFromStdin: readStdin)
            let response = try await global.withClient { try await $0.put(request) }
            try emit(global.printer().put(response))
        }
    }

    /// The request the arguments describe; `valueFromStdin` supplies a value not given as an argument.
    func request(valueFromStdin: () -> String?) throws -> Etcdserverpb_PutRequest {
        guard let key = args.first else {
            throw CtlError(code: ExitCode.badArgs, message: "put command needs 1 argument and input from stdin or 2 arguments")
        }
        if ignoreValue && args.count > 1 {
            throw CtlError(code: ExitCode.badArgs, message: "put command needs only 1 argument when 'ignore-value' is set")
        }
        var value = ""
        if !ignoreValue {
            guard let given = args.count > 1 ? args[1] : valueFromStdin() else {
                throw CtlError(code: ExitCode.badArgs, message: "put command needs 1 argument and input from stdin or 2 arguments")
            }
            value = given
        }
        guard let id = Int64(lease, radix: 16) else {
            throw CtlError(code: ExitCode.badArgs, message: "bad lease ID (strconv.ParseInt: parsing \(goQuote(lease)): invalid syntax), expecting ID in Hex")
        }
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        request.lease = id
        request.prevKv = prevKV
        request.ignoreValue = ignoreValue
        request.ignoreLease = ignoreLease
        return request
    }
}

/// `get [options] <key> [range_end]`, as etcdctl's.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Gets the key or a range of keys")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Option(help: "Linearizable(l) or Serializable(s)") var consistency = "l"
    @Option(help: "Order of results; ASCEND or DESCEND (ASCEND by default)") var order = ""
    @Option(name: .customLong("sort-by"), help: "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION") var sortBy = ""
    @Option(help: "Maximum number of results") var limit: Int64 = 0
    @Flag(help: "Get keys with matching prefix") var prefix = false
    @Flag(name: .customLong("from-key"), help: "Get keys that are greater than or equal to the given key using byte compare") var fromKey = false
    @Option(help: "Specify the kv revision") var rev: Int64 = 0
    @Flag(name: .customLong("keys-only"), help: "Get only the keys") var keysOnly = false
    @Flag(name: .customLong("print-value-only"), help: "Only write values when using the \"simple\" output format") var printValueOnly = false

    func run() async throws {
        await runReportingErrors {
            let request = try request()
            if printValueOnly, try global.format != .simple {
                throw CtlError(code: ExitCode.badArgs, message: "print-value-only is only for `--write-out=simple`")
            }
            let response = try await global.withClient { try await $0.range(request) }
            try emit(global.printer(valueOnly: printValueOnly).get(response))
        }
    }

    /// The request the arguments describe.
    func request() throws -> Etcdserverpb_RangeRequest {
        let range = try KeyRange(args, prefix: prefix, fromKey: fromKey, command: "get")
        var request = Etcdserverpb_RangeRequest()
        request.key = range.key
        request.rangeEnd = range.rangeEnd
        switch consistency {
        case "s": request.serializable = true
        case "l": break
        default: throw CtlError(code: ExitCode.badFeature, message: "unknown consistency flag \(goQuote(consistency))")
        }
        request.limit = limit
        if rev > 0 { request.revision = rev }
        switch order.uppercased() {
        case "ASCEND": request.sortOrder = .ascend
        case "DESCEND": request.sortOrder = .descend
        case "": break
        default: throw CtlError(code: ExitCode.badFeature, message: "bad sort order \(order)")
        }
        switch sortBy.uppercased() {
        case "CREATE": request.sortTarget = .create
        case "KEY", "": request.sortTarget = .key
        case "MODIFY": request.sortTarget = .mod
        case "VALUE": request.sortTarget = .value
        case "VERSION": request.sortTarget = .version
        default: throw CtlError(code: ExitCode.badFeature, message: "bad sort target \(sortBy)")
        }
        // clientv3 drops an ascending sort by key: the server returns keys in that order anyway.
        if request.sortTarget == .key && request.sortOrder == .ascend { request.sortOrder = .none }
        request.keysOnly = keysOnly
        return request
    }
}

/// `del [options] <key> [range_end]`, as etcdctl's.
struct DelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Removes the specified key or range of keys [key, range_end)")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Flag(help: "delete keys with matching prefix") var prefix = false
    @Flag(name: .customLong("prev-kv"), help: "return deleted key-value pairs") var prevKV = false
    @Flag(name: .customLong("from-key"), help: "delete keys that are greater than or equal to the given key using byte compare") var fromKey = false

    func run() async throws {
        await runReportingErrors {
            let request = try request()
            let response = try await global.withClient { try await $0.delete(request) }
            try emit(global.printer().delete(response))
        }
    }

    /// The request the arguments describe.
    func request() throws -> Etcdserverpb_DeleteRangeRequest {
        let range = try KeyRange(args, prefix: prefix, fromKey: fromKey, command: "del")
        var request = Etcdserverpb_DeleteRangeRequest()
        request.key = range.key
        request.rangeEnd = range.rangeEnd
        request.prevKv = prevKV
        return request
    }
}

/// The key range of `get` and `del`: `<key> [range_end]`, `--prefix` or `--from-key`, with etcdctl's
/// rules and errors (an empty key with either flag means every key).
struct KeyRange {
    var key: Data
    var rangeEnd = Data()

    init(_ args: [String], prefix: Bool, fromKey: Bool, command: String) throws {
        guard let first = args.first else {
            throw CtlError(code: ExitCode.badArgs, message: "\(command) command needs one argument as key and an optional argument as range_end")
        }
        if prefix && fromKey {
            throw CtlError(code: ExitCode.badArgs, message: "`--prefix` and `--from-key` cannot be set at the same time, choose one")
        }
        key = Data(first.utf8)
        if args.count > 1 {
            if prefix || fromKey {
                throw CtlError(code: ExitCode.badArgs, message: "too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
            }
            rangeEnd = Data(args[1].utf8)
        }
        if prefix || fromKey {
            if first.isEmpty {
                key = Data([0])
                rangeEnd = Data([0])
            } else {
                rangeEnd = Data(fromKey ? [0] : KeyRanges.prefixEnd(of: Array(first.utf8)))
            }
        }
    }
}

/// Standard input, whole, if it is not a terminal (etcdctl's `argOrStdin`).
func readStdin() -> String? {
    guard isatty(0) == 0 else { return nil }
    let data = FileHandle.standardInput.readDataToEndOfFile()
    return String(decoding: data, as: UTF8.self)
}

/// Go's `%q` of a plain string.
func goQuote(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

/// Writes printed text to stdout.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
