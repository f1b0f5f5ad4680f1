import ArgumentParser
import Client
import Foundation
import Synchronization
import GRPCCore
import Server
import EtcdCtl
import EtcdProto

/// The root command: global flags and the command tree, as etcdctl's.
struct SetcdCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setcdctl",
        abstract: "A simple command line client for etcd3 and setcd.",
        version: "setcdctl version: \(SetcdCtl.version)\nAPI version: 3.5",
        subcommands: [
            GetCommand.self, PutCommand.self, DelCommand.self, WatchCommand.self, CompactionCommand.self, LeaseCommand.self,
            MemberCommand.self, EndpointCommand.self, MoveLeaderCommand.self, AlarmCommand.self, DefragCommand.self,
            VersionCommand.self, SnapshotCommand.self, LockCommand.self, ElectCommand.self,
            TxnCommand.self, AuthCommand.self, UserCommand.self, RoleCommand.self, MakeMirrorCommand.self,
            CheckCommand.self,
        ]
    )

    static let version = "0.1.0"

    @OptionGroup var global: GlobalOptions
}

/// etcdctl's global flags; each may also come from `ETCDCTL_<FLAG>` (the command line wins).
struct GlobalOptions: ParsableArguments {
    @Option(help: "gRPC endpoints")
    var endpoints: String = "127.0.0.1:2379"

    @Option(name: .customLong("dial-timeout"), help: "dial timeout for client connections")
    var dialTimeout: String = "2s"

    @Option(name: .customLong("command-timeout"), help: "timeout for short running command (excluding dial timeout)")
    var commandTimeout: String = "5s"

    @Option(name: [.customShort("w"), .customLong("write-out")], help: "set the output format (fields, json, protobuf, simple, table)")
    var writeOut: String = "simple"

    @Flag(help: "print byte strings as hex encoded strings")
    var hex = false

    @Option(help: "username[:password] for authentication (prompt if password is not supplied)")
    var user: String = ""

    @Option(help: "password for authentication (if this option is used, --user option shouldn't include password)")
    var password: String = ""

    @Option(help: "verify certificates of TLS-enabled secure servers using this CA bundle")
    var cacert: String = ""

    @Option(help: "identify secure client using this TLS certificate file")
    var cert: String = ""

    @Option(help: "identify secure client using this TLS key file")
    var key: String = ""

    @Flag(name: .customLong("insecure-skip-tls-verify"), help: "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)")
    var insecureSkipTLSVerify = false

    @Option(name: .customLong("insecure-transport"), help: "disable transport security for client connections")
    var insecureTransport = true

    // etcdctl flags accepted so command lines keep working; setcdctl does not act on them.
    @Option(name: .customLong("keepalive-time"), help: "keepalive time for client connections (accepted, not used)")
    var keepaliveTime = "2s"
    @Option(name: .customLong("keepalive-timeout"), help: "keepalive timeout for client connections (accepted, not used)")
    var keepaliveTimeout = "6s"
    @Flag(help: "enable client-side debug logging (accepted, not used)") var debug = false
    @Option(name: .customLong("insecure-discovery"), help: "accept insecure SRV records describing cluster endpoints (accepted, not used)")
    var insecureDiscovery = true

    @Option(name: [.customShort("d"), .customLong("discovery-srv")], help: "domain name to query for SRV records describing cluster endpoints (not supported)")
    var discoverySRV = ""
    @Option(name: .customLong("discovery-srv-name"), help: "service name to query when using DNS discovery (not supported)")
    var discoverySRVName = ""

    /// TLS settings from the flags: TLS when a certificate, key or CA file is given, or when
    /// verification is skipped (etcdctl's rules); nil otherwise (`https://` endpoints still use TLS).
    var tls: EtcdClient.TLS? {
        get throws {
            if !cert.isEmpty && key.isEmpty { throw CtlError(code: ExitCode.badArgs, message: "tls: cert is given but key is empty") }
            if cert.isEmpty && !key.isEmpty { throw CtlError(code: ExitCode.badArgs, message: "tls: key is given but cert is empty") }
            guard !cacert.isEmpty || !cert.isEmpty || insecureSkipTLSVerify || !insecureTransport else { return nil }
            return EtcdClient.TLS(caFile: cacert.isEmpty ? nil : cacert, certFile: cert.isEmpty ? nil : cert,
                                  keyFile: key.isEmpty ? nil : key, skipVerification: insecureSkipTLSVerify)
        }
    }

    /// `--user` / `--password` as etcdctl reads them: `name:password` split at the first colon; with
    /// `--password`, `--user` is the name verbatim; neither giving a password prompts "Password: "
    /// (once). nil (anonymous) unless both name and password are non-empty, as clientv3 decides.
    func credentials() -> EtcdClient.Credentials? {
        guard !user.isEmpty else { return nil }
        var name = user
        var secret = password
        if secret.isEmpty {
            if let parts = splitAtFirstColon(user) {
                name = parts.name
                secret = parts.password
            } else {
                secret = loginPassword()
            }
        }
        guard !name.isEmpty, !secret.isEmpty else { return nil }
        return EtcdClient.Credentials(user: name, password: secret)
    }

