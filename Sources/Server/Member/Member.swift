import EtcdProto
import Foundation
import GRPCCore
import Logging
import MVCC
import Raft
import WAL

/// One setcd member: its store, its raft node loop and apply thread, its peer transport, plus the
/// housekeeping (lease expiry, auto compaction, publishing its attributes) that proposes writes of its own.
public final class Member: Sendable {
    public let config: ServerConfig
    let identity: Identity
    let store: MVCCStore
    let membership: Membership
    let transport: PeerTransport
    let waits: Waits
    let reads: ReadBarrier
    let applier: Applier
    let raftLoop: RaftLoop
    let alarms: Alarms
    /// Users, roles and tokens.
    let auth: AuthStore
    /// The v2 key tree (`--enable-v2`).
    let v2: V2Keys
    let metrics: MemberMetrics
    let logger: Logger
    /// The etcd version this member reports (Kubernetes enables features by it).
    static let version = "3.5.17"
    static let clusterVersion = "3.5.0"
    let startedAt = ContinuousClock.now
    /// Fires when this member is removed from the cluster; the runner then stops it.
    let removed: AsyncStream<Void>
    private let removedSink: AsyncStream<Void>.Continuation

    /// The most entries commit may run ahead of apply before writes are refused (etcd's
    /// `maxGapBetweenApplyAndCommitIndex`).
    static let maxApplyLag: UInt64 = 5000

