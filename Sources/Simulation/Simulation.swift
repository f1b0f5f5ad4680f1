import Chaos
import Checker
import EtcdProto
import Foundation
import Logging
import MVCC
import Raft
import Server

/// A whole-cluster deterministic simulation: several members — the server's own raft node loop, WAL,
/// applier and MVCC store on real LMDB files — in one process and on one thread, on a simulated
/// network and a simulated disk under each WAL, driven by a virtual clock and one seeded generator.
///
/// Clients issue recorded puts, gets, deletes and compare-and-swaps (the chaos runs' operations) and a
/// client watches every key; faults crash members (losing their unsynced WAL writes, perhaps tearing
/// the last), pause them, partition and slow the network, drop and reorder messages; compactions
/// and snapshots (every few hundred entries) happen along the way. At the end the cluster is healed
/// and the run is checked as a chaos run is (`HistoryVerdict`). The same seed replays the same run
/// when hashing is deterministic (`SWIFT_DETERMINISTIC_HASHING=1`, which `setcd-sim` sets).
public final class Simulation: @unchecked Sendable {
    // @unchecked Sendable: a simulation runs on the one thread that called `run()`. The server's
    // completion callbacks it registers are invoked from inside its own calls to `turn` and
    // `applyQueued` on that thread, never from another.

    /// What to simulate.
    public struct Options: Sendable {
        public var seed: UInt64
        public var members = 3
        public var clients = 6
        /// Client operations to issue before the cluster is healed and checked.
        public var operations = 5_000
        /// Mean virtual time between faults; nil for a run without faults.
        public var faultInterval: Duration? = .seconds(2)
        /// Raft snapshot every this many applied entries (small, so that snapshots happen).
        public var snapshotCount = 250
        /// Entries kept after a snapshot for slow followers.
        public var catchupEntries = 50
        /// Where the members' directories go (a fresh directory is made under it).
        public var root: String = NSTemporaryDirectory()
        /// Print each fault as it happens.
        public var verbose = false

        public init(seed: UInt64) { self.seed = seed }
    }

    /// What a simulated run did and found.
    public struct Report: Sendable {
        public var seed: UInt64 = 0
        public var virtualSeconds: Double = 0
        public var faults: [String: Int] = [:]
        public var messages = 0
        public var droppedMessages = 0
        public var walSyncs = 0
        public var lostWALWrites = 0
        public var tornWALWrites = 0
        public var snapshotsInstalled = 0
        public var compactions = 0
        /// Peer messages a member refused as no correct member would send them (not counting those of
        /// members being removed, which etcd refuses too): a correct cluster sends none.
        public var refusedPeerMessages = 0
        /// A digest of the run (history, revisions, hashes): equal for two runs of one seed.
        public var trace: UInt64 = 0
        public var verdict = HistoryVerdict()

        public var passed: Bool { verdict.passed && refusedPeerMessages == 0 }

        public var text: String {
            let injected = faults.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            return """
                seed: \(seed)
                virtual time: \(String(format: "%.1f", virtualSeconds)) s
                faults injected: \(faults.values.reduce(0, +)) (\(injected))
                network: \(messages) payloads, \(droppedMessages) dropped
                WAL: \(walSyncs) syncs, \(lostWALWrites) unsynced writes lost and \(tornWALWrites) torn by crashes
                snapshots installed: \(snapshotsInstalled); compactions: \(compactions)
                peer messages refused as implausible: \(refusedPeerMessages)
                \(verdict.text)trace: \(String(trace, radix: 16))
                verdict: \(passed ? "PASS" : "FAIL")

                """
        }
    }

    private enum Event {
        case tick(Int)
        case deliver(Delivery)
        case issue(client: Int)
        case clientTimeout(client: Int, operation: Int)
        case fault
        /// A member whose WAL save failed dies.
        case crash(Int)
        case restart(Int)
        /// A member removed from the cluster stops for good.
        case removed(Int)
        /// A member whose addition got no answer is taken out of the configuration.
        case undoAdd(Int)
        case resume(Int)
        case heal
    }

