import Foundation
import GRPCCore
import Logging
import MVCC
import Raft
import Synchronization
import WAL

/// What other threads hand the raft thread.
package enum RaftInput: Sendable {
    /// A message from a peer, from the inbound connection numbered `connection` (for `PeerLinks.closeInbound`).
    case message(Message, connection: UInt64)
    /// A snapshot from the leader whose store file is already on disk at `file`.
    case snapshot(Message, file: String, connection: UInt64)
    /// An encoded proposal (request id + `Proposal`).
    case proposal([UInt8])
    case confChange(ConfChange, requestID: UInt64)
    case transferLeader(to: UInt64)
    /// The outcome of sending a snapshot to a peer.
    case snapshotStatus(peer: UInt64, success: Bool)
    /// The applier took a snapshot of the store at `index` (durable in LMDB): the log before it may go.
    case compact(index: UInt64, confState: ConfState)
}

/// The Raft state other threads read: published by the raft thread after every `Ready`.
package struct RaftInfo: Sendable {
    package var term: UInt64 = 0
    package var leader: UInt64 = 0
    package var role: StateRole = .follower
    package var commitIndex: UInt64 = 0
    package var lastIndex: UInt64 = 0
    /// The leader's view of each member's replication progress (empty on followers).
    var progress: [UInt64: ProgressStatus] = [:]
    /// The transfer target while a leadership transfer is in progress.
    var leadTransferee: UInt64 = 0
    /// Whether the latest configuration in this member's log includes it.
    var inLatestConfig = true
}

