import EtcdProto
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOPosix

/// Runs a member: serves etcd's v3 API on every `--listen-client-urls` address and talks to its peers
/// on `--listen-peer-urls`, until cancelled.
public enum ServerRunner {
    /// Opens the member, binds the peer and client URLs, calls `ready` with the bound client addresses,
    /// and serves until the surrounding task is cancelled (or the member is removed from its cluster);
    /// then stops the member.
    public static func run(config: ServerConfig, logger: Logger, ready: @Sendable ([String]) -> Void = { _ in }) async throws {
        let listenURLs = try config.listenClientURLs.map(ListenURL.init(parsing:))
        let peerURLs = try config.listenPeerURLs.map(ListenURL.init(parsing:))
        guard let peerURL = peerURLs.first else { throw ConfigError("--listen-peer-urls is empty") }
        if peerURLs.count > 1 { logger.warning("only the first --listen-peer-urls address is served", metadata: ["url": "\(config.listenPeerURLs[0])"]) }
        let member = try await Member(config: config, logger: logger)
        defer { member.stop() }
        member.transport.answerMembersRequests { member.membersReply() }
        let peerPort = try await member.transport.bind(host: peerURL.host, port: peerURL.port)
        logger.info("serving peer traffic", metadata: ["url": "\(peerURL.scheme)://\(peerURL.host):\(peerPort)", "member-id": "\(String(member.identity.memberID, radix: 16))"])
        let services: [any RegistrableRPCService] = [
            KVService(member: member),
            WatchService(member: member),
            LeaseService(member: member),
            ClusterService(member: member),
            MaintenanceService(member: member),
            LockService(member: member),
            ElectionService(member: member),
            AuthService(member: member),
        ]
        var transportConfig = HTTP2ServerTransport.Custom<ClientListenerFactory>.Config.defaults
        // etcd accepts messages up to --max-request-bytes plus 512 KiB of gRPC overhead; requests past
        // --max-request-bytes get etcd's "request is too large" from the API layer.
        transportConfig.rpc.maxRequestPayloadSize = config.maxRequestBytes + 512 * 1024
        // Measured (NOTES.md): coalescing flushes only adds latency for sequential clients.
        transportConfig.connection.flushCoalescing = nil
        // etcd's keepalive flags; as in etcd, a value of zero or less leaves gRPC's default.
        let keepaliveGiven = config.grpcKeepAliveInterval > .zero && config.grpcKeepAliveTimeout > .zero
        transportConfig.connection.keepalive = .init(
            time: keepaliveGiven ? config.grpcKeepAliveInterval : .seconds(2 * 60 * 60),
            timeout: keepaliveGiven ? config.grpcKeepAliveTimeout : .seconds(20),
            clientBehavior: .init(
                minPingIntervalWithoutCalls: config.grpcKeepAliveMinTime > .zero ? config.grpcKeepAliveMinTime : .seconds(5 * 60),
                allowWithoutCalls: false))
        // gRPC and plain HTTP (/health, /version, /metrics) share each client URL, as in etcd.
        let endpoints = HTTPEndpoints(member: member)
        let transports = try listenURLs.map { url in
            HTTP2ServerTransport.Custom(
                listenerFactory: ClientListenerFactory(address: try url.nioAddress, endpoints: endpoints, eventLoopGroup: MultiThreadedEventLoopGroup.singleton),
                config: transportConfig
            )
        }
        let servers = transports.map { GRPCServer(transport: $0, services: services, interceptors: [RaftRoleInterceptor(member: member), AuthInterceptor(member: member)]) }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                do {
                    try await member.transport.run()
                } catch where Task.isCancelled {
                    // Closing the peer listener on shutdown ends it this way.
                }
            }
            group.addTask { await member.runRemovalCheck() }
            group.addTask { await member.runLeaseExpiry() }
            group.addTask { await member.runAutoCompaction() }
            group.addTask { await member.runV2Expiry() }
            // As etcd, clients are served once this member's attributes are published through the log.
            await member.runPublishAttributes()
            if Task.isCancelled {
                member.transport.shutdown()
                return
            }
            for server in servers {
                group.addTask {
                    do {
                        try await server.serve()
                    } catch where Task.isCancelled {
                        // A shutdown cancels the listeners; that is the normal way out.
                    }
                }
            }
            var bound: [String] = []
            for (transport, url) in zip(transports, listenURLs) {
                guard let address = await transport.listeningAddress else { continue }
                bound.append(url.describe(address))
            }
            logger.info("serving client requests", metadata: ["urls": "\(bound)", "data-dir": "\(config.resolvedDataDir)"])
            ready(bound)
            // Serve until cancelled or removed from the cluster, then shut down gracefully.
            var removal = member.removed.makeAsyncIterator()
            if await removal.next() != nil {
                logger.warning("the member has been permanently removed from the cluster; exiting")
            }
            group.cancelAll()
            for server in servers { server.beginGracefulShutdown() }
            member.transport.shutdown()
        }
    }
}