    private final class Member {
        let index: Int
        let record: MemberRecord
        var id: UInt64 { record.id }
        let directory: String
        let disk: SimulatedDisk
        /// For a member added at run time: the members it was told about.
        var joinedMembers: [MemberRecord]?
        /// Removed from the cluster: never started again, left out of the final checks.
        var removed = false
        var core: MemberCore?
        var links: SimulatedLinks?
        var incarnation = 0
        var paused = false
        var started = false
        /// A watch of every key, feeding the run's record of every change (`truth`).
        var truthStream: WatchStream?

        init(index: Int, record: MemberRecord, directory: String, seed: UInt64) {
            self.index = index
            self.record = record
            self.directory = directory
            disk = SimulatedDisk(seed: seed)
        }

        var isUp: Bool { core != nil && !paused }
    }

    private struct Client {
        var member: Int
        var issued = 0
        /// The operation in flight: its number, request and call time.
        var inFlight: (operation: Int, request: EtcdModel.Request, call: Int64)?
    }

    private let options: Options
    private var random: SplitMix64
    private var now: Int64 = 0
    private let base = ContinuousClock.now
    private var queue = EventQueue<Event>()
    private var network = SimulatedNetwork()
    private var members: [Member] = []
    private var clients: [Client] = []
    private var issued = 0
    private var history: [HistoryOperation<EtcdModel.Request, EtcdModel.Response>] = []
    private var nextRequestID: UInt64 = 1
    private var pendingSends: [(from: Int, to: Int, channel: PeerChannel, payload: [UInt8])] = []
    private var report = Report()
    private let config: ServerConfig
    private let clusterID: UInt64
    /// The members the cluster started with.
    private let initialMembers: [MemberRecord]
    /// A membership change is in flight.
    private var changingMembership = false
    /// Members a removal was proposed for: their messages may be refused, as etcd refuses a removed member's.
    private var removalSubjects: Set<UInt64> = []
    private let logger: Logger
    private let runDirectory: String
    /// Every change the cluster made, in revision order, read from the members' stores.
    private var truth: [WatchEvent] = []
    private var truthRevision: Int64 = 1
    /// The client's watch: the member it is on, its stream, and what it delivered.
    private var watch: (member: Int, stream: WatchStream)?
    private var watched: [[WatchEvent]] = []
    private var watchedRevision: Int64 = 0
    private static let watchKey = Array("k".utf8), watchEnd = Array("l".utf8)

    public init(options: Options) throws {
        self.options = options
        random = SplitMix64(seed: options.seed)
        var config = ServerConfig()
        config.snapshotCount = options.snapshotCount
        config.snapshotCatchupEntries = options.catchupEntries
        self.config = config
        runDirectory = options.root + "/setcd-sim-\(options.seed)-\(getpid())"
        try? FileManager.default.removeItem(atPath: runDirectory)
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        initialMembers = (0..<options.members).map(Self.record)
        clusterID = 0x5e7c_dc10_57e2
        // Verbose runs show the members' warnings (a refused peer message, say); others are silent.
        var memberLogger = options.verbose
            ? Logger(label: "setcd-sim", factory: { StreamLogHandler.standardError(label: $0) })
            : Logger(label: "setcd-sim", factory: { _ in SwiftLogNoOpLogHandler() })
        memberLogger.logLevel = options.verbose ? .warning : .critical
        logger = memberLogger
        for record in initialMembers { try addSlot(record) }
    }

    /// Member number `index`, by name and id.
    private static func record(_ index: Int) -> MemberRecord {
        MemberRecord(id: UInt64(index + 1) << 32 | 0x5e7cd, name: "m\(index)", peerURLs: ["http://m\(index):2380"], clientURLs: [], isLearner: false)
    }

    @discardableResult
    private func addSlot(_ record: MemberRecord) throws -> Member {
        let index = members.count
        let directory = runDirectory + "/m\(index)"
        try FileManager.default.createDirectory(atPath: directory + "/snap", withIntermediateDirectories: true)
        let member = Member(index: index, record: record, directory: directory, seed: options.seed &+ UInt64(index + 1) &* 0x9E37_79B9)
        members.append(member)
        queue.push(.tick(index), at: now + Int64(random.next() % 100_000_000))
        return member
    }

    /// The members in the cluster (not removed).
    private var liveMembers: [Member] { members.filter { !$0.removed } }

