import Foundation
import Server

/// etcd's command line, parsed as Go's `flag` package does (etcd's own parser): `-flag value`,
/// `--flag value`, `-flag=value`, `--flag=value`; boolean flags take no value or `=true|false`. Every
/// flag can also come from `ETCD_<FLAG_WITH_UNDERSCORES>`; the command line wins. swift-argument-parser
/// does not model single-dash long flags or this environment fallback, hence this small parser.
///
/// An etcd flag setcd does not implement is accepted only with a value that asks for what setcd does
/// anyway (etcd's default, mostly); any other value refuses the start, naming the flag or variable as
/// it was given. An `ETCD_*` variable for an etcd flag setcd does not know refuses the start too (the
/// flag itself is undefined on the command line, as in Go).
struct Flags {
    /// A flag's name, whether it is boolean, and how a value sets the configuration: `apply` throws
    /// `ValueError` for a value etcd's parser rejects too, `Unsupported` for one setcd does not act on.
    struct Definition: Sendable {
        let name: String
        let isBool: Bool
        let apply: @Sendable (inout ServerConfig, String) throws -> Void
    }

    /// The configuration the flags and variables ask for.
    private(set) var config = ServerConfig()
    /// `--version`: answered before the variables are read or anything is checked, as by etcd.
    private(set) var showVersion = false
    /// What to log once logging is set up: unrecognised and shadowed variables.
    private(set) var warnings: [String] = []
    /// Why the start is refused: the first flag or variable whose value setcd does not support.
    private var unsupported: String?
    /// The flags set on the command line; their variables are ignored.
    private var setOnCommandLine: Set<String> = []

