import EtcdProto
import Foundation
import GRPCCore

/// A lease kept alive in the background for as long as the session is open (clientv3/concurrency's
/// `Session`): locks and elections hold their keys under it, so they vanish with a crashed holder once
/// its TTL runs out.
public final class Session: Sendable {
    public let client: EtcdClient
    /// The session's lease.
    public let lease: Int64
    private let keepAlive: Task<Void, Never>

    /// etcd's default session TTL, in seconds.
    public static let defaultTTL: Int64 = 60

    /// Grants a lease of `ttl` seconds and starts keeping it alive (a renewal every third of the TTL).
    public init(client: EtcdClient, ttl: Int64 = Session.defaultTTL) async throws {
        self.client = client
        let lease = try await client.grantLease(ttl: ttl).id
        self.lease = lease
        keepAlive = Task {
            let interval = Duration.milliseconds(max(ttl * 1000 / 3, 500))
            while !Task.isCancelled {
                // A failed renewal (a member lost) is retried at the next interval, as clientv3 does.
                if let response = try? await client.keepAliveOnce(lease), response.ttl <= 0 { return }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Stops the keep-alives and revokes the lease, deleting the keys held under it.
    public func close() async throws {
        keepAlive.cancel()
        _ = try await client.revokeLease(lease)
    }

    deinit { keepAlive.cancel() }
}

/// A distributed mutex with clientv3/concurrency's key layout and protocol, so it excludes (and is
/// excluded by) `etcdctl lock` and etcd's Go clients on the same name: each contender puts
/// `<name>/<lease in hex>` under its session's lease; the oldest key (lowest create revision) holds
/// the lock; the others wait for the deletion of the key created just before theirs.
public final class EtcdMutex: Sendable {
    public let session: Session
    private let prefix: String
    /// The key this mutex holds or waits with.
    public var key: String { prefix + String(session.lease, radix: 16) }

    public init(session: Session, name: String) {
        self.session = session
        prefix = name + "/"
    }

    /// Waits until the lock is held; returns the header of the revision at which it was acquired.
    @discardableResult
    public func lock() async throws -> Etcdserverpb_ResponseHeader {
        let client = session.client
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.createRevision(of: Array(key.utf8), equals: 0)]
        txn.success = [.put(Array(key.utf8), value: [], lease: session.lease), .firstCreated(under: prefix)]
        txn.failure = [.get(Array(key.utf8)), .firstCreated(under: prefix)]
        let response = try await client.txn(txn)
        var myRevision = response.header.revision
        if !response.succeeded, let own = response.responses.first?.responseRange.kvs.first {
            myRevision = own.createRevision
        }
        let owner = response.responses.last?.responseRange.kvs.first
        if owner == nil || owner?.createRevision == myRevision { return response.header }
        do {
            return try await waitDeletes(client, prefix: prefix, maxCreateRevision: myRevision - 1)
        } catch {
            // Give up our place in line rather than hold it after failing.
            _ = try? await client.delete(key)
            throw error
        }
    }

    /// Releases the lock (deletes this contender's key).
    public func unlock() async throws {
        _ = try await session.client.delete(key)
    }
}

/// Leader election with clientv3/concurrency's key layout and protocol, interoperable with
/// `etcdctl elect`: each candidate puts `<name>/<lease in hex>` with its proposal; the oldest key is the
/// leader and its value the leader's proposal.
public final class Election: Sendable {
    public let session: Session
    private let prefix: String
    private var key: String { prefix + String(session.lease, radix: 16) }

    public init(session: Session, name: String) {
        self.session = session
        prefix = name + "/"
    }

    /// Becomes a candidate with `value` and waits until elected.
    public func campaign(_ value: String) async throws {
        let client = session.client
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.createRevision(of: Array(key.utf8), equals: 0)]
        txn.success = [.put(Array(key.utf8), value: Array(value.utf8), lease: session.lease)]
        txn.failure = [.get(Array(key.utf8))]
        let response = try await client.txn(txn)
        var revision = response.header.revision
        if !response.succeeded, let existing = response.responses.first?.responseRange.kvs.first {
            revision = existing.createRevision
            if existing.value != Data(value.utf8) { try await proclaim(value, createRevision: revision) }
        }
        do {
            _ = try await waitDeletes(client, prefix: prefix, maxCreateRevision: revision - 1)
        } catch {
            try? await resign()
            throw error
        }
    }

    /// Changes the leader's value; fails with `notLeader` if this session does not lead.
    public func proclaim(_ value: String) async throws {
        guard let own = try await session.client.get(key).kvs.first else { throw ElectionError.notLeader }
        try await proclaim(value, createRevision: own.createRevision)
    }

    private func proclaim(_ value: String, createRevision: Int64) async throws {
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.createRevision(of: Array(key.utf8), equals: createRevision)]
        txn.success = [.put(Array(key.utf8), value: Array(value.utf8), lease: session.lease)]
        guard try await session.client.txn(txn).succeeded else { throw ElectionError.notLeader }
    }

    /// Gives up leadership (or candidacy).
    public func resign() async throws {
        _ = try await session.client.delete(key)
    }

    /// The current leader's key-value, or nil if there is none.
    public func leader() async throws -> Mvccpb_KeyValue? {
        var request = Etcdserverpb_RangeRequest.firstCreated(under: prefix)
        request.serializable = false
        return try await session.client.range(request).kvs.first
    }
}

/// Election failures (clientv3/concurrency's errors).
public enum ElectionError: Error, Equatable {
    /// The session is not the leader.
    case notLeader
}

/// Waits until no key under `prefix` created at or before `maxCreateRevision` is left (clientv3's
/// `waitDeletes`): watches the newest such key until it is deleted, then looks again.
func waitDeletes(_ client: EtcdClient, prefix: String, maxCreateRevision: Int64) async throws -> Etcdserverpb_ResponseHeader {
    while true {
        var request = Etcdserverpb_RangeRequest.lastCreated(under: prefix)
        request.maxCreateRevision = maxCreateRevision
        let response = try await client.range(request)
        guard let newest = response.kvs.first else { return response.header }
        var watch = WatchOptions(key: Array(newest.key))
        watch.startRevision = response.header.revision
        watchLoop: for try await change in client.watch(watch) {
            if change.events.contains(where: { $0.type == .delete }) { break watchLoop }
        }
        try Task.checkCancellation()
    }
}

extension Etcdserverpb_RangeRequest {
    /// The key with the lowest create revision under `prefix` (clientv3's `WithFirstCreate`).
    static func firstCreated(under prefix: String) -> Self { top(under: prefix, order: .ascend) }

    /// The key with the highest create revision under `prefix` (clientv3's `WithLastCreate`).
    static func lastCreated(under prefix: String) -> Self { top(under: prefix, order: .descend) }

    private static func top(under prefix: String, order: Etcdserverpb_RangeRequest.SortOrder) -> Self {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(prefix.utf8)
        request.rangeEnd = Data(KeyRanges.prefixEnd(of: Array(prefix.utf8)))
        request.sortTarget = .create
        request.sortOrder = order
        request.limit = 1
        return request
    }
}

extension Etcdserverpb_RequestOp {
    /// A range op for the oldest key under `prefix` (the holder of a lock or an election).
    static func firstCreated(under prefix: String) -> Self {
        var op = Etcdserverpb_RequestOp()
        op.requestRange = .firstCreated(under: prefix)
        return op
    }
}