    deinit {
        try? FileManager.default.removeItem(atPath: runDirectory)
    }

    // MARK: - Running

    /// Runs the simulation to its end and checks it.
    public func run() throws -> Report {
        report.seed = options.seed
        for member in members { try start(member) }
        clients = (0..<options.clients).map { Client(member: $0 % options.members) }
        for client in clients.indices { queue.push(.issue(client: client), at: 1_000_000 + Int64(client) * 1000) }
        if let interval = options.faultInterval { queue.push(.fault, at: interval.nanoseconds) }
        openWatch()

        // The load, with faults, until every operation has been issued and answered (or given up).
        while issued < options.operations || clients.contains(where: { $0.inFlight != nil }) {
            guard step() else { break }
        }
        if options.verbose {
            print("load done at \(Double(now) / 1e9) s: \(history.count) operations recorded; " + members.map { member in
                guard let info = member.core?.raftLoop.info else { return "m\(member.index) down" }
                return "m\(member.index) term \(info.term) leader \(info.leader) commit \(info.commitIndex) applied \(member.core!.applier.appliedIndex)"
            }.joined(separator: ", "))
        }
        // Heal everything and let the cluster settle, then read every key and check.
        healAll()
        try drain(for: 5_000_000_000)
        healAll()
        try waitForAgreement()
        for key in HistoryRecorder.keys { try finalRead(key) }
        try waitForAgreement()
        try check()
        for member in members { stop(member, crash: false) }
        return report
    }

    /// Handles the next event; false if there is none.
    private func step() -> Bool {
        guard let (time, event) = queue.pop() else { return false }
        now = max(now, time)
        handle(event)
        settle()
        return true
    }

    private func drain(for duration: Int64) throws {
        let until = now + duration
        while let next = queue.nextTime, next <= until { _ = step() }
        now = max(now, until)
    }

    private func handle(_ event: Event) {
        switch event {
        case .tick(let index):
            let member = members[index]
            guard !member.removed else { return }
            queue.push(.tick(index), at: now + Int64(config.heartbeatInterval) * 1_000_000)
            guard member.isUp, let core = member.core else { return }
            runTurn(member, core: core, tick: true)
        case .deliver(let delivery):
            let member = members[delivery.to]
            guard let core = member.core, member.incarnation == delivery.incarnation else { return }
            let sender = members[delivery.from].id
            if !core.inbox.receive(from: sender, connection: sender, channel: delivery.channel, payload: delivery.payload) {
                peerMessageRefused(from: members[delivery.from].id)
            }
        case .issue(let client):
            issue(client)
        case .clientTimeout(let client, let operation):
            guard let inFlight = clients[client].inFlight, inFlight.operation == operation else { return }
            finish(client, output: nil)
        case .fault:
            injectFault()
            if let interval = options.faultInterval {
                queue.push(.fault, at: now + interval.nanoseconds / 2 + Int64(random.next() % UInt64(interval.nanoseconds)))
            }
        case .crash(let index):
            stop(members[index], crash: true)
            queue.push(.restart(index), at: now + 500_000_000 + Int64(random.next() % 2_000_000_000))
        case .removed(let index):
            stop(members[index], crash: false)
            members[index].removed = true
        case .undoAdd(let index):
            undoAdd(members[index])
        case .restart(let index):
            try? start(members[index])
        case .resume(let index):
            members[index].paused = false
        case .heal:
            network.heal()
        }
    }

    /// Runs turns of every member with inputs waiting until none has any.
    private func settle() {
        var progressed = true
        while progressed {
            progressed = false
            for member in members where member.isUp {
                guard let core = member.core, core.raftLoop.hasInputs else { continue }
                runTurn(member, core: core, tick: false)
                progressed = true
            }
        }
        pollWatches()
    }