    /// Parses `arguments` (without the program name). Throws `FlagError` for what Go's `flag` refuses
    /// (etcd prints it with the usage) and `ConfigError` for an argument that is not a flag (etcd
    /// refuses it when verifying its flags).
    init(commandLine arguments: [String]) throws {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                // Go's parser stops here; whatever follows is an argument etcd refuses.
                if index < arguments.count { throw ConfigError("'\(arguments[index])' is not a valid flag") }
                break
            }
            guard argument.hasPrefix("-"), argument != "-" else { throw ConfigError("'\(argument)' is not a valid flag") }
            var name = argument.hasPrefix("--") ? String(argument.dropFirst(2)) : String(argument.dropFirst())
            var explicit: String?
            if let equals = name.firstIndex(of: "=") {
                explicit = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "version" {
                do {
                    showVersion = try GoFlagValue.bool(explicit ?? "true")
                } catch {
                    throw FlagError.invalidBool(name: name, value: explicit ?? "")
                }
                continue
            }
            guard let definition = Self.definition(name) else {
                if name == "h" || name == "help" { throw FlagError.help }
                throw FlagError.undefined(name)
            }
            let value: String
            if let explicit {
                value = explicit
            } else if definition.isBool {
                value = "true"
            } else {
                guard index < arguments.count else { throw FlagError.missingValue(name) }
                value = arguments[index]
                index += 1
            }
            do {
                try definition.apply(&config, value)
            } catch let error as ValueError {
                if definition.isBool { throw FlagError.invalidBool(name: name, value: value) }
                throw FlagError.invalidValue(name: name, value: value, reason: error.reason)
            } catch let refusal as Unsupported {
                record(refusal, given: explicit == nil && definition.isBool ? "--\(name)" : "--\(name)=\(value)")
            }
            setOnCommandLine.insert(name)
        }
    }

    /// Reads the `ETCD_*` variables of `environment` for the flags the command line did not set,
    /// skipping empty ones as etcd does. Throws `ConfigError` for a value etcd's parser rejects.
    mutating func readEnvironment(_ environment: [String: String]) throws {
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) where key.hasPrefix("ETCD_") && !value.isEmpty {
            let name = key.dropFirst(5).lowercased().replacingOccurrences(of: "_", with: "-")
            guard let definition = Self.definition(name) else {
                if Self.etcdFlagsSetcdLacks.contains(name) {
                    record(Unsupported(instead: nil), given: "\(key)=\(value)")
                } else if name != "version" {
                    // etcd reads ETCD_VERSION only after answering --version: it has no effect.
                    warnings.append("unrecognized environment variable \(key)=\(value)")
                }
                continue
            }
            if setOnCommandLine.contains(name) {
                warnings.append("recognized environment variable \(key), but unused: shadowed by corresponding flag")
                continue
            }
            do {
                try definition.apply(&config, value)
            } catch let error as ValueError {
                throw ConfigError("invalid value \"\(value)\" for \(key): \(error.reason)")
            } catch let refusal as Unsupported {
                record(refusal, given: "\(key)=\(value)")
            }
        }
    }

    /// Refuses a flag or variable setcd does not support, then runs etcd's checks of the configuration.
    func verify() throws {
        if let unsupported { throw ConfigError(unsupported) }
        try config.validate()
    }

    /// Keeps the first refusal; `given` is the flag or variable as the user wrote it.
    private mutating func record(_ refusal: Unsupported, given: String) {
        guard unsupported == nil else { return }
        unsupported = "\(given) is not supported by setcd" + (refusal.instead.map { ": \($0)" } ?? "")
    }

    /// The flag called `name`, if setcd parses it.
    static func definition(_ name: String) -> Definition? {
        definitions.first { $0.name == name }
    }

    static let definitions: [Definition] = [
        string("name") { $0.name = $1 },
        // An empty data dir is the default one, as in etcd.
        string("data-dir") { $0.dataDir = $1.isEmpty ? nil : $1 },
        list("listen-client-urls") { $0.listenClientURLs = $1 },
        list("advertise-client-urls") { $0.advertiseClientURLs = $1 },
        list("listen-peer-urls") { $0.listenPeerURLs = $1 },
        list("initial-advertise-peer-urls") { $0.initialAdvertisePeerURLs = $1 },
        string("initial-cluster") { $0.initialCluster = $1 },
        choice("initial-cluster-state", ["new", "existing"]) { $0.initialClusterState = $1 },
        string("initial-cluster-token") { $0.initialClusterToken = $1 },
        uint("max-txn-ops") { $0.maxTxnOps = $1 },
        uint("max-request-bytes") { $0.maxRequestBytes = $1 },
        int64("quota-backend-bytes") { $0.quotaBackendBytes = $1 },
        string("auto-compaction-mode") { $0.autoCompactionMode = $1 },
        string("auto-compaction-retention") { $0.autoCompactionRetention = $1 },
        bool("enable-v2") { $0.enableV2 = $1 },
        string("log-level") { $0.logLevel = $1 },
        bool("debug") { $0.debug = $1 },
        uint("heartbeat-interval") { $0.heartbeatInterval = $1 },
        uint("election-timeout") { $0.electionTimeout = $1 },
        uint("snapshot-count") { $0.snapshotCount = $1 },
        uint("snapshot-catchup-entries") { $0.snapshotCatchupEntries = $1 },
        bool("strict-reconfig-check") { $0.strictReconfigCheck = $1 },
        string("auth-token") { $0.authToken = $1 },
        uint("auth-token-ttl") { $0.authTokenTTL = $1 },
        duration("grpc-keepalive-min-time") { $0.grpcKeepAliveMinTime = $1 },
        duration("grpc-keepalive-interval") { $0.grpcKeepAliveInterval = $1 },
        duration("grpc-keepalive-timeout") { $0.grpcKeepAliveTimeout = $1 },

        // etcd flags setcd does not implement. The rule: a value is accepted when it asks for what setcd
        // does anyway, so command lines and manifests written for etcd keep working; that is etcd's
        // default (an empty string, false, `*`, `basic`, 10, 0), or what setcd always does where etcd
        // makes it optional (pre-vote, the gateway), or a retention limit setcd stays within (it keeps
        // one snapshot and the WAL files after it, so any --max-snapshots or --max-wals but 0,
        // "unlimited"). `--logger` and `--log-outputs` accept the values whose log setcd writes in its
        // own text format: zap or capnslog, to stderr. Any other value refuses the start.
        unimplemented("wal-dir", "it keeps the WAL in <data-dir>/member/wal") { $0.isEmpty },
        unimplemented("max-snapshots", "it keeps only its newest snapshot") { try GoFlagValue.unsigned($0) > 0 },
        unimplemented("max-wals", "it removes WAL files once a snapshot covers them") { try GoFlagValue.unsigned($0) > 0 },
        unimplemented("backend-batch-interval", "it commits its store once per batch of applied entries") { try GoFlagValue.duration($0) == .zero },
        unimplemented("backend-batch-limit", "it commits its store once per batch of applied entries") { try GoFlagValue.signed($0) == 0 },
        unimplemented("discovery", "list the members with --initial-cluster") { $0.isEmpty },
        unimplemented("discovery-srv", "list the members with --initial-cluster") { $0.isEmpty },
        unimplemented("pre-vote", isBool: true, "its members always pre-vote") { try GoFlagValue.bool($0) },
        unimplemented("enable-grpc-gateway", isBool: true, "it always serves the JSON gateway (/v3/...)") { try GoFlagValue.bool($0) },
        unimplemented("cors", "it allows every origin (*)") { $0.isEmpty || $0 == "*" },
        unimplemented("host-whitelist", "it accepts every host name (*)") { $0.isEmpty || $0 == "*" },
        unimplemented("bcrypt-cost", "it hashes passwords with PBKDF2, not bcrypt") { try GoFlagValue.unsigned($0) == 10 },
        unimplemented("enable-pprof", isBool: true, "it has no /debug/pprof/ endpoint") { try !GoFlagValue.bool($0) },
        unimplemented("metrics", "it serves etcd's basic metrics only") { $0 == "basic" },
        unimplemented("listen-metrics-urls", "it serves /metrics and /health on the client URLs") { $0.isEmpty },
        unimplemented("logger", "it writes its own text log to stderr (zap or capnslog)") { $0 == "zap" || $0 == "capnslog" },
        unimplemented("log-outputs", "it logs to stderr (default or stderr)") { $0 == "default" || $0 == "stderr" },
        unimplemented("force-new-cluster", isBool: true, nil) { try !GoFlagValue.bool($0) },
        unimplemented("unsafe-no-fsync", isBool: true, "it always syncs its log to disk") { try !GoFlagValue.bool($0) },
    ]

    /// etcd 3.4's flags setcd does not have: undefined on the command line, and their `ETCD_*` variables
    /// refuse the start rather than be ignored (`ETCD_CERT_FILE` must not start a plaintext member).
    static let etcdFlagsSetcdLacks: Set<String> = [
        "config-file", "initial-election-tick-advance", "max-concurrent-streams", "discovery-fallback", "discovery-proxy",
        "discovery-srv-name", "proxy", "proxy-failure-wait", "proxy-refresh-interval", "proxy-dial-timeout",
        "proxy-write-timeout", "proxy-read-timeout", "cert-file", "key-file", "client-cert-auth", "client-crl-file",
        "client-cert-allowed-hostname", "trusted-ca-file", "auto-tls", "peer-cert-file", "peer-key-file",
        "peer-client-cert-auth", "peer-trusted-ca-file", "peer-auto-tls", "peer-crl-file", "peer-cert-allowed-cn",
        "peer-cert-allowed-hostname", "cipher-suites", "experimental-peer-skip-client-san-verification", "log-output",
        "log-package-levels", "experimental-initial-corrupt-check", "experimental-corrupt-check-time",
        "experimental-enable-v2v3", "experimental-backend-bbolt-freelist-type", "experimental-enable-lease-checkpoint",
        "experimental-enable-lease-checkpoint-persist", "experimental-compaction-batch-limit",
        "experimental-watch-progress-notify-interval", "experimental-warning-apply-duration",
    ]

    static func string(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, String) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in set(&config, value) }
    }

    static func list(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, [String]) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            set(&config, value.split(separator: ",").map { String($0) })
        }
    }

    /// An unsigned flag (Go's `uint`); values past `Int.max` are out of range.
    static func uint(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, Int) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            let unsigned = try GoFlagValue.unsigned(value)
            guard let number = Int(exactly: unsigned) else { throw ValueError.range }
            set(&config, number)
        }
    }

    static func int64(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, Int64) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            let number = try GoFlagValue.signed(value)
            set(&config, number)
        }
    }

    static func duration(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, Duration) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            let duration = try GoFlagValue.duration(value)
            set(&config, duration)
        }
    }

    /// A string flag that takes one of `valid` (etcd's `SelectiveStringValue`).
    static func choice(_ name: String, _ valid: Set<String>, _ set: @escaping @Sendable (inout ServerConfig, String) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            guard valid.contains(value) else { throw ValueError.invalid }
            set(&config, value)
        }
    }

    static func bool(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, Bool) -> Void) -> Definition {
        Definition(name: name, isBool: true) { config, value in
            let flag = try GoFlagValue.bool(value)
            set(&config, flag)
        }
    }

    /// An etcd flag setcd does not implement: values for which `harmless` holds are accepted and have
    /// no effect; any other is refused at start, saying what setcd does `instead`. `harmless` parses
    /// the value as etcd does, so a malformed one is refused as etcd refuses it.
    static func unimplemented(_ name: String, isBool: Bool = false, _ instead: String?,
                              harmless: @escaping @Sendable (String) throws -> Bool) -> Definition {
        Definition(name: name, isBool: isBool) { _, value in
            guard try harmless(value) else { throw Unsupported(instead: instead) }
        }
    }
}