    /// Opens (or creates) the member's data dir, rebuilds its raft log from the WAL and starts the node
    /// loop. A new member of a new cluster writes the bootstrap entries that add the initial members;
    /// a member joining an existing cluster asks the members it was told about who it is.
    public init(config: ServerConfig, logger: Logger) async throws {
        self.config = config
        self.logger = logger
        let dataDir = config.resolvedDataDir
        let memberDir = dataDir + "/member"
        let identityPath = memberDir + "/identity.json"
        var bootstrapMembers: [MemberRecord]?
        let identity: Identity
        if FileManager.default.fileExists(atPath: identityPath) {
            // As etcd: an existing data dir wins over the --initial-* flags.
            identity = try Identity.load(from: identityPath)
            guard identity.format == Identity.currentFormat else {
                throw ConfigError("data dir \(dataDir) was written by an older setcd; remove it or choose another --data-dir")
            }
            logger.info("restarting member from existing data dir", metadata: ["data-dir": "\(dataDir)", "member-id": "\(String(identity.memberID, radix: 16))"])
        } else {
            let initial = try MemberRecord.parseInitialCluster(
                config.initialCluster ?? "\(config.name)=\(config.initialAdvertisePeerURLs.joined(separator: ","))",
                clusterToken: config.initialClusterToken)
            guard let local = initial.first(where: { $0.name == config.name }) else {
                throw ConfigError("couldn't find local name \"\(config.name)\" in the initial cluster configuration")
            }
            guard Set(local.peerURLs) == Set(config.initialAdvertisePeerURLs) else {
                throw ConfigError("--initial-cluster has \(local.name)=\(local.peerURLs.joined(separator: ",")) but missing from --initial-advertise-peer-urls=\(config.initialAdvertisePeerURLs.joined(separator: ","))")
            }
            switch config.initialClusterState {
            case "new":
                bootstrapMembers = initial
                identity = Identity(format: Identity.currentFormat, name: config.name, memberID: local.id,
                                    clusterID: MemberRecord.computeClusterID(memberIDs: initial.map(\.id)))
            case "existing":
                let (clusterID, members) = try await Self.fetchMembers(from: initial.filter { $0.name != config.name }, logger: logger)
                guard let me = members.first(where: { Set($0.peerURLs) == Set(config.initialAdvertisePeerURLs) }) else {
                    throw ConfigError("error validating peerURLs: member with peer URLs \(config.initialAdvertisePeerURLs.joined(separator: ",")) is not in the cluster; add it first (member add)")
                }
                identity = Identity(format: Identity.currentFormat, name: config.name, memberID: me.id, clusterID: clusterID, joinedMembers: members)
            default:
                throw ConfigError("invalid --initial-cluster-state \"\(config.initialClusterState)\" (want new or existing)")
            }
            try FileManager.default.createDirectory(atPath: memberDir + "/snap", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        self.identity = identity

        var storeOptions = StoreOptions()
        storeOptions.quotaBytes = config.resolvedQuota
        var transportConfiguration = PeerTransport.Configuration(clusterID: identity.clusterID, localID: identity.memberID)
        transportConfiguration.maxMessageBytes = max(64 << 20, config.maxRequestBytes * 4)
        let inbox = PeerInbox()
        transport = PeerTransport(configuration: transportConfiguration, handler: { from, connection, channel, payload in
            inbox.receive(from: from, connection: connection, channel: channel, payload: payload)
        })
        (removed, removedSink) = AsyncStream.makeStream()
        let removedSink = removedSink
        let core = try MemberCore(config: config, identity: identity, identityPath: identityPath, bootstrapMembers: bootstrapMembers, memberDir: memberDir,
                                  transport: transport, inbox: inbox, storeOptions: storeOptions, raftSeed: UInt64.random(in: 0...UInt64.max),
                                  logger: logger, onRemoved: { removedSink.yield() })
        store = core.store
        membership = core.membership
        waits = core.waits
        reads = core.reads
        applier = core.applier
        raftLoop = core.raftLoop
        alarms = core.alarms
        auth = core.auth
        v2 = core.v2
        metrics = core.metrics
        applier.start()
        raftLoop.start()
    }

    /// Stops the node loop and the apply thread; requests still waiting fail.
    public func stop() {
        transport.shutdown()
        raftLoop.stop()
        applier.stop()
        waits.failAll(with: MemberStoppedError())
        reads.failAll(with: MemberStoppedError())
    }

    /// The latest Raft state (term, leader, indexes).
    var raftInfo: RaftInfo { raftLoop.info }

    /// Whether a leader is known.
    var hasLeader: Bool { raftInfo.leader != 0 }

    /// Whether this member leads.
    var isLeader: Bool { raftInfo.role == .leader }

    /// Whether this member is a learner (it serves only Status and serializable reads, as in etcd).
    var isLearner: Bool { membership.record(identity.memberID)?.isLearner ?? false }

    /// A response header at `revision` (the current one by default).
    func header(revision: Int64? = nil) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = identity.clusterID
        header.memberID = identity.memberID
        header.revision = revision ?? store.currentRevision
        header.raftTerm = raftInfo.term
        return header
    }

    /// Proposes a write and returns its result, or throws etcd's error for a failed one. While the
    /// NOSPACE alarm is raised, writes that add data are refused.
    func propose(_ proposal: Proposal) async throws -> OperationResult {
        if alarms.noSpace && proposal.addsData { throw EtcdError.noSpace }
        let outcome = try await proposeEntry(proposal)
        if case .rejected(let error) = outcome { throw error.rpcError }
        guard case .operation(let result) = outcome else { throw EtcdError.corrupt }
        if case .failure(let error) = result {
            metrics.proposalsFailed.increment()
            if error == .noSpace { await raiseNoSpace() }
            throw EtcdError.from(error)
        }
        if proposal.addsData && store.exceeds(quota: config.resolvedQuota) { await raiseNoSpace() }
        return result
    }

    /// Proposes any entry and waits until this member has applied it.
    func proposeEntry(_ proposal: Proposal, timeout: Duration? = nil) async throws -> ApplyOutcome {
        let info = raftInfo
        if info.commitIndex > store.consistentIndex + Self.maxApplyLag { throw EtcdError.tooManyRequests }
        let requestID = waits.newID()
        let data = try proposal.encoded(requestID: requestID)
        // As etcd, the limit applies to the request as it is written to the log.
        if data.count > config.maxRequestBytes { throw EtcdError.requestTooLarge }
        return try await waits.wait(for: requestID, timeout: timeout ?? config.requestTimeout) {
            raftLoop.post(.proposal(data))
        }
    }

    /// Restarts a lease's TTL on every member and returns the TTL (0 if the lease does not exist).
    ///
    /// A renewal forwarded to a leader that then dies is lost without an answer; renewals are
    /// idempotent, so each attempt waits only an election timeout and a lost one is proposed again,
    /// until the usual request timeout. Otherwise a leader change would stall keep-alives long enough
    /// for short leases to expire.
    func renewLease(_ id: Int64) async throws -> Int64 {
        let deadline = ContinuousClock.now + config.requestTimeout
        while true {
            do {
                guard case .leaseTTL(let ttl) = try await proposeEntry(.leaseRenew(id: id), timeout: .milliseconds(config.electionTimeout)) else {
                    throw EtcdError.corrupt
                }
                return ttl
            } catch let error as RPCError where error.message == EtcdError.timeout.message && ContinuousClock.now < deadline && !Task.isCancelled {
                continue
            }
        }
    }

    /// Proposes a membership change and returns the members once this member has applied it.
    func proposeConfChange(_ type: ConfChange.ChangeType, record: MemberRecord) async throws -> [MemberRecord] {
        let requestID = waits.newID()
        let change = ConfChange(type: type, nodeID: record.id, context: withUnsafeBytes(of: requestID.bigEndian, Array.init) + record.encoded())
        guard case .members(let members) = try await waits.wait(for: requestID, timeout: config.requestTimeout, propose: {
            raftLoop.post(.confChange(change, requestID: requestID))
        }) else { throw EtcdError.corrupt }
        return members
    }

    /// Returns once a read at this moment is linearizable: the leader confirmed its leadership for a
    /// read index (batched with other reads) and this member has applied up to it.
    func linearizableReadBarrier() async throws {
        try await reads.wait(timeout: config.requestTimeout) { raftLoop.wake() }
    }

    /// Raises NOSPACE for this member through the log, so every member refuses writes that add data.
    private func raiseNoSpace() async {
        guard !alarms.noSpace else { return }
        logger.warning("backend quota exceeded; raising NOSPACE alarm", metadata: ["quota": "\(config.resolvedQuota)"])
        var request = Etcdserverpb_AlarmRequest()
        request.action = .activate
        request.memberID = identity.memberID
        request.alarm = .nospace
        _ = try? await proposeEntry(.alarm(request))
    }

    /// The member's metrics in Prometheus' text format.
    func metricsExposition() -> [UInt8] {
        let sizes = store.sizes()
        let info = raftInfo
        return metrics.exposition(store: .init(
            hasLeader: info.leader != 0, isLeader: info.role == .leader, totalBytes: sizes.total, inUseBytes: sizes.inUse,
            revision: store.currentRevision, compactRevision: store.compactRevision))
    }

    /// Asks the members at their peer URLs for the cluster id and member list (a member joining with
    /// `--initial-cluster-state existing`).
    static func fetchMembers(from peers: [MemberRecord], logger: Logger) async throws -> (clusterID: UInt64, members: [MemberRecord]) {
        for url in peers.flatMap(\.peerURLs) {
            guard let address = hostAndPort(ofURL: url) else { continue }
            do {
                let reply = try await PeerTransport.queryMembers(host: address.host, port: address.port)
                let decoded = try JSONDecoder().decode(MembersReply.self, from: Data(reply))
                return (decoded.clusterID, decoded.members)
            } catch {
                logger.warning("could not get the cluster's members", metadata: ["peer-url": "\(url)", "error": "\(error)"])
            }
        }
        throw ConfigError("cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs")
    }

    /// This member's answer to `queryMembers`.
    func membersReply() -> [UInt8] {
        Array((try? JSONEncoder().encode(MembersReply(clusterID: identity.clusterID, members: membership.all, removed: membership.removedIDs))) ?? Data())
    }

    // MARK: - Housekeeping

    /// Revokes expired leases until cancelled (etcd's lessor revoke loop runs every 500 ms).
    /// Only the leader revokes; every member's lessor learns of keep-alives through the log and is
    /// promoted (full TTLs again) when its member becomes leader.
    func runLeaseExpiry() async {
        var inFlight = Set<Int64>()
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard isLeader else {
                inFlight.removeAll()
                continue
            }
            for id in store.lessor.expired() where !inFlight.contains(id) {
                inFlight.insert(id)
                var request = Etcdserverpb_LeaseRevokeRequest()
                request.id = id
                _ = try? await propose(.leaseRevoke(request))
            }
            inFlight = inFlight.filter { store.lessor.contains($0) }
        }
    }