    /// One turn of a member's node loop and applier; what it sent leaves after its fsyncs.
    private func runTurn(_ member: Member, core: MemberCore, tick: Bool) {
        member.disk.pendingLatency = .zero
        core.raftLoop.turn(now: base + .nanoseconds(now), tick: tick)
        if core.raftLoop.persistFailed {
            // The process died in the middle of a WAL save: nothing after it happened. It takes no
            // more turns and is stopped by the next event (the caller still holds its parts).
            pendingSends.removeAll()
            member.paused = true
            queue.push(.crash(member.index), at: now)
            return
        }
        core.applier.applyQueued()
        let departure = now + member.disk.pendingLatency.nanoseconds
        for send in pendingSends {
            guard let to = members.firstIndex(where: { $0.id == UInt64(send.to) }) else { continue }
            if let arrival = network.route(from: send.from, to: to, channel: send.channel, now: departure, random: &random) {
                queue.push(.deliver(Delivery(from: send.from, to: to, channel: send.channel, payload: send.payload,
                                             incarnation: members[to].incarnation)), at: arrival)
            }
        }
        pendingSends.removeAll(keepingCapacity: true)
    }

    /// A member refused a peer message from member `id` as implausible.
    func peerMessageRefused(from id: UInt64) {
        if !removalSubjects.contains(id) { report.refusedPeerMessages += 1 }
    }

    /// Called by a member's links during its turn.
    func outbox(from: Int, to peer: UInt64, channel: PeerChannel, payload: [UInt8]) {
        pendingSends.append((from, Int(peer), channel, payload))
    }

    // MARK: - Members

    private func start(_ member: Member) throws {
        guard member.core == nil, !member.removed else { return }
        member.incarnation += 1
        let links = SimulatedLinks(member: member.index, simulation: self)
        let record = member.record
        let identity = Identity(name: record.name, memberID: record.id, clusterID: clusterID, joinedMembers: member.joinedMembers)
        member.links = links
        member.core = try MemberCore(
            config: config, identity: identity, identityPath: member.directory + "/identity.json",
            bootstrapMembers: member.started || member.joinedMembers != nil ? nil : initialMembers, memberDir: member.directory, transport: links, inbox: PeerInbox(),
            walFileSystem: member.disk, walSegmentBytes: 256 << 10, storeOptions: Self.storeOptions, raftSeed: options.seed ^ record.id, logger: logger, onRemoved: {})
        member.started = true
        member.paused = false
        member.disk.failNextSync = false
        openTruthStream(member)
    }

    /// LMDB commits without fsync in the simulation: its files live in the page cache, which a
    /// simulated crash (of the process, not the machine) keeps. The WAL's disk is the simulated one.
    private static var storeOptions: StoreOptions {
        var options = StoreOptions()
        options.noSync = true
        options.quotaBytes = 256 << 20
        return options
    }

    /// Stops a member: a crash loses what its WAL did not sync; requests waiting on it get no answer.
    private func stop(_ member: Member, crash: Bool) {
        guard let core = member.core else { return }
        member.truthStream?.close()
        member.truthStream = nil
        if watch?.member == member.index {
            watch?.stream.close()
            watch = nil
        }
        core.failWaiting()
        report.snapshotsInstalled += core.applier.snapshotsInstalled
        member.core = nil
        member.links = nil
        weak let store = core.store
        _ = consume core
        precondition(store == nil, "a stopped member's store is still referenced: LMDB would be opened twice")
        if crash { member.disk.crash() }
    }

    // MARK: - Faults

    private func injectFault() {
        let live = liveMembers
        let member = live[Int(random.next() % UInt64(live.count))]
        let index = member.index
        let pause = Int64(500_000_000 + random.next() % 2_500_000_000)
        switch random.next() % 9 {
        case 8:
            changeMembership()
        case 7:
            guard member.core != nil else { return }
            member.disk.failNextSync = true
            count("crash in a WAL save")
        case 0, 1:
            guard member.core != nil else { return }
            stop(member, crash: true)
            queue.push(.restart(index), at: now + pause)
            count("crash")
        case 2:
            guard member.isUp else { return }
            member.paused = true
            queue.push(.resume(index), at: now + pause)
            count("pause")
        case 3:
            // A random split of the members into two sides.
            let side = Set(members.indices.filter { _ in random.next() % 2 == 0 })
            for a in members.indices { for b in members.indices where a != b && side.contains(a) != side.contains(b) { network.cut.insert([a, b]) } }
            queue.push(.heal, at: now + pause)
            count("partition")
        case 4:
            // One way only: `index` hears nobody, or nobody hears it.
            let inbound = random.next() % 2 == 0
            for other in members.indices where other != index { network.cut.insert(inbound ? [other, index] : [index, other]) }
            queue.push(.heal, at: now + pause)
            count("one-way partition")
        case 5:
            network.loss = Double(random.next() % 40) / 100
            network.reorder = true
            queue.push(.heal, at: now + pause)
            count("loss and reorder")
        default:
            network.latency = 20_000_000...200_000_000
            network.reorder = random.next() % 2 == 0
            queue.push(.heal, at: now + pause)
            count("delay")
        }
        if options.verbose { print(String(format: "%8.3f s  fault on m%d", Double(now) / 1e9, index)) }
        if random.next() % 4 == 0 { compact() }
    }