    /// The endpoints as a list.
    var endpointList: [String] { endpoints.split(separator: ",").map { String($0) } }

    /// The `--write-out` format; etcdctl refuses an unknown one.
    var format: OutputFormat {
        get throws {
            guard let format = OutputFormat(rawValue: writeOut) else {
                throw CtlError(code: ExitCode.badFeature, message: "unsupported output format")
            }
            return format
        }
    }

    /// The printer for `--write-out` and `--hex` (and `--print-value-only` for get).
    func printer(valueOnly: Bool = false) throws -> any Printer {
        let format = try format
        if format == .simple && valueOnly { return SimplePrinter(hex: hex, valueOnly: true) }
        return makePrinter(format, hex: hex)
    }

    /// Calls `body` with a client for the flags' endpoints. A failure before `body` runs (authentication
    /// refused) exits with etcdctl's bad-connection code.
    func withClient<Result: Sendable>(_ body: (EtcdClient) async throws -> Result) async throws -> Result {
        _ = try format  // an unknown output format is refused before connecting, as by etcdctl
        let configuration = try clientConfiguration()
        let connected = Mutex(false)
        do {
            return try await EtcdClient.withClient(configuration) { client in
                connected.withLock { $0 = true }
                return try await body(client)
            }
        } catch let error where !connected.withLock({ $0 }) && configuration.credentials != nil {
            // As etcdctl: authentication at the start that runs out of time is a dial that timed out.
            let timedOut = (error as? RPCError)?.code == .deadlineExceeded
            throw CtlError(code: ExitCode.badConnection, message: timedOut ? "context deadline exceeded" : describe(error))
        }
    }

    /// A client configuration from the flags.
    func clientConfiguration() throws -> EtcdClient.Configuration {
        if !discoverySRV.isEmpty {
            throw CtlError(code: ExitCode.badFeature, message: "DNS SRV discovery (--discovery-srv) is not supported by setcdctl; give --endpoints")
        }
        var configuration = EtcdClient.Configuration(endpoints: endpointList)
        configuration.requestTimeout = try Self.duration(commandTimeout, flag: "--command-timeout")
        // As etcdctl: the dial timeout bounds the start (authentication); zero or less bounds nothing more.
        let dial = try Self.duration(dialTimeout, flag: "--dial-timeout")
        configuration.dialTimeout = dial > .zero ? dial : nil
        configuration.credentials = credentials()
        configuration.tls = try tls
        return configuration
    }

    /// A duration flag read as etcdctl reads it (Go's syntax); a malformed one is refused with etcdctl's text.
    static func duration(_ text: String, flag: String) throws -> Duration {
        do {
            return .nanoseconds(try GoDurationParser.nanoseconds(text))
        } catch {
            throw CtlError(code: ExitCode.error, message: "invalid argument \"\(text)\" for \"\(flag)\" flag: \(error)")
        }
    }

    /// The global flags' spellings on a command line.
    static let flagNames = [
        "--endpoints", "--dial-timeout", "--command-timeout", "-w", "--write-out", "--hex", "--user", "--password", "--cacert", "--cert",
        "--key", "--insecure-skip-tls-verify", "--insecure-transport", "--keepalive-time", "--keepalive-timeout", "--debug",
        "--insecure-discovery", "--discovery-srv", "-d", "--discovery-srv-name",
    ]

    /// The global flags etcdctl reads from the environment.
    static let environmentFlags = [
        "endpoints", "dial-timeout", "command-timeout", "write-out", "hex", "user", "password", "cacert", "cert", "key",
        "insecure-skip-tls-verify", "insecure-transport", "keepalive-time", "keepalive-timeout", "debug", "insecure-discovery",
        "discovery-srv", "discovery-srv-name",
    ]

    /// `arguments` with `ETCDCTL_*` variables added for global flags the command line does not set
    /// (etcdctl's environment fallback; ArgumentParser has none).
    static func withEnvironment(_ arguments: [String], environment: [String: String]) -> [String] {
        var added: [String] = []
        for flag in environmentFlags {
            let variable = "ETCDCTL_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let value = environment[variable] else { continue }
            let given = arguments.contains { $0 == "--\(flag)" || $0.hasPrefix("--\(flag)=") || (flag == "write-out" && ($0 == "-w" || $0.hasPrefix("-w="))) }
            if given { continue }
            if flag == "hex" || flag == "insecure-skip-tls-verify" || flag == "debug" {
                if value == "true" { added.append("--\(flag)") }
            } else {
                added.append("--\(flag)=\(value)")
            }
        }
        return added + arguments
    }
}

/// A failure printed as etcdctl prints it ("Error: " and the message on stderr) with its exit code
/// (one of `ExitCode`'s).
struct CtlError: Error {
    let code: Int32
    let message: String
}

/// Runs a command body; any failure is printed as etcdctl prints it and exits with its code.
func runReportingErrors(_ body: () async throws -> Void) async -> Never {
    do {
        try await body()
        exit(0)
    } catch let error as CtlError {
        FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
        exit(error.code)
    } catch let error as PrinterError {
        FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
        exit(error.exitCode)
    } catch {
        FileHandle.standardError.write(Data("Error: \(describe(error))\n".utf8))
        exit(ExitCode.error)
    }
}


