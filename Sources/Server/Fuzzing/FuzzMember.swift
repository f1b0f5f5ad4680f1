import EtcdProto
import Foundation
import Logging
import MVCC
import Raft
import Synchronization

/// A member for the fuzz targets that execute what they decode: the server's own recovery and wiring
/// (`MemberCore`: WAL, raft node loop, applier, MVCC on a real LMDB file in a temporary directory),
/// driven turn by turn from the fuzzer's thread, as the simulation drives its members. Requests go
/// through the API's checks, then the log and the applier, exactly as a client's would; peer payloads
/// through the peer inbox and the node loop's admission.
///
/// The member is one of three in its configuration (the other two never run), so that peer messages
/// from them reach a follower or candidate; `leading` makes it the only voter instead, so writes commit.
/// It is replaced by a fresh one every `lifetime` inputs so its files stay small.
final class FuzzMember: @unchecked Sendable {
    // @unchecked Sendable: used from the fuzzer's one thread only; the closures handed to the member's
    // waits run on that thread too (turns and applies happen there).
    static let localID: UInt64 = 0x0F0F_0001
    static let peerIDs: [UInt64] = [0x0F0F_0002, 0x0F0F_0003]
    private static let clusterID: UInt64 = 0xF022
    private static let lifetime = 2000

    private let leading: Bool
    private var core: MemberCore
    private var directory: String
    private var inputs = 0
    private var nextRequestID: UInt64 = 1
    private var nextLeaseID: Int64 = 1

    /// A member that leads a cluster of one (`leading`), or follows in a cluster of three.
    init(leading: Bool) throws {
        self.leading = leading
        (core, directory) = try Self.open(leading: leading)
        if leading { campaign() }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    private static func open(leading: Bool) throws -> (MemberCore, String) {
        let directory = NSTemporaryDirectory() + "setcd-fuzz-member-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "setcd-fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        var storeOptions = StoreOptions()
        storeOptions.noSync = true
        storeOptions.quotaBytes = 64 << 20
        let ids = leading ? [localID] : [localID] + peerIDs
        let members = ids.map { MemberRecord(id: $0, name: "f\($0)", peerURLs: ["http://f\($0):2380"], clientURLs: [], isLearner: false) }
        let core = try MemberCore(config: ServerConfig(), identity: Identity(name: "f", memberID: localID, clusterID: clusterID),
                                  identityPath: directory + "/identity.json", bootstrapMembers: members, memberDir: directory,
                                  transport: NoPeers(), inbox: PeerInbox(), walSegmentBytes: 1 << 20, storeOptions: storeOptions,
                                  raftSeed: 1, logger: logger, onRemoved: {})
        return (core, directory)
    }

    /// Ticks until this member, the only voter, leads.
    private func campaign() {
        for _ in 0..<200 where core.raftLoop.info.role != .leader { turn(tick: true) }
    }

    /// Counts an input; every `lifetime` inputs the member starts afresh.
    func beginInput() {
        inputs += 1
        guard inputs % Self.lifetime == 0, let fresh = try? Self.open(leading: leading) else { return }
        core.failWaiting()
        try? FileManager.default.removeItem(atPath: directory)
        (core, directory) = fresh
        if leading { campaign() }
    }

    /// One turn of the node loop and the applier.
    func turn(tick: Bool = false) {
        core.raftLoop.turn(now: .now, tick: tick)
        core.applier.applyQueued()
    }

    /// The store, for reads.
    var store: MVCCStore { core.store }

    /// Proposes `proposal` and drives the member until it is applied (or a few hundred turns pass, e.g.
    /// for a member that does not lead); returns what the applier answered.
    @discardableResult
    func propose(_ proposal: Proposal) -> ApplyOutcome? {
        let requestID = nextRequestID
        nextRequestID += 1
        guard let data = try? proposal.encoded(requestID: requestID) else { return nil }
        let answer = Mutex<ApplyOutcome?>(nil)
        core.waits.register(requestID, deadline: .now + .seconds(5)) { outcome in
            answer.withLock { $0 = try? outcome.get() }
        }
        core.raftLoop.post(.proposal(data))
        for _ in 0..<300 {
            turn()
            if let outcome = answer.withLock({ $0 }) { return outcome }
        }
        core.failWaiting()
        return nil
    }

    /// A lease id for a grant without one (etcd picks a random unused id; a counter keeps runs replayable).
    func newLeaseID() -> Int64 {
        defer { nextLeaseID += 1 }
        return nextLeaseID
    }

    /// Hands a peer's payload to the member as the transport would, from peer `sender` on `channel`,
    /// then lets the member act on it.
    func deliver(_ payload: [UInt8], from sender: UInt64, channel: PeerChannel) {
        _ = core.inbox.receive(from: sender, connection: sender, channel: channel, payload: payload)
        turn()
    }
}

/// The fuzz member's peers: none is reachable, so what it sends is dropped, as a lossy network would.
private struct NoPeers: PeerLinks {
    func send(_ payload: [UInt8], to peer: UInt64, on channel: PeerChannel) -> Bool { false }
    func addPeer(_ id: UInt64, host: String, port: Int) {}
    func removePeer(_ id: UInt64) {}
    func closeInbound(connection: UInt64) {}
}
