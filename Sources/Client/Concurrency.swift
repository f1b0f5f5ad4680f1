import EtcdProto
import Foundation
import GRPCCore
import Synchronization

/// A lease kept alive in the background for as long as the session is open (clientv3/concurrency's
/// `Session`): locks and elections hold their keys under it, so they vanish with a crashed holder once
/// its TTL runs out.
public final class Session: Sendable {
    public let client: EtcdClient
    /// The session's lease.
    public let lease: Int64
    private let keepAlive: Task<Void, Never>
    private let end: SessionEnd

    /// etcd's default session TTL, in seconds.
    public static let defaultTTL: Int64 = 60

    /// Grants a lease of `ttl` seconds and starts keeping it alive (a renewal every third of the TTL).
    public init(client: EtcdClient, ttl: Int64 = Session.defaultTTL) async throws {
        self.client = client
        let lease = try await client.grantLease(ttl: ttl).id
        self.lease = lease
        let end = SessionEnd()
        self.end = end
        keepAlive = Task {
            defer { end.finish() }
            // Ends when the lease is gone (or could not be renewed before it expired).
            do {
                for try await _ in client.keepAlive(lease) {}
            } catch {
                return
            }
        }
    }

    /// Returns once the session has ended: its lease expired (or was revoked) on the server, or the
    /// session was closed (clientv3's `Session.Done()`); or when the calling task is cancelled.
    public func waitUntilDone() async {
        await end.wait()
    }

    /// Stops the keep-alives and revokes the lease, deleting the keys held under it.
    public func close() async throws {
        keepAlive.cancel()
        _ = try await client.revokeLease(lease)
    }

    deinit { keepAlive.cancel() }
}

/// The end of a session, as an event any number of tasks can wait for.
private final class SessionEnd: Sendable {
    private struct State {
        var finished = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Marks the session ended and wakes every waiter.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until `finish()` or until the calling task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.finished || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
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
            // Give up our place in line rather than hold it after failing; in a task of its own, since
            // this one may have been cancelled.
            let key = key
            await Task.detached { _ = try? await client.delete(key) }.value
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
    /// This candidate's key (`<name>/<lease in hex>`); the leader key once elected.
    public var key: String { prefix + String(session.lease, radix: 16) }

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
            await Task.detached { try? await self.resign() }.value
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

extension Election {
    /// The leader as it changes (clientv3's `Observe`): one range response with the leader's key-value
    /// for the current leader (or the first one to appear), then one for every new value it proclaims and
    /// for every leader after it. Ends when the task iterating it is cancelled; fails if a read fails.
    public func observe() -> AsyncThrowingStream<Etcdserverpb_RangeResponse, any Error> {
        let client = session.client
        let prefix = prefix
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await observeLeaders(client, prefix: prefix) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// The loop behind `Election.observe`: find the leader (or wait for the first candidate's put), report
/// it, report its proclamations until its key is deleted, and start over.
private func observeLeaders(
    _ client: EtcdClient, prefix: String, report: (Etcdserverpb_RangeResponse) -> Void
) async throws {
    while !Task.isCancelled {
        let current = try await client.range(.firstCreated(under: prefix))
        var leader: Etcdserverpb_RangeResponse
        if current.kvs.isEmpty {
            guard let first = try await firstPut(client, prefix: prefix, from: current.header.revision) else { return }
            leader = first
        } else {
            leader = current
            leader.kvs = [current.kvs[0]]
            leader.count = 1
            leader.more = false
        }
        report(leader)
        let key = Array(leader.kvs[0].key)
        let watch = WatchOptions(key: key, startRevision: leader.header.revision + 1)
        changes: for try await change in client.watch(watch) {
            for event in change.events {
                if event.type == .delete { break changes }
                var proclaimed = Etcdserverpb_RangeResponse()
                proclaimed.header = change.header
                proclaimed.kvs = [event.kv]
                proclaimed.count = 1
                report(proclaimed)
            }
        }
    }
}

/// The first put under `prefix` at or after `revision`, as a one-key range response whose header
/// revision is the put's.
private func firstPut(_ client: EtcdClient, prefix: String, from revision: Int64) async throws -> Etcdserverpb_RangeResponse? {
    for try await change in client.watch(.prefix(prefix, startRevision: revision)) {
        guard let put = change.events.first(where: { $0.type == .put }) else { continue }
        var response = Etcdserverpb_RangeResponse()
        response.header = change.header
        response.header.revision = put.kv.modRevision
        response.kvs = [put.kv]
        response.count = 1
        return response
    }
    return nil
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
