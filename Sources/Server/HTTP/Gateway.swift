import EtcdProto
import Foundation
import GRPCCore
import MVCC
import NIOHTTP1
import SwiftProtobuf
import V2Store

/// etcd's v3 JSON gateway (grpc-gateway) on the client port: `POST /v3/<service>/<call>` with the
/// request message in proto3 JSON, answered by the same service implementations as gRPC, in proto3
/// JSON with the proto field names (`cluster_id`), 64-bit integers as strings and bytes in base64, as
/// etcd 3.5's gateway does. Errors are `{"error","code","message"}` with grpc-gateway's HTTP status.
struct Gateway: Sendable {
    let member: Member

    static func handles(_ path: String) -> Bool { path.hasPrefix("/v3/") || path.hasPrefix("/v3beta/") }

    /// A call: decodes the body, runs the service, encodes the answer.
    private typealias Call = @Sendable (Member, [UInt8], ServerContext) async throws -> any SwiftProtobuf.Message

    private static func call<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message>(
        _ run: @escaping @Sendable (Member, Request, ServerContext) async throws -> Response
    ) -> Call {
        { member, body, context in
            let request = body.isEmpty ? Request() : try Request(jsonUTF8Bytes: body, options: decoding)
            return try await run(member, request, context)
        }
    }

    private static let routes: [String: Call] = [
        "/v3/kv/range": call { try await KVService(member: $0).range(request: $1, context: $2) },
        "/v3/kv/put": call { try await KVService(member: $0).put(request: $1, context: $2) },
        "/v3/kv/deleterange": call { try await KVService(member: $0).deleteRange(request: $1, context: $2) },
        "/v3/kv/txn": call { try await KVService(member: $0).txn(request: $1, context: $2) },
        "/v3/kv/compaction": call { try await KVService(member: $0).compact(request: $1, context: $2) },
        "/v3/lease/grant": call { try await LeaseService(member: $0).leaseGrant(request: $1, context: $2) },
        "/v3/lease/revoke": call { try await LeaseService(member: $0).leaseRevoke(request: $1, context: $2) },
        "/v3/kv/lease/revoke": call { try await LeaseService(member: $0).leaseRevoke(request: $1, context: $2) },
        "/v3/lease/timetolive": call { try await LeaseService(member: $0).leaseTimeToLive(request: $1, context: $2) },
        "/v3/kv/lease/timetolive": call { try await LeaseService(member: $0).leaseTimeToLive(request: $1, context: $2) },
        "/v3/lease/leases": call { try await LeaseService(member: $0).leaseLeases(request: $1, context: $2) },
        "/v3/kv/lease/leases": call { try await LeaseService(member: $0).leaseLeases(request: $1, context: $2) },
        "/v3/lease/keepalive": call { (member: Member, request: Etcdserverpb_LeaseKeepAliveRequest, _: ServerContext) in
            var reply = Etcdserverpb_LeaseKeepAliveResponse()
            reply.id = request.id
            reply.ttl = try await withEtcdErrors { try await member.renewLease(request.id) }
            reply.header = member.header()
            return reply
        },
        "/v3/cluster/member/list": call { try await ClusterService(member: $0).memberList(request: $1, context: $2) },
        "/v3/cluster/member/add": call { try await ClusterService(member: $0).memberAdd(request: $1, context: $2) },
        "/v3/cluster/member/remove": call { try await ClusterService(member: $0).memberRemove(request: $1, context: $2) },
        "/v3/cluster/member/update": call { try await ClusterService(member: $0).memberUpdate(request: $1, context: $2) },
        "/v3/cluster/member/promote": call { try await ClusterService(member: $0).memberPromote(request: $1, context: $2) },
        "/v3/maintenance/status": call { try await MaintenanceService(member: $0).status(request: $1, context: $2) },
        "/v3/maintenance/alarm": call { try await MaintenanceService(member: $0).alarm(request: $1, context: $2) },
        "/v3/maintenance/defragment": call { try await MaintenanceService(member: $0).defragment(request: $1, context: $2) },
        "/v3/maintenance/hash": call { try await MaintenanceService(member: $0).hash(request: $1, context: $2) },
        "/v3/maintenance/transfer-leadership": call { try await MaintenanceService(member: $0).moveLeader(request: $1, context: $2) },
        "/v3/auth/enable": call { try await AuthService(member: $0).authEnable(request: $1, context: $2) },
        "/v3/auth/disable": call { try await AuthService(member: $0).authDisable(request: $1, context: $2) },
        "/v3/auth/authenticate": call { try await AuthService(member: $0).authenticate(request: $1, context: $2) },
        "/v3/auth/user/add": call { try await AuthService(member: $0).userAdd(request: $1, context: $2) },
        "/v3/auth/user/get": call { try await AuthService(member: $0).userGet(request: $1, context: $2) },
        "/v3/auth/user/list": call { try await AuthService(member: $0).userList(request: $1, context: $2) },
        "/v3/auth/user/delete": call { try await AuthService(member: $0).userDelete(request: $1, context: $2) },
        "/v3/auth/user/changepw": call { try await AuthService(member: $0).userChangePassword(request: $1, context: $2) },
        "/v3/auth/user/grant": call { try await AuthService(member: $0).userGrantRole(request: $1, context: $2) },
        "/v3/auth/user/revoke": call { try await AuthService(member: $0).userRevokeRole(request: $1, context: $2) },
        "/v3/auth/role/add": call { try await AuthService(member: $0).roleAdd(request: $1, context: $2) },
        "/v3/auth/role/get": call { try await AuthService(member: $0).roleGet(request: $1, context: $2) },
        "/v3/auth/role/list": call { try await AuthService(member: $0).roleList(request: $1, context: $2) },
        "/v3/auth/role/delete": call { try await AuthService(member: $0).roleDelete(request: $1, context: $2) },
        "/v3/auth/role/grant": call { try await AuthService(member: $0).roleGrantPermission(request: $1, context: $2) },
        "/v3/auth/role/revoke": call { try await AuthService(member: $0).roleRevokePermission(request: $1, context: $2) },
    ]

