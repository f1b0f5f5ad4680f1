import ArgumentParser
import Client
import EtcdCtl
import EtcdProto
import Foundation

/// `txn [-i]`, as etcdctl's: reads compares, success ops and failure ops from stdin, each section ended
/// by a blank line, and commits them as one transaction.
///
/// A compare is `target("key") op "value"` with target `ver`/`version`, `c`/`create`, `m`/`mod`,
/// `val`/`value` or `lease`, and op `=`, `!=`, `<` or `>`; an op is a `put`, `get` or `del` command line
/// with that command's flags.
struct TxnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "txn", abstract: "Txn processes all the requests in one transaction")

    @OptionGroup var global: GlobalOptions
    @Argument var args: [String] = []
    @Flag(name: [.customShort("i"), .long], help: "Input transaction in interactive mode") var interactive = false

    func run() async throws {
        await runReportingErrors {
            if !args.isEmpty { throw CtlError(code: ExitCode.badArgs, message: "txn command does not accept argument") }
            var request = Etcdserverpb_TxnRequest()
            prompt("compares:")
            request.compare = try readSection().map(TxnGrammar.compare)
            prompt("success requests (get, put, del):")
            request.success = try readSection().map(TxnGrammar.requestOp)
            prompt("failure requests (get, put, del):")
            request.failure = try readSection().map(TxnGrammar.requestOp)
            let response = try await global.withClient { try await $0.txn(request) }
            try emit(global.printer().txn(response))
        }
    }

    private func prompt(_ text: String) {
        if interactive { emit(text + "\n") }
    }

    /// The trimmed lines of stdin up to the next blank line; input ending first is an error, as in
    /// etcdctl (which reports Go's "EOF").
    private func readSection() throws -> [String] {
        var lines: [String] = []
        while true {
            // A "\r\n" ending is one Character, so look at the last byte.
            guard let line = readLine(strippingNewline: false), line.utf8.last == UInt8(ascii: "\n") else {
                throw CtlError(code: ExitCode.invalidInput, message: "EOF")
            }
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { return lines }
            lines.append(trimmed)
        }
    }
}

/// etcdctl's txn line grammar.
enum TxnGrammar {
    /// Parses a compare line: `target("key") op "value"` (Go's `%q) %s %q` after the target).
    static func compare(_ line: String) throws -> Etcdserverpb_Compare {
        func malformed(_ detail: String = "") -> CtlError {
            CtlError(code: ExitCode.invalidInput, message: "malformed comparison: \(line)\(detail)")
        }
        guard let paren = line.firstIndex(of: "(") else { throw malformed() }
        let target = String(line[..<paren])
        var scanner = GoScanner(line[line.index(after: paren)...])
        let key = scanner.quoted()
        let closed = key != nil && scanner.literal(")") && scanner.spaces()
        let op = closed ? scanner.word() : nil
        let value = op != nil && scanner.spaces() ? scanner.quoted() : nil
        guard let key, let op, let value else {
            throw malformed("; got \(target)(\(goQuote(key ?? ""))) \(op ?? "") \(goQuote(value ?? ""))")
        }
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key.utf8)
        switch op.lowercased() {
        case "=": compare.result = .equal
        case "!=": compare.result = .notEqual
        case "<": compare.result = .less
        case ">": compare.result = .greater
        default: throw malformed(" (unknown operator \(op); use =, !=, < or >)")
        }
        let number = Int64(value)
        let invalid = CtlError(code: ExitCode.invalidInput, message: "invalid txn compare request: \(line)")
        switch target {
        case "ver", "version":
            guard let number else { throw invalid }
            compare.target = .version
            compare.version = number
        case "c", "create":
            guard let number else { throw invalid }
            compare.target = .create
            compare.createRevision = number
        case "m", "mod":
            guard let number else { throw invalid }
            compare.target = .mod
            compare.modRevision = number
        case "val", "value":
            compare.target = .value
            compare.value = Data(value.utf8)
        case "lease":
            // etcdctl 3.4 crashes on a lease compare; here it compares the key's lease id (decimal).
            guard let number else { throw invalid }
            compare.target = .lease
            compare.lease = number
        default:
            throw malformed(" (unknown target \(target))")
        }
        return compare
    }

    /// Parses an op line: a `put`, `get` or `del` command line with that command's flags.
    static func requestOp(_ line: String) throws -> Etcdserverpb_RequestOp {
        let words = try argify(line)
        guard words.count >= 2 else {
            throw CtlError(code: ExitCode.invalidInput, message: "invalid txn compare request: \(line)")
        }
        let invalid = CtlError(code: ExitCode.invalidInput, message: "invalid txn request: \(line)")
        // The ops take their command's own flags only, not the global ones.
        let arguments = Array(words.dropFirst())
        if arguments.contains(where: { word in GlobalOptions.flagNames.contains { word == $0 || word.hasPrefix($0 + "=") } }) {
            throw invalid
        }
        var op = Etcdserverpb_RequestOp()
        do {
            switch words[0] {
            case "put":
                // etcdctl would read a missing value from stdin, which the txn itself is read from.
                op.requestPut = try PutCommand.parse(arguments).request { nil }
            case "get":
                op.requestRange = try GetCommand.parse(arguments).request()
            case "del":
                op.requestDeleteRange = try DelCommand.parse(arguments).request()
            default:
                throw invalid
            }
        } catch let error as CtlError {
            throw error  // the command's own argument errors end etcdctl's txn with that command's error
        } catch {
            throw invalid  // an unknown flag or a malformed value
        }
        return op
    }

    /// Splits an op line into words as etcdctl does: double-quoted words are Go string literals,
    /// single-quoted words are taken literally, other words end at white space.
    static func argify(_ line: String) throws -> [String] {
        let pattern = try! NSRegularExpression(pattern: #""(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?"#)
        let text = line as NSString
        return try pattern.matches(in: line, range: NSRange(location: 0, length: text.length)).map { match in
            let word = text.substring(with: match.range)
            if word.hasPrefix("'") { return String(word.dropFirst().dropLast()) }
            if word.hasPrefix("\"") {
                var scanner = GoScanner(Substring(word))
                guard let unquoted = scanner.quoted() else {
                    throw CtlError(code: ExitCode.invalidInput, message: "invalid syntax")
                }
                return unquoted
            }
            return word
        }
    }
}

