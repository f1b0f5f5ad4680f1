import EtcdProto
import Foundation
import Logging
import MVCC
import Raft
import V2Store

/// The apply thread: applies committed entries to the store in log order, many per LMDB transaction,
/// keeps the membership in step with the conf-change entries, and wakes the requests waiting for their
/// entries and the linearizable reads waiting for the applied index.
///
/// The raft thread hands it work in order; while it commits one batch to LMDB, the raft thread is
/// already syncing the WAL for the next, so the two fsyncs overlap. A simulation calls `applyQueued`
/// from its own thread instead of `start()`.
///
/// Applying never traps, and every member applies an entry alike, on replay too. Its failures are of
/// two kinds:
/// - **The entry's own** (deterministic, the same on every member): a request whose keys, leases or
///   revisions do not allow it (`MVCCError` as the store's result), a write past the quota, an auth
///   change the auth state refuses, a v2 precondition, an auth revision that changed since the check,
///   an entry that does not decode. The entry is applied as nothing, its client gets etcd's error, and
///   the applied index moves past it. What could fail on some members only is refused before it is
///   proposed (the API's request checks), never here.
/// - **The member's storage** (LMDB cannot write: ENOSPC, EIO): `StorageFailure.stop` logs one line
///   naming the file and errno and exits with status 1; the entries stay in the WAL, and a restart
///   once the cause is gone applies them.
package final class Applier: @unchecked Sendable {
    // @unchecked Sendable: `queue`, `stopping` and `idle` are only touched with `condition` locked; the
    // other mutable state (`confState`, `appliedIndex`, `lastSnapshotIndex`, `raftLoop`) only on the
    // apply thread after `start()` (before it, only during the member's setup; without `start()`, only
    // by the one thread that calls `applyQueued`).

    /// Work from the raft thread.
    enum Work: Sendable {
        case entries([Entry])
        /// Install a snapshot received from the leader; `file` is its store file (nil when this member
        /// already holds the state, e.g. a snapshot it produced itself).
        case snapshot(Snapshot, file: String?)
    }

    private let condition = NSCondition()
    private var queue: [Work] = []
    private var stopping = false
    private let store: MVCCStore
    private let membership: Membership
    private let alarms: Alarms
    private let auth: AuthStore
    private let v2: V2Keys
    private let transport: any PeerLinks
    private let waits: Waits
    private let reads: ReadBarrier
    private let localID: UInt64
    private let snapshotCount: UInt64
    private let metrics: MemberMetrics
    private let logger: Logger
    /// Called when this member's removal from the cluster is applied.
    private let onRemoved: @Sendable () -> Void
    /// The configuration as of `appliedIndex`, recorded with each snapshot.
    private var confState: ConfState
    package private(set) var appliedIndex: UInt64
    /// Snapshots from the leader installed since this applier started.
    package private(set) var snapshotsInstalled = 0
    private var lastSnapshotIndex: UInt64
    /// Set once, before `start()`.
    weak var raftLoop: RaftLoop?
    private let finished = DispatchSemaphore(value: 0)
    private var started = false

    init(store: MVCCStore, membership: Membership, alarms: Alarms, auth: AuthStore, v2: V2Keys, transport: any PeerLinks, waits: Waits, reads: ReadBarrier, localID: UInt64,
         snapshot: SnapshotMetadata, snapshotCount: Int, metrics: MemberMetrics, logger: Logger, onRemoved: @escaping @Sendable () -> Void) {
        self.store = store
        self.membership = membership
        self.alarms = alarms
        self.auth = auth
        self.v2 = v2
        self.transport = transport
        self.waits = waits
        self.reads = reads
        self.localID = localID
        self.confState = snapshot.confState
        self.appliedIndex = snapshot.index
        self.lastSnapshotIndex = snapshot.index
        self.snapshotCount = UInt64(max(snapshotCount, 1))
        self.metrics = metrics
        self.logger = logger
        self.onRemoved = onRemoved
        reads.applied(upTo: max(snapshot.index, store.consistentIndex))
    }

    func start() {
        started = true
        let thread = Thread { [self] in run() }
        thread.name = "setcd-apply"
        thread.stackSize = 8 << 20
        thread.start()
    }

    func enqueue(_ task: Work) {
        condition.lock()
        queue.append(task)
        condition.signal()
        condition.unlock()
    }

    /// Applies what is queued, then ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        if started { finished.wait() }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            let done = queue.isEmpty
            condition.unlock()
            if done { break }
            applyQueued()
        }
        finished.signal()
    }

    /// Applies the work queued so far; consecutive entry batches merge into one LMDB transaction.
    package func applyQueued() {
        condition.lock()
        let tasks = queue
        queue.removeAll(keepingCapacity: true)
        condition.unlock()
        var entries: [Entry] = []
        for task in tasks {
            switch task {
            case .entries(let batch):
                entries += batch
            case .snapshot(let snapshot, let file):
                apply(entries)
                entries = []
                install(snapshot, file: file)
            }
        }
        apply(entries)
    }

    // MARK: - Entries

    /// What to do for an entry once the store has applied it.
    private enum Followup {
        case none
        case result(requestID: UInt64)
        case members(requestID: UInt64)
        case renew(requestID: UInt64, lease: Int64)
        case alarm(requestID: UInt64, Etcdserverpb_AlarmRequest, fresh: Bool)
        case auth(requestID: UInt64, AuthError?)
        case token(requestID: UInt64, Result<(token: String, user: String, passwordHash: String?), AuthError>)
        case rejected(requestID: UInt64, AuthError)
        case v2(requestID: UInt64, Result<[V2Event], V2Error>)
    }

    private func apply(_ entries: [Entry]) {
        guard let last = entries.last else { return }
        let alreadyApplied = store.consistentIndex
        var operations: [(index: UInt64, operation: MVCC.Operation)] = []
        var followups: [Followup] = []
        operations.reserveCapacity(entries.count)
        followups.reserveCapacity(entries.count)
        var membershipChanged = false
        /// Alarms raised (true) or cleared (false) by earlier entries of this batch, not yet in memory.
        var pendingAlarms: [Etcdserverpb_AlarmMember: Bool] = [:]
        /// The auth state after the batch's auth changes so far, installed once the store has it.
        var pendingAuth = auth.current
        var authChanged = false
        for entry in entries {
            let fresh = entry.index > alreadyApplied
            switch entry.kind {
            case .normal:
                guard !entry.data.isEmpty else {
                    operations.append((entry.index, .noop))
                    followups.append(.none)
                    continue
                }
                let requestID = Proposal.requestID(of: entry.data)
                guard var proposal = try? Proposal(decoding: entry.data) else {
                    logger.error("skipping an undecodable log entry", metadata: ["index": "\(entry.index)"])
                    operations.append((entry.index, .noop))
                    followups.append(.none)
                    continue
                }
                if case .authorized(let revision, let inner) = proposal {
                    // Permissions were checked at `revision` (0: authentication was off); a change
                    // since then voids the check.
                    if pendingAuth.enabled && revision != pendingAuth.revision {
                        operations.append((entry.index, .noop))
                        followups.append(.rejected(requestID: requestID, .authOldRevision))
                        continue
                    }
                    proposal = inner
                }
                switch proposal {
                case .auth(let change):
                    var outcome: AuthError?
                    var operation = MVCC.Operation.noop
                    if fresh {
                        do {
                            let next = try pendingAuth.applying(change)
                            if next != pendingAuth {
                                pendingAuth = next
                                authChanged = true
                                operation = .clusterRecord(key: AuthState.recordKey, value: next.encoded())
                            }
                        } catch {
                            outcome = error
                        }
                    }
                    operations.append((entry.index, operation))
                    followups.append(.auth(requestID: requestID, outcome))
                case .v2(let request):
                    guard fresh else {
                        operations.append((entry.index, .noop))
                        followups.append(.none)
                        continue
                    }
                    let (result, operation) = v2.apply(request)
                    operations.append((entry.index, operation))
                    followups.append(.v2(requestID: requestID, result))
                case .authenticate(let user, let prefix):
                    let outcome: Result<(token: String, user: String, passwordHash: String?), AuthError>
                    if !pendingAuth.enabled {
                        outcome = .failure(.authNotEnabled)
                    } else if let hash = pendingAuth.users[user]?.passwordHash {
                        outcome = .success(("\(prefix).\(entry.index)", user, hash))
                    } else {
                        outcome = .failure(.authFailed)
                    }
                    operations.append((entry.index, .noop))
                    followups.append(fresh ? .token(requestID: requestID, outcome) : .none)
                case .memberAttributes(let update), .memberPeerURLs(let update):
                    var operation = MVCC.Operation.noop
                    var publishing = false
                    if case .memberAttributes = proposal { publishing = true }
                    if fresh, var record = membership.record(update.id) {
                        if publishing {
                            record.name = update.name
                            record.clientURLs = update.clientURLs
                        } else {
                            record.peerURLs = update.peerURLs
                            connect(record)
                        }
                        membership.set(record)
                        operation = v2.recordingInternalChanges(1, publish: publishing,
                                                                with: .clusterRecord(key: record.storeKey, value: record.encoded()))
                    }
                    operations.append((entry.index, operation))
                    followups.append(.members(requestID: requestID))
                case .alarm(let request):
                    // The alarms change in memory only once the store has recorded the change.
                    var operation = MVCC.Operation.noop
                    if fresh, let key = alarmRecordKey(for: request, pending: &pendingAlarms) {
                        operation = .clusterRecord(key: key, value: request.action == .activate ? [1] : nil)
                    }
                    operations.append((entry.index, operation))
                    followups.append(.alarm(requestID: requestID, request, fresh: fresh))
                case .leaseRenew(let lease):
                    operations.append((entry.index, .noop))
                    followups.append(.renew(requestID: requestID, lease: lease))
                default:
                    operations.append((entry.index, proposal.operation ?? .noop))
                    followups.append(.result(requestID: requestID))
                }
            case .confChange:
                guard let change = ConfChange(encoded: entry.data) else {
                    operations.append((entry.index, .noop))
                    followups.append(.none)
                    continue
                }
                confState = confState.applying(change)
                let requestID = Proposal.requestID(of: change.context)
                operations.append((entry.index, fresh ? v2.recordingInternalChanges(1, publish: false, with: applyMembership(change)) : .noop))
                followups.append(.members(requestID: requestID))
                membershipChanged = membershipChanged || fresh
            }
        }
        let results: [OperationResult?]
        do {
            let clock = ContinuousClock()
            let started = clock.now
            let compacts = Failpoint.anyEnabled && operations.contains { if case .compact = $0.operation { true } else { false } }
            Failpoint.applyBeforeCommit.hit()
            if compacts { Failpoint.compactBeforeCommit.hit() }
            results = try store.apply(operations)
            if compacts { Failpoint.compactAfterCommit.hit() }
            Failpoint.applyAfterCommit.hit()
            metrics.backendCommit.record(clock.now - started)
            metrics.proposalsApplied.increment(by: Int64(entries.count))
        } catch {
            // Only the storage fails here (every failure of a request is its result, above).
            StorageFailure.stop(logger, "applying entries \(entries[0].index)-\(last.index)", file: store.path, error: error)
        }
        if authChanged { auth.committed(pendingAuth) }
        // Tokens are known before readers waiting for this index go on.
        for followup in followups {
            if case .token(_, .success(let issued)) = followup { auth.addToken(issued.token, user: issued.user, passwordHash: issued.passwordHash) }
        }
        appliedIndex = max(appliedIndex, last.index)
        reads.applied(upTo: appliedIndex)
        for (followup, result) in zip(followups, results) {
            guard let result else { continue }
            switch followup {
            case .none:
                break
            case .result(let requestID):
                waits.resolve(requestID, with: .operation(result))
            case .members(let requestID):
                waits.resolve(requestID, with: .members(membership.all))
            case .renew(let requestID, let lease):
                waits.resolve(requestID, with: .leaseTTL(store.lessor.renew(lease) ?? 0))
            case .alarm(let requestID, let request, let fresh):
                waits.resolve(requestID, with: .alarms(applyAlarm(request, changing: fresh && result != .failure(.noSpace))))
            case .auth(let requestID, let error):
                waits.resolve(requestID, with: .auth(error))
            case .token(let requestID, let outcome):
                waits.resolve(requestID, with: .token(outcome.map(\.token)))
            case .rejected(let requestID, let error):
                waits.resolve(requestID, with: .rejected(error))
            case .v2(let requestID, let result):
                waits.resolve(requestID, with: .v2(result))
            }
        }
        if membershipChanged && membership.isRemoved(localID) {
            logger.warning("this member has been permanently removed from the cluster; stopping")
            onRemoved()
        }
        if appliedIndex - lastSnapshotIndex >= snapshotCount {
            takeSnapshot()
        }
    }

    /// The cluster record an alarm request changes, if it changes one: raising an alarm not raised
    /// yet, or clearing one that is.
    private func alarmRecordKey(for request: Etcdserverpb_AlarmRequest, pending: inout [Etcdserverpb_AlarmMember: Bool]) -> [UInt8]? {
        let alarm = Alarms.alarm(memberID: request.memberID, alarm: request.alarm)
        let raised = pending[alarm] ?? alarms.list().contains(alarm)
        switch request.action {
        case .activate where request.alarm != .none && !raised:
            pending[alarm] = true
            return Alarms.storeKey(alarm)
        case .deactivate where raised:
            pending[alarm] = false
            return Alarms.storeKey(alarm)
        default:
            return nil
        }
    }

    /// Carries out an applied alarm request on the in-memory alarms (when `changing`) and returns
    /// etcd's answer: the alarm raised, the alarms cleared, or the alarms listed.
    private func applyAlarm(_ request: Etcdserverpb_AlarmRequest, changing: Bool) -> [Etcdserverpb_AlarmMember] {
        switch request.action {
        case .activate:
            guard request.alarm != .none else { return [] }
            let alarm = Alarms.alarm(memberID: request.memberID, alarm: request.alarm)
            return [changing ? alarms.activate(memberID: request.memberID, alarm: request.alarm) : alarm]
        case .deactivate:
            guard changing else { return [] }
            return alarms.deactivate(memberID: request.memberID, alarm: request.alarm)
        default:
            return alarms.list(request.alarm)
        }
    }

    /// Updates the membership for a conf-change entry and returns the store operation recording it.
    private func applyMembership(_ change: ConfChange) -> MVCC.Operation {
        let context = change.context.count > 8 ? MemberRecord.decode(change.context.dropFirst(8)) : nil
        switch change.type {
        case .addNode, .addLearnerNode:
            var record = membership.record(change.nodeID)
                ?? context ?? MemberRecord(id: change.nodeID, name: "", peerURLs: [], clientURLs: [], isLearner: false)
            record.id = change.nodeID
            record.isLearner = change.type == .addLearnerNode
            membership.set(record)
            connect(record)
            return .clusterRecord(key: record.storeKey, value: record.encoded())
        case .removeNode:
            var record = membership.record(change.nodeID)
                ?? context ?? MemberRecord(id: change.nodeID, name: "", peerURLs: [], clientURLs: [], isLearner: false)
            record.id = change.nodeID
            record.removed = true
            membership.set(record)
            if change.nodeID != localID { transport.removePeer(change.nodeID) }
            return .clusterRecord(key: record.storeKey, value: record.encoded())
        }
    }

    /// Points the peer transport at a member's first peer URL.
    private func connect(_ record: MemberRecord) {
        guard record.id != localID, let url = record.peerURLs.first, let address = hostAndPort(ofURL: url) else { return }
        transport.addPeer(record.id, host: address.host, port: address.port)
    }

    // MARK: - Snapshots

    /// Makes the store durable up to the applied index, then lets the raft thread record a snapshot
    /// there and drop the log before it.
    private func takeSnapshot() {
        do {
            try store.sync()
        } catch {
            logger.warning("failed to sync the store for a snapshot", metadata: ["error": "\(error)"])
            return
        }
        lastSnapshotIndex = appliedIndex
        raftLoop?.post(.compact(index: appliedIndex, confState: confState))
    }

    /// Replaces the store with the leader's snapshot.
    private func install(_ snapshot: Snapshot, file: String?) {
        let index = snapshot.metadata.index
        if let file {
            do {
                Failpoint.snapshotBeforeApply.hit()
                try store.restore(fromSnapshotAt: file)
                try store.sync()
                unlink(file)
            } catch {
                StorageFailure.stop(logger, "installing the leader's snapshot at index \(index)", file: store.path, error: error)
            }
        }
        guard store.consistentIndex >= index else {
            logger.critical("snapshot store file missing", metadata: ["index": "\(index)"])
            fatalError("setcd: snapshot \(index) has no store file")
        }
        let records = Self.loadMembers(from: store)
        membership.replaceAll(records)
        alarms.replaceAll(Self.loadAlarms(from: store))
        auth.committed(Self.loadAuth(from: store))
        v2.reload(from: store)
        for record in records where record.removed != true { connect(record) }
        confState = snapshot.metadata.confState
        if file != nil { snapshotsInstalled += 1 }
        appliedIndex = max(appliedIndex, index)
        lastSnapshotIndex = index
        reads.applied(upTo: appliedIndex)
        logger.info("installed snapshot", metadata: ["index": "\(index)", "revision": "\(store.currentRevision)"])
    }

    /// The alarms recorded in the store.
    static func loadAlarms(from store: MVCCStore) -> [Etcdserverpb_AlarmMember] {
        ((try? store.clusterRecords()) ?? []).compactMap { Alarms.decode(storeKey: $0.key) }
    }

    /// The auth state recorded in the store (a fresh one if none is).
    static func loadAuth(from store: MVCCStore) -> AuthState {
        guard let record = ((try? store.clusterRecords()) ?? []).first(where: { $0.key == AuthState.recordKey }) else { return AuthState() }
        // An unreadable record must not silently turn authentication off.
        guard let state = AuthState.decode(record.value) else { fatalError("setcd: the stored auth state cannot be decoded") }
        return state
    }

    /// The member records held in the store.
    static func loadMembers(from store: MVCCStore) -> [MemberRecord] {
        ((try? store.clusterRecords()) ?? []).compactMap { key, value in
            key.starts(with: MemberRecord.storePrefix) ? MemberRecord.decode(value) : nil
        }
    }
}
