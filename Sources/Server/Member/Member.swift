import EtcdProto
import Foundation
import Logging
import MVCC
import WAL

/// One setcd member: its store, its write-ahead log and the loop that applies writes, plus the
/// housekeeping (lease expiry, auto compaction) that proposes writes of its own.
public final class Member: Sendable {
    public let config: ServerConfig
    let identity: Identity
    let store: MVCCStore
    let applyLoop: ApplyLoop
    let term: UInt64
    let alarms = Alarms()
    let metrics = MemberMetrics()
    let logger: Logger
    /// The etcd version this member reports (Kubernetes enables features by it).
    static let version = "3.5.17"
    static let clusterVersion = "3.5.0"
    let startedAt = ContinuousClock.now

    /// Opens (or creates) the member's data dir, replays its WAL and starts applying.
    public init(config: ServerConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let dataDir = config.resolvedDataDir
        let memberDir = dataDir + "/member"
        let fileManager = FileManager.default
        let identityPath = memberDir + "/identity.json"
        let identity: Identity
        if fileManager.fileExists(atPath: identityPath) {
            // As etcd: an existing data dir wins over the --initial-* flags.
            identity = try Identity.load(from: identityPath)
            logger.info("restarting member from existing data dir", metadata: ["data-dir": "\(dataDir)"])
        } else {
            try fileManager.createDirectory(atPath: memberDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            identity = Identity.new(config: config)
            try identity.save(to: identityPath)
        }
        self.identity = identity
        var storeOptions = StoreOptions()
        storeOptions.quotaBytes = config.resolvedQuota
        store = try MVCCStore(path: memberDir + "/kv.mdb", options: storeOptions)
        let (wal, contents) = try WriteAheadLog.open(directory: memberDir + "/wal")
        // A restart is a new term, as a new election would make it.
        term = (contents.hardState?.term ?? 1) + 1
        applyLoop = try ApplyLoop(wal: wal, contents: contents, store: store, term: term, memberID: identity.memberID,
                                  releaseEvery: config.snapshotCount, metrics: metrics, logger: logger)
        applyLoop.start()
    }

    /// Stops applying; waiting proposals finish first.
    public func stop() {
        applyLoop.stop()
    }

    /// A response header at `revision` (the current one by default).
    func header(revision: Int64? = nil) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = identity.clusterID
        header.memberID = identity.memberID
        header.revision = revision ?? store.currentRevision
        header.raftTerm = term
        return header
    }

    /// Proposes a write and returns its result, or throws etcd's error for a failed one. While the
    /// NOSPACE alarm is raised, writes that add data are refused.
    func propose(_ proposal: Proposal) async throws -> OperationResult {
        if alarms.noSpace && proposal.addsData { throw EtcdError.noSpace }
        let data = try proposal.encoded()
        // As etcd, the limit applies to the request as it is written to the log.
        if data.count > config.maxRequestBytes { throw EtcdError.requestTooLarge }
        let result = try await applyLoop.propose(proposal, encoded: data)
        if case .failure(let error) = result {
            metrics.proposalsFailed.increment()
            if error == .noSpace { raiseNoSpace() }
            throw EtcdError.from(error)
        }
        if proposal.addsData && store.exceeds(quota: config.resolvedQuota) { raiseNoSpace() }
        return result
    }

    private func raiseNoSpace() {
        if !alarms.noSpace {
            logger.warning("backend quota exceeded; raising NOSPACE alarm", metadata: ["quota": "\(config.resolvedQuota)"])
            alarms.activate(memberID: identity.memberID, alarm: .nospace)
        }
    }

    /// The member's metrics in Prometheus' text format.
    func metricsExposition() -> [UInt8] {
        let sizes = store.sizes()
        return metrics.exposition(store: .init(
            hasLeader: true, isLeader: true, totalBytes: sizes.total, inUseBytes: sizes.inUse,
            revision: store.currentRevision, compactRevision: store.compactRevision))
    }

    /// This member as etcd's Member message.
    var memberMessage: Etcdserverpb_Member {
        var member = Etcdserverpb_Member()
        member.id = identity.memberID
        member.name = identity.name
        member.peerUrls = identity.peerURLs
        member.clientUrls = identity.clientURLs
        return member
    }

    // MARK: - Housekeeping

    /// Revokes expired leases until cancelled (etcd's lessor revoke loop runs every 500 ms).
    func runLeaseExpiry() async {
        var inFlight = Set<Int64>()
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            for id in store.lessor.expired() where !inFlight.contains(id) {
                inFlight.insert(id)
                var request = Etcdserverpb_LeaseRevokeRequest()
                request.id = id
                _ = try? await propose(.leaseRevoke(request))
            }
            inFlight = inFlight.filter { store.lessor.contains($0) }
        }
    }

    /// Compacts history as `--auto-compaction-mode`/`--auto-compaction-retention` ask, until cancelled.
    func runAutoCompaction() async {
        guard let retention = AutoCompaction(mode: config.autoCompactionMode, retention: config.autoCompactionRetention) else { return }
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
            guard target > store.compactRevision, target > 0 else { continue }
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

    init?(mode: String, retention: String) {
        if mode == "revision" {
            guard let keep = Int64(retention), keep > 0 else { return nil }
            self = .revisions(keep)
            return
        }
        if let hours = Double(retention) {
            guard hours > 0 else { return nil }
            self = .period(.milliseconds(Int64(hours * 3_600_000)))
            return
        }
        guard let duration = parseGoDuration(retention), duration > .zero else { return nil }
        self = .period(duration)
    }

    var checkInterval: Duration {
        switch self {
        case .revisions: return .seconds(300)
        // etcd checks a tenth of the period for periods under an hour, else every hour.
        case .period(let period): return period < .seconds(3600) ? period / 10 : .seconds(3600)
        }
    }
}

/// Parses a Go duration string such as `1h30m`, `90s` or `500ms`.
func parseGoDuration(_ text: String) -> Duration? {
    let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
    var rest = Substring(text)
    var seconds = 0.0
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
        let number = rest.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(number) else { return nil }
        rest = rest.dropFirst(number.count)
        guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else { return nil }
        rest = rest.dropFirst(unit.0.count)
        seconds += value * unit.1
    }
    return .milliseconds(Int64(seconds * 1000))
}