/// Checks every RPC against the member's Raft role before it runs: "etcdserver: no leader" for
/// requests carrying etcd's `hasleader` metadata while no leader is known (clientv3's
/// `WithRequireLeader`, used by watches that must not hang), and etcd's refusal of everything but
/// Status and serializable Range (checked by the KV service) on a learner.
struct RaftRoleInterceptor: ServerInterceptor {
    let member: Member

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        if !member.hasLeader, request.metadata[stringValues: "hasleader"].contains(where: { $0 == "true" }) {
            throw EtcdError.noLeader
        }
        if member.isLearner {
            let method = context.descriptor.fullyQualifiedMethod
            if method != "etcdserverpb.Maintenance/Status" && method != "etcdserverpb.KV/Range" {
                throw EtcdError.notSupportedForLearner
            }
        }
        return try await next(request, context)
    }
}

/// A parsed `http://host:port` listen URL.
struct ListenURL {
    let host: String
    let port: Int
    let scheme: String

    /// The address to bind.
    var nioAddress: NIOCore.SocketAddress {
        get throws { try NIOCore.SocketAddress(ipAddress: host, port: port) }
    }

    init(parsing url: String) throws {
        guard let schemeEnd = url.range(of: "://") else { throw ConfigError("invalid URL \"\(url)\": missing scheme") }
        scheme = String(url[..<schemeEnd.lowerBound])
        switch scheme {
        case "http", "unix":
            break
        case "https", "unixs":
            throw ConfigError("listen URL \"\(url)\": setcd does not support \(scheme):// URLs yet; use \(scheme.dropLast())://")
        default:
            throw ConfigError("URL scheme must be http, https, unix, or unixs: \(url)")
        }
        var rest = url[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        let host: Substring
        let port: Substring
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = rest[rest.index(after: rest.startIndex)..<close]
            port = rest[rest.index(after: close)...].dropFirst()
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            port = rest[rest.index(after: colon)...]
        } else {
            throw ConfigError("URL address does not have the form \"host:port\": \(url)")
        }
        guard let portNumber = Int(port), (0...65535).contains(portNumber) else { throw ConfigError("invalid port in URL \"\(url)\"") }
        self.host = host == "localhost" ? "127.0.0.1" : String(host)
        self.port = portNumber
    }

    func describe(_ bound: GRPCNIOTransportCore.SocketAddress) -> String {
        if let ipv4 = bound.ipv4 { return "\(scheme)://\(ipv4.host):\(ipv4.port)" }
        if let ipv6 = bound.ipv6 { return "\(scheme)://[\(ipv6.host)]:\(ipv6.port)" }
        return "\(scheme)://\(bound)"
    }
}

/// A configuration the member cannot run with; its text is printed as etcd prints such errors.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