    private func count(_ fault: String) { report.faults[fault, default: 0] += 1 }

    /// Adds a member (when the cluster has fewer than five) or removes one (when it has more than
    /// three), through a running member, as an operator would with `member add` / `member remove`:
    /// a new member starts once the change is applied; a removed one is stopped then. One change at
    /// a time; a change that gets no answer is undone (an added member that never joined is removed).
    private func changeMembership() {
        let live = liveMembers
        guard !changingMembership, let proposer = live.first(where: { $0.isUp }), let core = proposer.core else { return }
        let add = live.count < 5 && (live.count == 3 || random.next() % 2 == 0)
        let subject: Member
        if add {
            guard let slot = try? addSlot(Self.record(members.count)) else { return }
            subject = slot
        } else {
            subject = live[Int(random.next() % UInt64(live.count))]
        }
        changingMembership = true
        let subjectIndex = subject.index
        if !add { removalSubjects.insert(subject.id) }
        count(add ? "member add" : "member remove")
        let deadline = base + .nanoseconds(now + 5_000_000_000)
        core.proposeMemberChange(add: add, record: subject.record, requestID: newRequestID(), deadline: deadline) { [self] result in
            changingMembership = false
            switch result {
            case .success(let after):
                if add {
                    members[subjectIndex].joinedMembers = after.filter { $0.removed != true }
                    queue.push(.restart(subjectIndex), at: now + 1_000_000)
                } else {
                    queue.push(.removed(subjectIndex), at: now)
                }
            case .failure:
                // No answer: the change may or may not be in the log. Remove the subject either way.
                removalSubjects.insert(members[subjectIndex].id)
                queue.push(.removed(subjectIndex), at: now)
                if add { queue.push(.undoAdd(subjectIndex), at: now + 1_000_000_000) }
            }
        }
    }

    /// Takes a member that was added but never joined out of the configuration, if it got in.
    private func undoAdd(_ member: Member) {
        guard !changingMembership, let proposer = liveMembers.first(where: { $0.isUp }), let core = proposer.core else {
            queue.push(.undoAdd(member.index), at: now + 1_000_000_000)
            return
        }
        changingMembership = true
        let index = member.index
        core.proposeMemberChange(add: false, record: member.record, requestID: newRequestID(), deadline: base + .nanoseconds(now + 5_000_000_000)) { [self] result in
            changingMembership = false
            if case .failure = result { queue.push(.undoAdd(index), at: now + 1_000_000_000) }
        }
    }

    /// Compacts history up to what the watch and the run's record of changes have seen.
    private func compact() {
        let revision = min(truthRevision, watchedRevision) - 5
        guard revision > 1, let member = members.first(where: { $0.isUp }), let core = member.core else { return }
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        try? core.propose(.compaction(request), requestID: newRequestID(), deadline: base + .nanoseconds(now + 5_000_000_000)) { _ in }
        report.compactions += 1
    }

    private func healAll() {
        network.heal()
        for member in members {
            if member.core == nil { try? start(member) }
            member.paused = false
        }
    }

    // MARK: - Clients

    private func newRequestID() -> UInt64 {
        nextRequestID += 1
        return 0x51_0000_0000_0000 | nextRequestID
    }

    private func issue(_ client: Int) {
        guard clients[client].inFlight == nil, issued < options.operations else { return }
        let request = randomOperation(client: client, operation: clients[client].issued, using: &random)
        send(request, client: client)
        issued += 1
    }