/// The node loop (DESIGN §2): one thread owns the `RaftNode`, the raft log in memory and the WAL.
///
/// Each turn it takes its inputs (peer messages, proposals, ticks, ReadIndex rounds), steps the node,
/// and for each `Ready`: persists the snapshot marker, entries and hard state in the WAL with one
/// fdatasync, sends the messages, hands committed entries to the apply thread (`Applier`), publishes
/// read indexes, and advances. Ticks come from the thread's own clock every `--heartbeat-interval`.
///
/// A simulation drives the loop from its own thread instead of `start()`: `turn(now:tick:)` is one
/// turn at a simulated time, and snapshots are then streamed within the turn.
package final class RaftLoop: @unchecked Sendable {
    // @unchecked Sendable: `inputs`, `stopped` and `wakeups` are only touched with `inbox` locked; every
    // other stored property is either immutable and Sendable, or (`node`, `storage`, `wal`,
    // `latestHardState`, `parked`, `receivedSnapshots`, `role`, `snapshotStreamCount`, `persistFailed`) touched only on
    // the raft thread after `start()` (before it, only by `init`; without `start()`, only by the one
    // thread that calls `turn`).
    private let inbox = NSCondition()
    private var inputs: [RaftInput] = []
    private var stopped = false
    private var wakeups = false

    private let node: RaftNode
    private let storage: MemoryStorage
    private let wal: WriteAheadLog
    private var latestHardState: HardState
    private let applier: Applier
    private let transport: any PeerLinks
    private let store: MVCCStore
    private let waits: Waits
    private let reads: ReadBarrier
    private let config: ServerConfig
    private let memberDir: String
    private let metrics: MemberMetrics
    private let logger: Logger
    private let published = Mutex(RaftInfo())
    /// Peers a snapshot is streaming to right now.
    private let snapshotStreams = Mutex<Set<UInt64>>([])
    /// Proposals Raft could not take yet (no leader, transfer in progress), with when they arrived.
    private var parked: [(data: [UInt8], since: ContinuousClock.Instant)] = []
    private var parkedConfChanges: [(change: ConfChange, requestID: UInt64, since: ContinuousClock.Instant)] = []
    /// Store files of snapshots received from the leader, by snapshot index.
    private var receivedSnapshots: [UInt64: String] = [:]
    private var role: StateRole = .follower
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?
    /// Set when persisting failed while the caller drives the loop: it takes no more turns (the caller
    /// stops the member, as the process would have died).
    package private(set) var persistFailed = false
    /// Snapshot streams started, numbering them when the caller drives the loop (deterministic ids).
    private var snapshotStreamCount: UInt64 = 0

    init(node: RaftNode, storage: MemoryStorage, wal: WriteAheadLog, applier: Applier, transport: any PeerLinks, store: MVCCStore,
         waits: Waits, reads: ReadBarrier, config: ServerConfig, memberDir: String, metrics: MemberMetrics, logger: Logger) {
        self.node = node
        self.storage = storage
        self.wal = wal
        self.latestHardState = storage.hardState
        self.applier = applier
        self.transport = transport
        self.store = store
        self.waits = waits
        self.reads = reads
        self.config = config
        self.memberDir = memberDir
        self.metrics = metrics
        self.logger = logger
        publish()
    }

    /// The latest Raft state.
    package var info: RaftInfo { published.withLock { $0 } }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "setcd-raft"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Hands `input` to the raft thread.
    package func post(_ input: RaftInput) {
        inbox.lock()
        inputs.append(input)
        inbox.signal()
        inbox.unlock()
    }

    /// Whether inputs wait for the next turn.
    package var hasInputs: Bool {
        inbox.lock()
        defer { inbox.unlock() }
        return !inputs.isEmpty || wakeups
    }

    /// Wakes the raft thread (a read joined the ReadIndex queue).
    func wake() {
        inbox.lock()
        wakeups = true
        inbox.signal()
        inbox.unlock()
    }

    /// Stops the raft thread after its current turn.
    func stop() {
        inbox.lock()
        let wasRunning = !stopped
        stopped = true
        inbox.signal()
        inbox.unlock()
        if wasRunning && thread != nil { finished.wait() }
    }

    // MARK: - The raft thread

    private var tickInterval: Duration { .milliseconds(max(config.heartbeatInterval, 1)) }
    private var electionTimeout: Duration { .milliseconds(config.electionTimeout) }

    private func run() {
        campaignIfLoneVoter()
        var nextTick = ContinuousClock.now + tickInterval
        while true {
            inbox.lock()
            while inputs.isEmpty && !wakeups && !stopped && ContinuousClock.now < nextTick {
                let wait = nextTick - ContinuousClock.now
                let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
                _ = inbox.wait(until: Date(timeIntervalSinceNow: max(seconds, 0)))
            }
            let stop = stopped
            inbox.unlock()
            if stop { break }
            let now = ContinuousClock.now
            let tick = now >= nextTick
            if tick { nextTick = nextTick + tickInterval > now ? nextTick + tickInterval : now + tickInterval }
            turn(now: now, tick: tick)
        }
        finished.signal()
    }

    /// A lone voter need not wait out an election timeout to lead (etcd fast-forwards its ticks too).
    package func campaignIfLoneVoter() {
        let status = node.status
        if status.confState.voters == [status.id] && status.softState.role != .leader { node.campaign() }
    }

    /// One turn of the loop at time `now`: takes the inputs posted so far, steps the node with them,
    /// ticks it (and expires overdue requests) if `tick`, and carries out every `Ready` that results.
    package func turn(now: ContinuousClock.Instant, tick: Bool) {
        inbox.lock()
        let batch = inputs
        inputs.removeAll(keepingCapacity: true)
        wakeups = false
        inbox.unlock()

        guard !persistFailed else { return }
        handle(batch, now: now)
        if tick {
            node.tick()
            expireWaiters(now: now)
        }
        // A ReadIndex answer in one Ready lets the reads queued behind it start the next round at once.
        while true {
            if let context = reads.nextRound(now: now, retryAfter: electionTimeout) {
                node.readIndex(context: context)
            }
            guard node.hasReady, !persistFailed else { break }
            process(node.ready(), now: now)
        }
    }

    /// Whether the node may step a peer's message in its state now (`RaftNode.refusal(of:)`); a refused
    /// one is dropped with a warning and the connection it came on is closed (the transport has already
    /// checked what needs no state).
    private func admits(_ message: Message, connection: UInt64) -> Bool {
        guard let reason = node.refusal(of: message) else { return true }
        logger.warning("dropping a peer message and closing its connection",
                       metadata: ["from": "\(String(message.from, radix: 16))", "reason": "\(reason)"])
        transport.closeInbound(connection: connection)
        return false
    }

    private func handle(_ batch: [RaftInput], now: ContinuousClock.Instant) {
        var proposals: [[UInt8]] = []
        for input in batch {
            switch input {
            case .message(let message, let connection):
                if admits(message, connection: connection) { try? node.step(message) }
            case .snapshot(let message, let file, let connection):
                guard admits(message, connection: connection) else {
                    unlink(file)
                    continue
                }
                if let index = message.snapshot?.metadata.index { receivedSnapshots[index] = file }
                try? node.step(message)
            case .proposal(let data):
                proposals.append(data)
            case .confChange(let change, let requestID):
                proposeConfChange(change, requestID: requestID, since: now)
            case .transferLeader(let target):
                node.transferLeader(to: target)
            case .snapshotStatus(let peer, let success):
                node.reportSnapshot(peer, success: success)
            case .compact(let index, let confState):
                compactLog(upTo: index, confState: confState)
            }
        }
        if !parked.isEmpty && node.status.softState.leader != 0 {
            // A leader is known again: retry what was parked, oldest first.
            let retry = parked.map(\.data)
            parked.removeAll()
            proposals = retry + proposals
        }
        if !parkedConfChanges.isEmpty && node.status.softState.leader != 0 {
            let retry = parkedConfChanges
            parkedConfChanges.removeAll()
            for item in retry { proposeConfChange(item.change, requestID: item.requestID, since: item.since) }
        }
        guard !proposals.isEmpty else { return }
        do {
            try node.propose(batch: proposals)
        } catch {
            parked += proposals.map { ($0, now) }
        }
    }

    private func proposeConfChange(_ change: ConfChange, requestID: UInt64, since: ContinuousClock.Instant) {
        do {
            try node.proposeConfChange(change)
        } catch RaftError.confChangeInvalid(let reason) {
            waits.fail(requestID, with: RPCError(code: .failedPrecondition, message: "etcdserver: \(reason)"))
        } catch {
            // No leader yet, or a change still pending: try again on a later turn until the request's deadline.
            parkedConfChanges.append((change, requestID, since))
        }
    }

    private func expireWaiters(now: ContinuousClock.Instant) {
        let timeout = config.requestTimeout
        waits.expire(now: now, with: EtcdError.timeout)
        reads.expire(now: now, with: EtcdError.timeout)
        parked.removeAll { now - $0.since > timeout }
        parkedConfChanges.removeAll { now - $0.since > timeout }
    }

    /// Carries out one `Ready` in the order its contract requires.
    private func process(_ rd: Ready, now: ContinuousClock.Instant) {
        let clock = ContinuousClock()
        // 1. Persist: snapshot marker, entries and hard state, with one fdatasync.
        do {
            if let snapshot = rd.snapshot {
                try persistSnapshotMetadata(snapshot.metadata)
                try wal.saveSnapshotMarker(WALSnapshotMarker(index: snapshot.metadata.index, term: snapshot.metadata.term))
                removeSnapshotMetadata(before: snapshot.metadata.index)
                try storage.applySnapshot(snapshot)
            }
            if let hardState = rd.hardState { latestHardState = hardState }
            if !rd.entries.isEmpty || rd.mustSync || rd.snapshot != nil {
                let started = clock.now
                let entries = rd.entries.map { WALEntry(term: $0.term, index: $0.index, data: Self.walData(of: $0)) }
                Failpoint.walBeforeSave.hit()
                try wal.save(entries: entries, hardState: WALHardState(term: latestHardState.term, vote: latestHardState.vote, commit: latestHardState.commit))
                metrics.walFsync.record(clock.now - started)
                Failpoint.walAfterSave.hit()
                try storage.append(rd.entries)
            }
            if let hardState = rd.hardState { storage.setHardState(hardState) }
        } catch {
            // etcd stops here too: a member that cannot persist its log must not acknowledge anything.
            guard thread == nil else { StorageFailure.stop(logger, "persisting the raft log", file: memberDir + "/wal", error: error) }
            // Driven by a simulation, which stops the member instead.
            logger.critical("failed to persist raft state", metadata: ["error": "\(error)"])
            persistFailed = true
            return
        }

        // 2. Send.
        if !rd.messages.isEmpty { Failpoint.raftBeforeSend.hit() }
        var unreachable: Set<UInt64> = []
        for message in rd.messages {
            if message.type == .snap {
                sendSnapshot(message)
            } else if !transport.send(RaftWire.encode(message), to: message.to, on: .messages) {
                unreachable.insert(message.to)
            }
        }

        // 3. Apply (on the apply thread, in order); conf changes take effect in Raft's applied configuration now.
        if let snapshot = rd.snapshot {
            let file = receivedSnapshots.removeValue(forKey: snapshot.metadata.index)
            applier.enqueue(.snapshot(snapshot, file: file))
            // Older snapshots that Raft did not take are no longer needed.
            for (index, stale) in receivedSnapshots where index < snapshot.metadata.index {
                unlink(stale)
                receivedSnapshots[index] = nil
            }
        }
        if !rd.committedEntries.isEmpty {
            for entry in rd.committedEntries where entry.kind == .confChange {
                if let change = ConfChange(encoded: entry.data) { node.applyConfChange(change) }
            }
            metrics.proposalsCommitted.increment(by: Int64(rd.committedEntries.count))
            applier.enqueue(.entries(rd.committedEntries))
        }
        for readState in rd.readStates {
            reads.indexKnown(context: readState.context, index: readState.index)
        }
        if let soft = rd.softState {
            if soft.role == .leader && role != .leader {
                // etcd's lessor promotion: leases get their full TTL (plus an election timeout) on a new leader.
                store.lessor.promote(extend: electionTimeout, now: now)
            }
            if soft.leader != info.leader { metrics.leaderChanges.increment() }
            if soft.role != role || soft.leader != info.leader {
                logger.info("raft state changed", metadata: ["role": "\(soft.role)", "leader": "\(String(soft.leader, radix: 16))", "term": "\(node.status.hardState.term)"])
            }
            role = soft.role
        }

        // 4. Advance.
        node.advance(rd)
        for peer in unreachable { node.reportUnreachable(peer) }
        publish()
    }

    /// A WAL record's payload: the entry kind, then the entry data.
    static func walData(of entry: Entry) -> [UInt8] {
        var data = [UInt8]()
        data.reserveCapacity(entry.data.count + 1)
        data.append(entry.kind.rawValue)
        data.append(contentsOf: entry.data)
        return data
    }

    /// The raft entry a WAL record holds.
    static func entry(fromWAL record: WALEntry) throws -> Entry {
        guard let first = record.data.first, let kind = EntryKind(rawValue: first) else { throw ProposalDecodingError() }
        return Entry(term: record.term, index: record.index, kind: kind, data: Array(record.data.dropFirst()))
    }

    private func publish() {
        let status = node.status
        let info = RaftInfo(term: status.hardState.term, leader: status.softState.leader, role: status.softState.role,
                            commitIndex: status.hardState.commit, lastIndex: status.lastIndex,
                            progress: status.progress, leadTransferee: status.leadTransferee,
                            inLatestConfig: status.confState.contains(status.id))
        published.withLock { $0 = info }
    }

    // MARK: - Snapshots

    /// Where the metadata (index, term, configuration) of the raft snapshot at `index` is kept. It is
    /// written before the WAL's snapshot marker, and older ones are deleted after it.
    static func snapshotMetadataPath(memberDir: String, index: UInt64) -> String {
        memberDir + "/snap/" + String(format: "%016llx", index) + ".snap.json"
    }

    /// The store file of a snapshot received from the leader, kept until the store has installed it.
    static func receivedSnapshotPath(memberDir: String, index: UInt64) -> String {
        memberDir + "/snap/" + String(format: "%016llx", index) + ".mdb"
    }

    private func persistSnapshotMetadata(_ metadata: SnapshotMetadata) throws {
        try SnapshotMetadataFile(metadata).save(to: Self.snapshotMetadataPath(memberDir: memberDir, index: metadata.index))
    }

    /// Deletes snapshot metadata files older than the snapshot at `index`.
    private func removeSnapshotMetadata(before index: UInt64) {
        let directory = memberDir + "/snap"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".snap.json") {
            if let older = UInt64(name.prefix(16), radix: 16), older < index { unlink(directory + "/" + name) }
        }
    }

    /// The applier made the store durable up to `index`: record a raft snapshot there, keep
    /// `--snapshot-catchup-entries` entries before it for slow followers, and release WAL segments.
    private func compactLog(upTo index: UInt64, confState: ConfState) {
        guard index > storage.latestSnapshot.metadata.index, index <= (try? storage.lastIndex()) ?? 0 else { return }
        do {
            let snapshot = try storage.createSnapshot(index: index, confState: confState, data: [])
            try persistSnapshotMetadata(snapshot.metadata)
            try wal.save(entries: [], hardState: WALHardState(term: latestHardState.term, vote: latestHardState.vote, commit: latestHardState.commit))
            try wal.saveSnapshotMarker(WALSnapshotMarker(index: index, term: snapshot.metadata.term))
            removeSnapshotMetadata(before: index)
            try wal.releaseSegments(upTo: index)
            let keep = UInt64(max(config.snapshotCatchupEntries, 1))
            if index > keep, index - keep >= (try storage.firstIndex()) {
                try storage.compact(upTo: index - keep)
            }
            logger.info("saved snapshot", metadata: ["index": "\(index)", "first-retained-index": "\((try? storage.firstIndex()) ?? 0)"])
        } catch {
            logger.warning("failed to save snapshot", metadata: ["index": "\(index)", "error": "\(error)"])
        }
    }

    /// Streams the leader's store (a consistent copy) after `message` on the snapshots connection, off
    /// the raft thread, in chunks with at most a few queued at a time, and reports the outcome to Raft.
    /// One stream per peer at a time: while one runs, another request for that peer fails at once
    /// (Raft tries again later), so two streams never interleave on the connection.
    private func sendSnapshot(_ message: Message) {
        let peer = message.to
        guard snapshotStreams.withLock({ $0.insert(peer).inserted }) else {
            post(.snapshotStatus(peer: peer, success: false))
            return
        }
        snapshotStreamCount += 1
        let stream = thread == nil ? snapshotStreamCount : UInt64.random(in: 1...UInt64.max)
        let path = memberDir + "/snap/outgoing-\(String(peer, radix: 16))-\(String(stream, radix: 16)).mdb"
        let send: @Sendable () -> Void = { [self] in
            var success = false
            do {
                try streamSnapshot(message, stream: stream, through: path)
                success = true
            } catch {
                logger.warning("failed to send snapshot", metadata: ["to": "\(String(peer, radix: 16))", "error": "\(error)"])
            }
            _ = snapshotStreams.withLock { $0.remove(peer) }
            post(.snapshotStatus(peer: peer, success: success))
        }
        guard thread != nil else {
            // Driven by the caller (a simulation): stream within the turn.
            send()
            return
        }
        let sender = Thread(block: send)
        sender.name = "setcd-snapshot-send"
        sender.start()
    }

    private func streamSnapshot(_ message: Message, stream: UInt64, through path: String) throws {
        let snapshotIndex = message.snapshot?.metadata.index ?? 0
        // The copy must hold at least what the snapshot covers; a member that became leader before
        // installing a snapshot it received waits until it has.
        guard store.consistentIndex >= snapshotIndex else { throw SnapshotSendError.storeBehind(store.consistentIndex) }
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw SnapshotSendError.io("open") }
        unlink(path)
        defer { close(fd) }
        Failpoint.snapshotBeforeSend.hit()
        try store.copy(toDescriptor: fd)
        let size = Int(lseek(fd, 0, SEEK_END))
        try enqueueSnapshotPayload(SnapshotFrame.begin(stream: stream, message, size: UInt64(size)).encoded(), to: message.to)
        var chunk = [UInt8](repeating: 0, count: SnapshotFrame.chunkSize)
        var offset = 0
        while offset < size {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, size - offset), off_t(offset)) }
            guard count > 0 else { throw SnapshotSendError.io("read") }
            try enqueueSnapshotPayload(SnapshotFrame.chunk(stream: stream, chunk[0..<count]).encoded(), to: message.to)
            offset += count
        }
        try enqueueSnapshotPayload(SnapshotFrame.end(stream: stream).encoded(), to: message.to)
        logger.info("sent snapshot", metadata: ["to": "\(String(message.to, radix: 16))", "index": "\(snapshotIndex)", "bytes": "\(size)"])
    }

    /// Queues one snapshot payload, waiting while the peer's snapshot queue is full (for at most 30 s
    /// without progress: the peer is gone or stuck).
    private func enqueueSnapshotPayload(_ payload: [UInt8], to peer: UInt64) throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !transport.send(payload, to: peer, on: .snapshots) {
            guard ContinuousClock.now < deadline, thread != nil else { throw SnapshotSendError.peerNotReading }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }
}

