import Foundation
import Server

/// etcd's command line, parsed as Go's `flag` package does (etcd's own parser): `-flag value`,
/// `--flag value`, `-flag=value`, `--flag=value`; boolean flags take no value or `=true|false`. Every
/// flag can also come from `ETCD_<FLAG_WITH_UNDERSCORES>`; the command line wins. swift-argument-parser
/// does not model single-dash long flags or this environment fallback, hence this small parser.
struct Flags {
    /// A flag's name, whether it is boolean, and how it sets the configuration.
    struct Definition: Sendable {
        let name: String
        let isBool: Bool
        let apply: @Sendable (inout ServerConfig, String) throws -> Void
    }

    static func string(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, String) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in set(&config, value) }
    }

    static func list(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, [String]) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            set(&config, value.split(separator: ",").map { String($0) })
        }
    }

    static func int(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, Int) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            guard let number = Int(value) else { throw FlagError.invalidValue(name: name, value: value) }
            set(&config, number)
        }
    }

    /// A string flag that takes one of `valid` (etcd's `SelectiveStringValue`).
    static func choice(_ name: String, _ valid: Set<String>, _ set: @escaping @Sendable (inout ServerConfig, String) -> Void) -> Definition {
        Definition(name: name, isBool: false) { config, value in
            guard valid.contains(value) else { throw FlagError.invalidChoice(name: name, value: value) }
            set(&config, value)
        }
    }

    static func bool(_ name: String, _ set: @escaping @Sendable (inout ServerConfig, Bool) -> Void) -> Definition {
        Definition(name: name, isBool: true) { config, value in
            switch value {
            case "", "true", "1", "t", "T", "TRUE", "True": set(&config, true)
            case "false", "0", "f", "F", "FALSE", "False": set(&config, false)
            default: throw FlagError.invalidValue(name: name, value: value)
            }
        }
    }

    /// etcd flags setcd accepts but does not act on yet (so etcd command lines keep working).
    static func accepted(_ name: String, isBool: Bool = false) -> Definition {
        Definition(name: name, isBool: isBool) { _, _ in }
    }

    static let definitions: [Definition] = [
        string("name") { $0.name = $1 },
        string("data-dir") { $0.dataDir = $1 },
        list("listen-client-urls") { $0.listenClientURLs = $1 },
        list("advertise-client-urls") { $0.advertiseClientURLs = $1 },
        list("listen-peer-urls") { $0.listenPeerURLs = $1 },
        list("initial-advertise-peer-urls") { $0.initialAdvertisePeerURLs = $1 },
        string("initial-cluster") { $0.initialCluster = $1 },
        choice("initial-cluster-state", ["new", "existing"]) { $0.initialClusterState = $1 },
        string("initial-cluster-token") { $0.initialClusterToken = $1 },
        int("max-txn-ops") { $0.maxTxnOps = $1 },
        int("max-request-bytes") { $0.maxRequestBytes = $1 },
        int("quota-backend-bytes") { $0.quotaBackendBytes = Int64($1) },
        string("auto-compaction-mode") { $0.autoCompactionMode = $1 },
        string("auto-compaction-retention") { $0.autoCompactionRetention = $1 },
        bool("enable-v2") { $0.enableV2 = $1 },
        string("log-level") { $0.logLevel = $1 },
        int("heartbeat-interval") { $0.heartbeatInterval = $1 },
        int("election-timeout") { $0.electionTimeout = $1 },
        int("snapshot-count") { $0.snapshotCount = $1 },
        int("snapshot-catchup-entries") { $0.snapshotCatchupEntries = $1 },
        accepted("wal-dir"), accepted("logger"), accepted("log-outputs"),
        accepted("debug", isBool: true), accepted("enable-pprof", isBool: true), accepted("metrics"),
        accepted("listen-metrics-urls"), accepted("max-snapshots"), accepted("max-wals"),
        bool("strict-reconfig-check") { $0.strictReconfigCheck = $1 },
        accepted("pre-vote", isBool: true), accepted("enable-grpc-gateway", isBool: true), accepted("grpc-keepalive-min-time"),
        accepted("grpc-keepalive-interval"), accepted("grpc-keepalive-timeout"), accepted("discovery"), accepted("discovery-srv"),
        accepted("force-new-cluster", isBool: true), string("auth-token") { $0.authToken = $1 }, int("auth-token-ttl") { $0.authTokenTTL = $1 },
        accepted("bcrypt-cost"), accepted("unsafe-no-fsync", isBool: true),
        accepted("backend-batch-interval"), accepted("backend-batch-limit"), accepted("cors"), accepted("host-whitelist"),
    ]

    /// Parses `arguments` (without the program name) over the `ETCD_*` variables of `environment`.
    /// Returns the configuration and the warnings to print (unrecognised environment variables).
    static func parse(_ arguments: [String], environment: [String: String]) throws -> (config: ServerConfig, warnings: [String], version: Bool) {
        var config = ServerConfig()
        var warnings: [String] = []
        var fromCommandLine: [(Definition, String)] = []
        var showVersion = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-"), argument != "-" else { throw FlagError.unexpectedArgument(argument) }
            if argument == "--" { break }
            var name = argument.hasPrefix("--") ? String(argument.dropFirst(2)) : String(argument.dropFirst())
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "version" {
                showVersion = true
                continue
            }
            if name == "h" || name == "help" { throw FlagError.help }
            guard let definition = definitions.first(where: { $0.name == name }) else { throw FlagError.undefined(name) }
            if value == nil && !definition.isBool {
                guard index < arguments.count else { throw FlagError.missingValue(name) }
                value = arguments[index]
                index += 1
            }
            fromCommandLine.append((definition, value ?? ""))
        }
        let setOnCommandLine = Set(fromCommandLine.map(\.0.name))
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) where key.hasPrefix("ETCD_") {
            let name = key.dropFirst(5).lowercased().replacingOccurrences(of: "_", with: "-")
            guard let definition = definitions.first(where: { $0.name == name }) else {
                warnings.append("unrecognized environment variable \(key)=\(value)")
                continue
            }
            if setOnCommandLine.contains(name) {
                warnings.append("recognized environment variable \(key), but unused: shadowed by corresponding flag")
                continue
            }
            try definition.apply(&config, value)
        }
        for (definition, value) in fromCommandLine {
            try definition.apply(&config, value)
        }
        return (config, warnings, showVersion)
    }
}

/// A command line etcd would reject; `description` is etcd's message.
enum FlagError: Error, CustomStringConvertible {
    case undefined(String)
    case missingValue(String)
    case invalidValue(name: String, value: String)
    case invalidChoice(name: String, value: String)
    case unexpectedArgument(String)
    case help

    var description: String {
        switch self {
        case .undefined(let name): return "flag provided but not defined: -\(name)"
        case .missingValue(let name): return "flag needs an argument: -\(name)"
        case .invalidValue(let name, let value): return "invalid value \"\(value)\" for flag -\(name): parse error"
        case .invalidChoice(let name, let value): return "invalid value \"\(value)\" for flag -\(name): invalid value"
        case .unexpectedArgument(let argument): return "'\(argument)' is not a valid flag"
        case .help: return ""
        }
    }
}
