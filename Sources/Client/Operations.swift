import EtcdProto
import Foundation
import GRPCCore

/// The key-value calls.
extension EtcdClient {
    /// A Range request: `key` alone, or `key` up to `rangeEnd` (see `prefixEnd(of:)`).
    public func range(_ request: Etcdserverpb_RangeRequest) async throws -> Etcdserverpb_RangeResponse {
        try await authenticated { try await kv.range(request, metadata: $0, options: options) }
    }

    /// Every key starting with `prefix`.
    public func get(prefix: String, serializable: Bool = false) async throws -> Etcdserverpb_RangeResponse {
        try await range(Etcdserverpb_RangeRequest(key: prefix, serializable ? [.prefix, .serializable] : [.prefix]))
    }

    public func put(_ request: Etcdserverpb_PutRequest) async throws -> Etcdserverpb_PutResponse {
        try await authenticated { try await kv.put(request, metadata: $0, options: options) }
    }

    /// Puts `value` at `key`, attached to `lease` if not 0.
    public func put(_ key: String, _ value: String, lease: Int64 = 0, prevKV: Bool = false) async throws -> Etcdserverpb_PutResponse {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        request.lease = lease
        request.prevKv = prevKV
        return try await put(request)
    }

    public func delete(_ request: Etcdserverpb_DeleteRangeRequest) async throws -> Etcdserverpb_DeleteRangeResponse {
        try await authenticated { try await kv.deleteRange(request, metadata: $0, options: options) }
    }

    /// A transaction; see `Txn` for a builder.
    public func txn(_ request: Etcdserverpb_TxnRequest) async throws -> Etcdserverpb_TxnResponse {
        try await authenticated { try await kv.txn(request, metadata: $0, options: options) }
    }

    /// Compacts history before `revision`; with `physical`, returns once it is done.
    public func compact(revision: Int64, physical: Bool = false) async throws -> Etcdserverpb_CompactionResponse {
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        request.physical = physical
        return try await authenticated { try await kv.compact(request, metadata: $0, options: options) }
    }

    /// The end of the range of keys that start with `prefix` (etcd's `GetPrefixRangeEnd`).
    public static func prefixEnd(of prefix: [UInt8]) -> [UInt8] { KeyRanges.prefixEnd(of: prefix) }
}

/// The lease calls.
extension EtcdClient {
    /// Grants a lease of `ttl` seconds (the server picks the id unless `id` is given).
    public func grantLease(ttl: Int64, id: Int64 = 0) async throws -> Etcdserverpb_LeaseGrantResponse {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = ttl
        request.id = id
        return try await authenticated { try await leases.leaseGrant(request, metadata: $0, options: options) }
    }

    /// Revokes a lease, deleting its keys.
    public func revokeLease(_ id: Int64) async throws -> Etcdserverpb_LeaseRevokeResponse {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = id
        return try await authenticated { try await leases.leaseRevoke(request, metadata: $0, options: options) }
    }

    /// A lease's granted and remaining TTL (and its keys).
    public func timeToLive(_ id: Int64, keys: Bool = false) async throws -> Etcdserverpb_LeaseTimeToLiveResponse {
        var request = Etcdserverpb_LeaseTimeToLiveRequest()
        request.id = id
        request.keys = keys
        return try await authenticated { try await leases.leaseTimeToLive(request, metadata: $0, options: options) }
    }

    /// Every lease.
    public func listLeases() async throws -> Etcdserverpb_LeaseLeasesResponse {
        try await authenticated { try await leases.leaseLeases(Etcdserverpb_LeaseLeasesRequest(), metadata: $0, options: options) }
    }