/// Why a snapshot was not sent (Raft retries later).
enum SnapshotSendError: Error {
    /// This member has not yet applied up to the snapshot's index.
    case storeBehind(UInt64)
    /// The peer took no chunk for too long (or is no longer a peer).
    case peerNotReading
    case io(String)
}

/// The raft snapshot's metadata on disk (the WAL marker holds only index and term; the configuration
/// is needed to restart from the snapshot).
struct SnapshotMetadataFile: Codable {
    var index: UInt64
    var term: UInt64
    var voters: [UInt64]
    var learners: [UInt64]

    init(_ metadata: SnapshotMetadata) {
        index = metadata.index
        term = metadata.term
        voters = metadata.confState.voters
        learners = metadata.confState.learners
    }

    var metadata: SnapshotMetadata {
        SnapshotMetadata(index: index, term: term, confState: ConfState(voters: voters, learners: learners))
    }

    static func load(from path: String) throws -> SnapshotMetadataFile {
        try JSONDecoder().decode(SnapshotMetadataFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes durably: temp file, fsync, rename.
    func save(to path: String) throws {
        try writeFileDurably(Array(try JSONEncoder().encode(self)), to: path)
    }
}

/// Writes `bytes` to `path` so that after a crash either the old or the new contents are there:
/// temp file, fsync, rename, fsync of the directory.
func writeFileDurably(_ bytes: [UInt8], to path: String) throws {
    let temp = path + ".tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    let synced = fsync(fd)
    close(fd)
    guard written == bytes.count, synced == 0, rename(temp, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    syncDirectory(of: path)
}

/// Makes a rename or creation in `path`'s directory durable.
func syncDirectory(of path: String) {
    let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY)
    if directory >= 0 {
        fsync(directory)
        close(directory)
    }
}