/// Go's parsers of flag values, as its `flag` package (and so etcd) uses them.
enum GoFlagValue {
    /// `strconv.ParseBool`, for boolean flags.
    static func bool(_ text: String) throws -> Bool {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: throw ValueError.parse
        }
    }

    /// `strconv.ParseUint(text, 0, 64)`, for unsigned flags: decimal, or hexadecimal (`0x`), octal
    /// (`0o`, or a leading `0`) or binary (`0b`), with `_` between digits or after the prefix.
    static func unsigned(_ text: String) throws -> UInt64 {
        var digits = Substring(text)
        var radix: UInt64 = 10
        let prefix = digits.prefix(2).lowercased()
        if prefix == "0x" || prefix == "0o" || prefix == "0b" {
            radix = prefix == "0x" ? 16 : prefix == "0o" ? 8 : 2
            digits = digits.dropFirst(2)
        } else if digits.count > 1, digits.hasPrefix("0") {
            radix = 8
            digits = digits.dropFirst()
        }
        var value: UInt64 = 0
        var sawDigit = false
        // A base prefix counts as a digit before an underscore.
        var afterDigit = radix != 10
        for byte in digits.utf8 {
            if byte == UInt8(ascii: "_") {
                guard afterDigit else { throw ValueError.parse }
                afterDigit = false
                continue
            }
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(byte - UInt8(ascii: "A")) + 10
            default: throw ValueError.parse
            }
            guard digit < radix else { throw ValueError.parse }
            let (shifted, overflowed) = value.multipliedReportingOverflow(by: radix)
            let (sum, carried) = shifted.addingReportingOverflow(digit)
            guard !overflowed, !carried else { throw ValueError.range }
            value = sum
            sawDigit = true
            afterDigit = true
        }
        guard sawDigit, afterDigit else { throw ValueError.parse }
        return value
    }

    /// `strconv.ParseInt(text, 0, 64)`, for signed flags.
    static func signed(_ text: String) throws -> Int64 {
        let negative = text.hasPrefix("-")
        let magnitude = try unsigned(negative || text.hasPrefix("+") ? String(text.dropFirst()) : text)
        let limit: UInt64 = negative ? 1 << 63 : 1 << 63 - 1
        guard magnitude <= limit else { throw ValueError.range }
        return negative ? Int64(bitPattern: 0 &- magnitude) : Int64(magnitude)
    }

    /// `time.ParseDuration`, for duration flags.
    static func duration(_ text: String) throws -> Duration {
        do {
            return .nanoseconds(try GoDurationParser.nanoseconds(text))
        } catch {
            throw ValueError.parse
        }
    }
}

/// Why etcd's parser rejects a flag's value, in Go's words; the message names the flag or variable.
enum ValueError: Error {
    case parse, range, invalid

    var reason: String {
        switch self {
        case .parse: return "parse error"
        case .range: return "value out of range"
        case .invalid: return "invalid value"
        }
    }
}

/// A value setcd does not act on, for an etcd flag it does not implement; `instead` says what setcd does.
struct Unsupported: Error {
    let instead: String?
}

/// A command line Go's `flag` would reject; `description` is its message (printed before the usage).
enum FlagError: Error, CustomStringConvertible {
    case undefined(String)
    case missingValue(String)
    case invalidValue(name: String, value: String, reason: String)
    case invalidBool(name: String, value: String)
    case help

    var description: String {
        switch self {
        case .undefined(let name): return "flag provided but not defined: -\(name)"
        case .missingValue(let name): return "flag needs an argument: -\(name)"
        case .invalidValue(let name, let value, let reason): return "invalid value \"\(value)\" for flag -\(name): \(reason)"
        case .invalidBool(let name, let value): return "invalid boolean value \"\(value)\" for -\(name): parse error"
        case .help: return ""
        }
    }
}
