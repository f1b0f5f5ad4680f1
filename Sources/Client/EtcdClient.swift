import EtcdProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOHTTP2
import Synchronization

/// An async client for the etcd v3 API, for setcd and etcd alike.
///
/// Requests and answers are etcd's own protobuf messages (as clientv3's `GetResponse` is
/// `RangeResponse`), so everything etcd's API offers is reachable. Several endpoints share the load
/// round-robin; a call that fails because its member is unavailable is retried on another when it is
/// idempotent (reads, listings, status). Watches resume after a reconnect (see `watch`).
///
/// ```swift
/// try await EtcdClient.withClient(.init(endpoints: ["127.0.0.1:2379"])) { client in
///     _ = try await client.put("greeting", "hello")
///     let response = try await client.get("greeting")
///     print(String(decoding: response.kvs[0].value, as: UTF8.self))
/// }
/// ```
public final class EtcdClient: Sendable {
    /// Where and how to connect.
    public struct Configuration: Sendable {
        /// `host:port` or `http://host:port` of each member to use.
        public var endpoints: [String]
        /// The deadline of each call unless the call says otherwise.
        public var requestTimeout: Duration = .seconds(5)
        /// The deadline of the start: authenticating with `credentials` before the first call
        /// (etcdctl's `--dial-timeout`); nil: `requestTimeout`.
        public var dialTimeout: Duration?
        /// Requests fail with "etcdserver: no leader" rather than wait while the member has none
        /// (etcd's `WithRequireLeader`).
        public var requireLeader = false
        /// A user name and password: the client authenticates when it starts and sends the token with
        /// every call, authenticating again when the server says the token is no longer valid. Ignored
        /// by a server whose authentication is disabled (as by clientv3).
        public var credentials: Credentials?
        /// TLS for the connections (etcdctl's `--cacert`, `--cert`, `--key`,
        /// `--insecure-skip-tls-verify`); nil for plaintext, unless an endpoint is `https://`, which
        /// turns on TLS with the system's trust roots.
        public var tls: TLS?

        public init(endpoints: [String]) {
            self.endpoints = endpoints
        }
    }