    /// Publishes this member's name and client URLs through the log once a leader is known, as etcd's
    /// `publish` does, retrying until they are applied.
    func runPublishAttributes() async {
        while !Task.isCancelled && !membership.isRemoved(identity.memberID) {
            if let record = membership.record(identity.memberID),
               record.name == config.name, record.clientURLs == config.advertiseClientURLs {
                return
            }
            if hasLeader {
                let update = MemberRecord(id: identity.memberID, name: config.name, peerURLs: [], clientURLs: config.advertiseClientURLs, isLearner: false)
                if (try? await proposeEntry(.memberAttributes(update))) != nil { continue }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A leader stops replicating to a member as soon as that member's removal is in its log, so a
    /// removed member may never apply its own removal: it may miss the entry (and lose its leader) or
    /// hold it uncommitted (and stop campaigning). After three seconds of either, this asks the other
    /// members (etcd's peers tell a removed member so), and fires `removed` if a member of the same
    /// cluster has applied this member's removal. A peer that merely does not know this member yet (it
    /// lags behind the member's addition) is no evidence.
    func runRemovalCheck() async {
        var doubtful = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let info = raftInfo
            doubtful = info.leader != 0 && info.inLatestConfig ? 0 : doubtful + 1
            guard doubtful >= 3 else { continue }
            for record in membership.all where record.id != identity.memberID {
                guard let url = record.peerURLs.first, let address = hostAndPort(ofURL: url),
                      let reply = try? await PeerTransport.queryMembers(host: address.host, port: address.port),
                      let decoded = try? JSONDecoder().decode(MembersReply.self, from: Data(reply)),
                      decoded.clusterID == identity.clusterID
                else { continue }
                if decoded.removed?.contains(identity.memberID) == true {
                    logger.warning("the cluster no longer lists this member", metadata: ["asked": "\(String(record.id, radix: 16))"])
                    removedSink.yield()
                    return
                }
                break
            }
        }
    }

    /// Compacts history as `--auto-compaction-mode`/`--auto-compaction-retention` ask, until cancelled.
    func runAutoCompaction() async {
        guard let retention = AutoCompaction(mode: config.autoCompactionMode, retention: config.autoCompactionRetention) else { return }
        // Only the leader compacts (as etcd's compactor); others keep their observations fresh.
        var observed: [(at: ContinuousClock.Instant, revision: Int64)] = []
        while !Task.isCancelled {
            try? await Task.sleep(for: retention.checkInterval)
            let now = ContinuousClock.now
            let current = store.currentRevision
            let target: Int64
            switch retention {
            case .revisions(let keep):
                target = current - keep
            case .period(let period):
                observed.append((now, current))
                guard let old = observed.last(where: { now - $0.at >= period }) else { continue }
                observed.removeAll { $0.at < old.at }
                target = old.revision
            }
            guard isLeader, target > store.compactRevision, target > 0 else { continue }
            var request = Etcdserverpb_CompactionRequest()
            request.revision = target
            do {
                _ = try await propose(.compaction(request))
                logger.info("auto compaction", metadata: ["revision": "\(target)"])
            } catch {
                logger.warning("auto compaction failed", metadata: ["revision": "\(target)", "error": "\(error)"])
            }
        }
    }
}

/// etcd's auto compaction policies.
enum AutoCompaction {
    /// Keep the last N revisions (checked every 5 minutes, as etcd).
    case revisions(Int64)
    /// Keep history for this long.
    case period(Duration)

    /// The policy `--auto-compaction-mode` and `--auto-compaction-retention` ask for, read as etcd reads
    /// them (a whole number is revisions, or hours in periodic mode; else a Go duration); nil when
    /// compaction is off. `ServerConfig.validate` has refused what etcd refuses.
    init?(mode: String, retention: String) {
        if let count = Int64(retention) {
            guard count > 0 else { return nil }
            if mode == "revision" {
                self = .revisions(count)
            } else {
                let (seconds, overflow) = count.multipliedReportingOverflow(by: 3600)
                self = .period(.seconds(overflow ? Int64.max : seconds))
            }
            return
        }
        guard mode != "revision", let nanoseconds = try? GoDurationParser.nanoseconds(retention), nanoseconds > 0 else { return nil }
        self = .period(.nanoseconds(nanoseconds))
    }

    var checkInterval: Duration {
        switch self {
        case .revisions: return .seconds(300)
        // etcd checks a tenth of the period for periods under an hour, else every hour.
        case .period(let period): return period < .seconds(3600) ? period / 10 : .seconds(3600)
        }
    }
}