    /// Sends `request` for `client` to its member (another one if that is down).
    private func send(_ request: EtcdModel.Request, client: Int) {
        if members[clients[client].member].core == nil {
            let up = members.indices.filter { members[$0].core != nil }
            guard !up.isEmpty else {
                queue.push(.issue(client: client), at: now + 100_000_000)
                issued -= 1
                return
            }
            clients[client].member = up[Int(random.next() % UInt64(up.count))]
        }
        let operation = clients[client].issued
        clients[client].issued += 1
        clients[client].inFlight = (operation, request, now)
        queue.push(.clientTimeout(client: client, operation: operation), at: now + 3_000_000_000)
        let member = members[clients[client].member]
        guard let core = member.core else { return }
        let deadline = base + .nanoseconds(now + 2_500_000_000)
        let write: KVWrite
        switch request {
        case .get(let key):
            core.linearizableRead(deadline: deadline) { [self] result in
                guard clients[client].inFlight?.operation == operation else { return }
                guard case .success = result, let answer = try? core.store.range(RangeRequest(key: Array(key.utf8))) else {
                    return finish(client, output: nil)
                }
                finish(client, output: .get(revision: answer.revision, answer.kvs.first.map(Self.keyValue)))
            }
            return
        case .put(let key, let value):
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data(value.utf8)
            write = .put(put)
        case .delete(let key):
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = Data(key.utf8)
            write = .deleteRange(delete)
        case .txn(let compares, let success, let failure):
            write = .txn(HistoryRecorder.txnRequest(compares: compares, success: success, failure: failure))
        }
        do {
            try core.propose(write, requestID: newRequestID(), deadline: deadline) { [self] result in
                guard clients[client].inFlight?.operation == operation else { return }
                guard case .success(.txn(let txn)) = result else { return finish(client, output: nil) }
                finish(client, output: Self.response(to: request, txn))
            }
        } catch {
            finish(client, output: nil)
        }
    }

    /// Records the client's operation in flight with `output` (nil: no answer) and schedules its next.
    private func finish(_ client: Int, output: EtcdModel.Response?) {
        guard let inFlight = clients[client].inFlight else { return }
        clients[client].inFlight = nil
        if output != nil || !inFlight.request.isRead {
            history.append(.init(client: client, input: inFlight.request, output: output, call: inFlight.call, returned: output == nil ? nil : now))
        }
        if output == nil {
            // A client that got no answer tries another member next time.
            clients[client].member = Int(random.next() % UInt64(members.count))
        }
        queue.push(.issue(client: client), at: now + 1_000 + Int64(random.next() % 2_000_000))
    }

    /// A final linearizable read of `key` through some member, retried until it is answered.
    private func finalRead(_ key: String) throws {
        let client = clients.count
        clients.append(Client(member: 0))
        for attempt in 0..<20 {
            clients[client].member = attempt % members.count
            send(.get(key), client: client)
            while clients[client].inFlight != nil, step() {}
            if history.last?.client == client, history.last?.output != nil { return }
        }
        throw SimulationError.noProgress("a final read of \(key)")
    }

    private static func keyValue(_ kv: MVCC.KeyValue) -> EtcdModel.KeyValue {
        .init(value: String(decoding: kv.value, as: UTF8.self), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version)
    }

    private static func response(to request: EtcdModel.Request, _ txn: TxnResult) -> EtcdModel.Response? {
        switch request {
        case .put: return .put(revision: txn.revision)
        case .delete:
            guard case .deleteRange(let deleted)? = txn.responses.first else { return nil }
            return .delete(revision: txn.revision, deleted: deleted.deleted)
        case .txn:
            return .txn(revision: txn.revision, succeeded: txn.succeeded, results: txn.responses.map { response in
                switch response {
                case .range(let range): .get(range.kvs.first.map(keyValue))
                case .deleteRange(let delete): .delete(deleted: delete.deleted)
                case .put, .txn: .put
                }
            })
        case .get: return nil
        }
    }

    // MARK: - Watches

    /// The record of every change: a watch of every key on each running member, from the first
    /// revision not yet recorded.
    private func openTruthStream(_ member: Member) {
        guard let core = member.core else { return }
        let stream = core.store.openWatchStream()
        _ = try? stream.create(WatchRequest(key: Self.watchKey, rangeEnd: Self.watchEnd, startRevision: truthRevision + 1))
        member.truthStream = stream
    }