    /// How to secure connections.
    public struct TLS: Sendable {
        /// PEM file of the certificate authorities to trust; nil for the system's.
        public var caFile: String?
        /// PEM file of the client certificate, for servers that verify clients.
        public var certFile: String?
        /// PEM file of the client certificate's private key.
        public var keyFile: String?
        /// Accept any server certificate (etcdctl's `--insecure-skip-tls-verify`).
        public var skipVerification = false

        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, skipVerification: Bool = false) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.skipVerification = skipVerification
        }

        /// The transport's TLS settings.
        var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
            .tls(.defaults { config in
                if let certFile { config.certificateChain = [.file(path: certFile, format: .pem)] }
                if let keyFile { config.privateKey = .file(path: keyFile, format: .pem) }
                if let caFile { config.trustRoots = .certificates([.file(path: caFile, format: .pem)]) }
                if skipVerification { config.serverCertificateVerification = .noVerification }
            })
        }
    }

    /// A user's name and password.
    public struct Credentials: Sendable {
        public var user: String
        public var password: String

        public init(user: String, password: String) {
            self.user = user
            self.password = password
        }
    }

    let grpc: GRPCClient<HTTP2ClientTransport.Posix>
    /// Where and how this client connects.
    public let configuration: Configuration
    /// The auth token sent with every call (nil: none).
    let token = Mutex<String?>(nil)

    /// Calls `body` with a client connected to `configuration.endpoints`, then closes it.
    public static func withClient<Result: Sendable>(
        _ configuration: Configuration,
        _ body: (EtcdClient) async throws -> Result
    ) async throws -> Result {
        let pairs = try configuration.endpoints.map(Self.address(of:))
        guard !pairs.isEmpty else { throw EtcdClientError.noEndpoints }
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.connection.maxIdleTime = nil
        config.backoff.initial = .milliseconds(100)
        config.backoff.max = .seconds(1)
        config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
            // Right below the HTTP/2 handler: after TLS, if any.
            channel.eventLoop.makeCompletedFuture {
                let operations = channel.pipeline.syncOperations
                let http2 = try operations.context(handlerType: NIOHTTP2Handler.self)
                try operations.addHandler(PingAnswerer(), position: .before(http2.handler))
            }
        }
        let usesHTTPS = configuration.endpoints.contains { $0.hasPrefix("https://") }
        let tls = configuration.tls ?? (usesHTTPS ? TLS() : nil)
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(pairs: pairs), transportSecurity: tls?.transportSecurity ?? .plaintext, config: config,
            serviceConfig: Self.serviceConfig(requestTimeout: configuration.requestTimeout))
        return try await withGRPCClient(transport: transport) { grpc in
            let client = EtcdClient(grpc: grpc, configuration: configuration)
            try await client.refreshToken(initial: true)
            return try await body(client)
        }
    }

    init(grpc: GRPCClient<HTTP2ClientTransport.Posix>, configuration: Configuration) {
        self.grpc = grpc
        self.configuration = configuration
    }

    /// Round-robin over the endpoints; idempotent calls retried on `unavailable`, as clientv3 does.
    static func serviceConfig(requestTimeout: Duration) -> ServiceConfig {
        let idempotent: [MethodConfig.Name] = [
            .init(service: "etcdserverpb.KV", method: "Range"),
            .init(service: "etcdserverpb.Cluster", method: "MemberList"),
            .init(service: "etcdserverpb.Maintenance", method: "Status"),
            .init(service: "etcdserverpb.Maintenance", method: "Hash"),
            .init(service: "etcdserverpb.Maintenance", method: "HashKV"),
            .init(service: "etcdserverpb.Lease", method: "LeaseTimeToLive"),
            .init(service: "etcdserverpb.Lease", method: "LeaseLeases"),
        ]
        let retry = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(50), maxBackoff: .seconds(1),
                                backoffMultiplier: 2, retryableStatusCodes: [.unavailable])
        return ServiceConfig(
            methodConfig: [MethodConfig(names: idempotent, timeout: requestTimeout, executionPolicy: .retry(retry))],
            loadBalancingConfig: [.roundRobin])
    }

    /// `host:port` (an optional `http://` prefix, `localhost` for 127.0.0.1) as an IPv4 pair.
    static func address(of endpoint: String) throws -> (host: String, port: Int) {
        var rest = Substring(endpoint)
        for scheme in ["http://", "https://", "unix://"] where rest.hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else {
            throw EtcdClientError.badEndpoint(endpoint)
        }
        let host = String(rest[..<colon])
        return (host == "localhost" || host.isEmpty ? "127.0.0.1" : host, port)
    }

    /// Call options with the configured deadline.
    var options: CallOptions {
        var options = CallOptions.defaults
        options.timeout = configuration.requestTimeout
        return options
    }

    /// etcd's `hasleader` metadata when `requireLeader` is set, and the auth token if there is one.
    var metadata: Metadata {
        var metadata: Metadata = configuration.requireLeader ? ["hasleader": "true"] : [:]
        if let token = token.withLock({ $0 }) { metadata.addString(token, forKey: "token") }
        return metadata
    }

    /// Runs a call with the current metadata; if the server no longer accepts the token (expired, or
    /// issued before a change to users and roles), authenticates again and retries once, as clientv3.
    func authenticated<Response>(_ call: (Metadata) async throws -> Response) async throws -> Response {
        do {
            return try await call(metadata)
        } catch let error as RPCError where configuration.credentials != nil && Self.isStaleToken(error) {
            try await refreshToken(initial: false)
            return try await call(metadata)
        }
    }

    /// Whether `error` asks for a new token.
    static func isStaleToken(_ error: RPCError) -> Bool {
        error.message == "etcdserver: invalid auth token" || error.message == "etcdserver: revision of auth store is old"
            || error.message == "etcdserver: user name is empty"
    }

    /// Authenticates with the configured credentials (if any) and keeps the token. At the start
    /// (`initial`), a server with authentication disabled leaves the client without one; later, that
    /// answer is the call's error (as clientv3's).
    func refreshToken(initial: Bool) async throws {
        guard let credentials = configuration.credentials, !credentials.user.isEmpty, !credentials.password.isEmpty else { return }
        var request = Etcdserverpb_AuthenticateRequest()
        request.name = credentials.user
        request.password = credentials.password
        var callOptions = options
        if initial, let dialTimeout = configuration.dialTimeout { callOptions.timeout = dialTimeout }
        do {
            let response = try await auth.authenticate(request, options: callOptions)
            token.withLock { $0 = response.token }
        } catch let error as RPCError where initial && error.message == "etcdserver: authentication is not enabled" {
            token.withLock { $0 = nil }
        }
    }

    var kv: Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
    var leases: Etcdserverpb_Lease.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
    var cluster: Etcdserverpb_Cluster.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
    var maintenance: Etcdserverpb_Maintenance.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
    var watcher: Etcdserverpb_Watch.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
    var auth: Etcdserverpb_Auth.Client<HTTP2ClientTransport.Posix> { .init(wrapping: grpc) }
}

/// An error as etcd's Go client shows it (etcdctl and etcd's benchmark print these): etcd's own
/// errors by their text ("etcdserver: ..."), other gRPC failures as Go's gRPC prints them.
public func describe(_ error: any Error) -> String {
    if let rpc = error as? RPCError {
        return rpc.message.hasPrefix("etcdserver: ") ? rpc.message : "rpc error: code = \(rpc.code.goName) desc = \(rpc.message)"
    }
    return "\(error)"
}

/// Errors of the client itself (the server's errors arrive as `RPCError` with etcd's text).
public enum EtcdClientError: Error, Equatable, CustomStringConvertible {
    case noEndpoints
    case badEndpoint(String)
    case unsupported(String)
    /// A watch was cancelled by the server because its start revision was compacted.
    case compacted(revision: Int64)
    /// A watch was cancelled by the server for another reason.
    case watchCanceled(reason: String)
    /// A local file operation failed.
    case io(String)

    public var description: String {
        switch self {
        case .noEndpoints: return "no endpoints given"
        case .badEndpoint(let endpoint): return "invalid endpoint \"\(endpoint)\" (want host:port)"
        case .unsupported(let what): return "not supported yet: \(what)"
        case .compacted(let revision): return "etcdserver: mvcc: required revision has been compacted (compact revision \(revision))"
        case .watchCanceled(let reason): return "watch was canceled (\(reason))"
        case .io(let what): return what
        }
    }
}