    private static let decoding: JSONDecodingOptions = {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        return options
    }()

    static let encoding: JSONEncodingOptions = {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return options
    }()

    func answer(method: String, path: String, authorization: String?, body: [UInt8]) async -> V2Answer {
        // etcd 3.4 serves the same calls under /v3beta too.
        let path = path.hasPrefix("/v3beta/") ? "/v3/" + path.dropFirst("/v3beta/".count) : path
        let json = [("Content-Type", "application/json")]
        guard method == "POST" else {
            return .whole(status: .methodNotAllowed, headers: [("Content-Type", "text/plain; charset=utf-8")], body: "Method Not Allowed\n", headOnly: false)
        }
        // The token, as the interceptor resolves it for gRPC (Authenticate ignores it).
        var caller: AuthContext.Caller?
        if let token = authorization, path != "/v3/auth/authenticate" {
            guard let user = await member.resolveToken(token) else { return Self.failure(AuthError.invalidAuthToken.rpcError) }
            caller = AuthContext.Caller(user: user)
        }
        if path == "/v3/watch" {
            return await AuthContext.$caller.withValue(caller) { await watch(body: body) }
        }
        guard let route = Self.routes[path] else {
            return .whole(status: .notFound, headers: [("Content-Type", "text/plain; charset=utf-8")], body: "Not Found", headOnly: false)
        }
        let context = ServerContext(descriptor: MethodDescriptor(fullyQualifiedService: "gateway", method: path),
                                    remotePeer: "http", localPeer: "http", cancellation: .init())
        do {
            let response = try await AuthContext.$caller.withValue(caller) { try await route(member, body, context) }
            return .whole(status: .ok, headers: json, body: try response.jsonString(options: Self.encoding), headOnly: false)
        } catch let error as SwiftProtobuf.JSONDecodingError {
            return Self.failure(RPCError(code: .invalidArgument, message: "invalid JSON request body: \(error)"))
        } catch {
            return Self.failure(EtcdError.map(error))
        }
    }

    /// `POST /v3/watch`: a watch created from the body's `create_request`, its responses streamed as
    /// `{"result":...}` lines.
    private func watch(body: [UInt8]) async -> V2Answer {
        let request: Etcdserverpb_WatchRequest
        do {
            request = try Etcdserverpb_WatchRequest(jsonUTF8Bytes: body, options: Self.decoding)
        } catch {
            return Self.failure(RPCError(code: .invalidArgument, message: "\(error)"))
        }
        guard case .createRequest(let create)? = request.requestUnion else {
            return Self.failure(RPCError(code: .invalidArgument, message: "etcdserver: no create_request in the watch request"))
        }
        let stream = member.store.openWatchStream()
        if let watch = WatchService.watch(for: create) {
            do {
                try member.authorize { state, user in state.permits(user, write: false, key: watch.key, rangeEnd: watch.rangeEnd) }
            } catch {
                stream.close()
                return Self.failure(EtcdError.map(error))
            }
            _ = try? stream.create(watch)
        } else {
            stream.reject(reason: "mvcc: watcher range is empty")
        }
        let member = self.member
        let (lines, continuation) = AsyncStream<String>.makeStream()
        let pump = Task {
            while let message = await stream.next() {
                let response = WatchService.response(for: message, member: member)
                guard let text = try? response.jsonString(options: Self.encoding) else { continue }
                continuation.yield("{\"result\":" + text + "}\n")
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in
            pump.cancel()
            stream.close()
        }
        return .chunks(headers: [("Content-Type", "application/json")], lines: lines)
    }

    /// grpc-gateway's error body and HTTP status for a gRPC error.
    static func failure(_ error: RPCError) -> V2Answer {
        let body = "{\"error\":" + V2JSON.string(error.message) + ",\"code\":\(error.code.rawValue),\"message\":"
            + V2JSON.string(error.message) + "}"
        return .whole(status: HTTPResponseStatus(statusCode: httpStatus(error.code)), headers: [("Content-Type", "application/json")], body: body, headOnly: false)
    }

    /// grpc-gateway's `HTTPStatusFromCode`.
    static func httpStatus(_ code: RPCError.Code) -> Int {
        switch code {
        case .cancelled: 408
        case .unknown, .internalError, .dataLoss: 500
        case .invalidArgument, .outOfRange: 400
        case .failedPrecondition: 412
        case .deadlineExceeded: 504
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .permissionDenied: 403
        case .unauthenticated: 401
        case .resourceExhausted: 429
        case .unimplemented: 501
        case .unavailable: 503
        default: 500
        }
    }
}