    /// Keeps a lease alive until the task iterating the stream stops (clientv3's `KeepAlive`): renews
    /// it every third of its TTL and yields each renewal. A failed renewal (a member lost) is retried
    /// every half second; the stream ends when the lease no longer exists, and fails if no renewal
    /// succeeded before the lease's last TTL ran out.
    public func keepAlive(_ id: Int64) -> AsyncThrowingStream<Etcdserverpb_LeaseKeepAliveResponse, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                // Until the first renewal tells the TTL, give up after the longest TTL a lease gets by
                // default (clientv3's session TTL).
                var expiry = ContinuousClock.now + .seconds(60)
                while !Task.isCancelled {
                    do {
                        let response = try await keepAliveOnce(id)
                        guard response.ttl > 0 else { break }
                        continuation.yield(response)
                        expiry = .now + .seconds(response.ttl)
                        try await Task.sleep(for: .milliseconds(max(response.ttl * 1000 / 3, 500)))
                    } catch where !Task.isCancelled {
                        if ContinuousClock.now >= expiry {
                            continuation.finish(throwing: error)
                            return
                        }
                        try? await Task.sleep(for: .milliseconds(500))
                    } catch {
                        break
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Renews a lease once; the answer's TTL is 0 if it no longer exists.
    public func keepAliveOnce(_ id: Int64) async throws -> Etcdserverpb_LeaseKeepAliveResponse {
        var keepAlive = Etcdserverpb_LeaseKeepAliveRequest()
        keepAlive.id = id
        let request = keepAlive
        return try await authenticated { metadata in
            try await leases.leaseKeepAlive(metadata: metadata, options: options, requestProducer: { writer in
                try await writer.write(request)
            }, onResponse: { response in
                // Read to the stream's end (the server ends it after answering, as our side is closed).
                // Leaving early cancels the stream; under load (64 clients, 50,000 keep-alives) a few
                // of those calls to setcd then failed with "Stream unexpectedly closed".
                var answer: Etcdserverpb_LeaseKeepAliveResponse?
                for try await message in response.messages where answer == nil { answer = message }
                guard let answer else { throw RPCError(code: .unavailable, message: "keep-alive stream closed without an answer") }
                return answer
            })
        }
    }
}

/// The cluster and maintenance calls.
extension EtcdClient {
    public func memberList() async throws -> Etcdserverpb_MemberListResponse {
        try await authenticated { try await cluster.memberList(Etcdserverpb_MemberListRequest(), metadata: $0, options: options) }
    }

    public func memberAdd(peerURLs: [String], isLearner: Bool = false) async throws -> Etcdserverpb_MemberAddResponse {
        var request = Etcdserverpb_MemberAddRequest()
        request.peerUrls = peerURLs
        request.isLearner = isLearner
        return try await authenticated { try await cluster.memberAdd(request, metadata: $0, options: options) }
    }

    public func memberRemove(_ id: UInt64) async throws -> Etcdserverpb_MemberRemoveResponse {
        var request = Etcdserverpb_MemberRemoveRequest()
        request.id = id
        return try await authenticated { try await cluster.memberRemove(request, metadata: $0, options: options) }
    }

    public func memberUpdate(_ id: UInt64, peerURLs: [String]) async throws -> Etcdserverpb_MemberUpdateResponse {
        var request = Etcdserverpb_MemberUpdateRequest()
        request.id = id
        request.peerUrls = peerURLs
        return try await authenticated { try await cluster.memberUpdate(request, metadata: $0, options: options) }
    }

    public func memberPromote(_ id: UInt64) async throws -> Etcdserverpb_MemberPromoteResponse {
        var request = Etcdserverpb_MemberPromoteRequest()
        request.id = id
        return try await authenticated { try await cluster.memberPromote(request, metadata: $0, options: options) }
    }

    /// The status of the member this call reaches (use a client with one endpoint to ask a given member).
    public func status() async throws -> Etcdserverpb_StatusResponse {
        try await authenticated { try await maintenance.status(Etcdserverpb_StatusRequest(), metadata: $0, options: options) }
    }

    public func hashKV(revision: Int64 = 0) async throws -> Etcdserverpb_HashKVResponse {
        var request = Etcdserverpb_HashKVRequest()
        request.revision = revision
        return try await authenticated { try await maintenance.hashKV(request, metadata: $0, options: options) }
    }

    public func alarm(_ request: Etcdserverpb_AlarmRequest) async throws -> Etcdserverpb_AlarmResponse {
        try await authenticated { try await maintenance.alarm(request, metadata: $0, options: options) }
    }

    public func moveLeader(to id: UInt64) async throws -> Etcdserverpb_MoveLeaderResponse {
        var request = Etcdserverpb_MoveLeaderRequest()
        request.targetID = id
        return try await authenticated { try await maintenance.moveLeader(request, metadata: $0, options: options) }
    }

    public func defragment() async throws -> Etcdserverpb_DefragmentResponse {
        try await authenticated { try await maintenance.defragment(Etcdserverpb_DefragmentRequest(), metadata: $0, options: options) }
    }
}

/// Snapshots.
extension EtcdClient {
    /// Streams the member's store into `path` (through `path.part`, renamed when complete) and returns
    /// its size; the file ends with the server's SHA-256 of the store, which a restore checks.
    @discardableResult
    public func saveSnapshot(to path: String, progress: (@Sendable (_ received: Int, _ total: Int) -> Void)? = nil) async throws -> Int {
        let partPath = path + ".part"
        guard FileManager.default.createFile(atPath: partPath, contents: nil) else {
            throw EtcdClientError.io("could not create \(partPath)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partPath))
        var options = CallOptions.defaults
        options.timeout = nil
        do {
            let size = try await maintenance.snapshot(Etcdserverpb_SnapshotRequest(), metadata: metadata, options: options) { response in
                var size = 0
                for try await message in response.messages {
                    try handle.write(contentsOf: message.blob)
                    size += message.blob.count
                    progress?(size, size + Int(message.remainingBytes))
                }
                return size
            }
            try handle.synchronize()
            try handle.close()
            guard rename(partPath, path) == 0 else { throw EtcdClientError.io("could not rename \(partPath) to \(path)") }
            return size
        } catch {
            try? handle.close()
            unlink(partPath)
            throw error
        }
    }
}