    /// The client's watch, on some running member, resuming after the last revision it delivered.
    private func openWatch() {
        let up = members.filter { $0.core != nil && !$0.paused }
        guard watch == nil, !up.isEmpty, let core = up[Int(random.next() % UInt64(up.count))].core else { return }
        let stream = core.store.openWatchStream()
        _ = try? stream.create(WatchRequest(key: Self.watchKey, rangeEnd: Self.watchEnd, startRevision: watchedRevision + 1))
        watch = (members.firstIndex { $0.core === core }!, stream)
    }

    private func pollWatches() {
        for member in members where member.isUp {
            guard let stream = member.truthStream else { continue }
            while case .message(let message) = stream.poll() {
                guard case .events(_, let events, _) = message else { continue }
                // A revision is recorded whole, from the first message that carries it.
                var recording: Int64?
                for event in events {
                    if event.kv.modRevision > truthRevision {
                        recording = event.kv.modRevision
                        truthRevision = event.kv.modRevision
                    }
                    if event.kv.modRevision == recording { truth.append(WatchEvent(event)) }
                }
            }
        }
        if watch == nil { openWatch() }
        guard let (index, stream) = watch, members[index].isUp else { return }
        while case .message(let message) = stream.poll() {
            guard case .events(_, let events, _) = message, !events.isEmpty else { continue }
            watched.append(events.map(WatchEvent.init))
            watchedRevision = events.last!.kv.modRevision
        }
    }

    // MARK: - The end

    /// Runs until every member has applied the same index and reached the same revision.
    private func waitForAgreement() throws {
        let deadline = now + 60_000_000_000
        while now < deadline {
            try drain(for: 100_000_000)
            let live = liveMembers
            let cores = live.compactMap(\.core)
            let revisions = Set(cores.map(\.store.currentRevision))
            let applied = Set(cores.map(\.applier.appliedIndex))
            if cores.count == live.count, revisions.count == 1, applied.count == 1,
               truthRevision == revisions.first!, watchedRevision == revisions.first! || revisions.first! == 1 {
                return
            }
        }
        throw SimulationError.noProgress("the healed members agreeing (revisions \(members.compactMap(\.core).map(\.store.currentRevision)), record \(truthRevision), watch \(watchedRevision))")
    }

    private func check() throws {
        let live = liveMembers
        let final = live[0].core!.store.currentRevision
        let hashes = try live.map { try $0.core!.store.hashKV(revision: final).hash }
        report.verdict = HistoryVerdict(history: history, truth: truth, finalRevision: final, watched: watched,
                                        watchSpec: .init(key: "k", rangeEnd: "l", startRevision: 1), hashes: hashes)
        report.virtualSeconds = Double(now) / 1e9
        report.messages = network.sent
        report.droppedMessages = network.dropped
        for member in members {
            report.walSyncs += member.disk.syncs
            report.lostWALWrites += member.disk.lostWrites
            report.tornWALWrites += member.disk.tornWrites
        }
        var digest = TraceDigest()
        for operation in history { digest.add("\(operation.client) \(operation.input) \(String(describing: operation.output)) \(operation.call) \(operation.returned ?? -1)") }
        digest.add("\(final) \(hashes) \(report.faults.sorted { $0.key < $1.key })")
        report.trace = digest.value
    }
}

/// Why a simulation could not finish.
public enum SimulationError: Error, CustomStringConvertible {
    case noProgress(String)

    public var description: String {
        switch self {
        case .noProgress(let what): "the simulated cluster made no progress towards \(what)"
        }
    }
}

extension EtcdModel.Request {
    var isRead: Bool {
        if case .get = self { return true }
        return false
    }
}

extension WatchEvent {
    /// A watch event of the store.
    init(_ event: MVCC.Event) {
        self.init(kind: event.kind == .delete ? .delete : .put, key: String(decoding: event.kv.key, as: UTF8.self),
                  value: event.kind == .delete ? "" : String(decoding: event.kv.value, as: UTF8.self), revision: event.kv.modRevision,
                  previousValue: event.prevKV.map { String(decoding: $0.value, as: UTF8.self) })
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

/// FNV-1a over the run's record.
struct TraceDigest {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ text: String) {
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
    }
}