/// The parts of Go's `fmt.Sscanf` that etcdctl's txn compare format uses: `%q` (a double-quoted Go
/// string literal or a back-quoted raw string, after optional spaces), `%s` (a word after optional
/// spaces), a format space (at least one space, or the end) and literal text (matched exactly).
struct GoScanner {
    private var rest: Substring

    init(_ text: Substring) { rest = text }

    private mutating func skipSpaces() {
        rest = rest.drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
    }

    /// `%q`; nil (consuming nothing useful) if no well-formed quoted string comes next.
    mutating func quoted() -> String? {
        skipSpaces()
        guard let quote = rest.first, quote == "\"" || quote == "`" else { return nil }
        if quote == "`" {
            let body = rest.dropFirst()
            guard let end = body.firstIndex(of: "`") else { return nil }
            rest = body[body.index(after: end)...]
            return String(body[..<end])
        }
        var bytes: [UInt8] = []
        var utf8 = Array(rest.utf8.dropFirst())[...]
        while let byte = utf8.popFirst() {
            switch byte {
            case UInt8(ascii: "\""):
                rest = Substring(String(decoding: utf8, as: UTF8.self))
                return String(decoding: bytes, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let unescaped = Self.unescape(&utf8) else { return nil }
                bytes += unescaped
            case UInt8(ascii: "\n"):
                return nil
            default:
                bytes.append(byte)
            }
        }
        return nil
    }

    /// One Go escape sequence after a backslash, as bytes.
    private static func unescape(_ utf8: inout ArraySlice<UInt8>) -> [UInt8]? {
        guard let letter = utf8.popFirst() else { return nil }
        func hex(_ count: Int) -> UInt32? {
            guard utf8.count >= count, let value = UInt32(String(decoding: utf8.prefix(count), as: UTF8.self), radix: 16) else { return nil }
            utf8.removeFirst(count)
            return value
        }
        switch letter {
        case UInt8(ascii: "a"): return [7]
        case UInt8(ascii: "b"): return [8]
        case UInt8(ascii: "f"): return [12]
        case UInt8(ascii: "n"): return [10]
        case UInt8(ascii: "r"): return [13]
        case UInt8(ascii: "t"): return [9]
        case UInt8(ascii: "v"): return [11]
        case UInt8(ascii: "\\"), UInt8(ascii: "\""): return [letter]
        case UInt8(ascii: "x"): return hex(2).map { [UInt8($0)] }
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            guard let code = hex(letter == UInt8(ascii: "u") ? 4 : 8), let scalar = Unicode.Scalar(code) else { return nil }
            return Array(String(Character(scalar)).utf8)
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            guard utf8.count >= 2, let value = UInt32(String(decoding: [letter] + utf8.prefix(2), as: UTF8.self), radix: 8), value < 256 else { return nil }
            utf8.removeFirst(2)
            return [UInt8(value)]
        default: return nil
        }
    }

    /// Literal text: must come next, exactly.
    mutating func literal(_ text: String) -> Bool {
        guard rest.hasPrefix(text) else { return false }
        rest = rest.dropFirst(text.count)
        return true
    }

    /// A space in the format: one or more spaces, or the end of the input.
    mutating func spaces() -> Bool {
        guard let first = rest.first else { return true }
        guard first == " " || first == "\t" || first == "\r" else { return false }
        skipSpaces()
        return true
    }

    /// `%s`: the next word.
    mutating func word() -> String? {
        skipSpaces()
        let word = rest.prefix { !$0.isWhitespace }
        guard !word.isEmpty else { return nil }
        rest = rest.dropFirst(word.count)
        return String(word)
    }
}
