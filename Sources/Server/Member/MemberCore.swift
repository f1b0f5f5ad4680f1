import EtcdProto
import Foundation
import Logging
import MVCC
import Raft
import WAL

/// The parts of a member that keep and apply the log — store, WAL, raft node loop, applier, and the
/// state they share — opened from a member directory, without threads, network or clock of their own.
///
/// `Member` starts the node loop and the applier on their threads and connects them to the real peer
/// transport; the whole-cluster simulation drives the same parts from one thread (`RaftLoop.turn`,
/// `Applier.applyQueued`) on a simulated network and disk. Both go through this one recovery path.
package final class MemberCore: Sendable {
    package let store: MVCCStore
    let membership: Membership
    let waits: Waits
    let reads: ReadBarrier
    package let applier: Applier
    package let raftLoop: RaftLoop
    /// Where peers' payloads are delivered.
    package let inbox: PeerInbox
    let alarms = Alarms()
    /// Users, roles and tokens.
    let auth: AuthStore
    /// The v2 key tree.
    let v2: V2Keys
    let metrics = MemberMetrics()

    /// Opens the store and the WAL in `memberDir`, rebuilds the raft log (writing the bootstrap entries
    /// that add `bootstrapMembers` on a new cluster's first start), finishes a snapshot install a crash
    /// interrupted, and wires the parts together. Writes `identity` to `identityPath` once the data dir
    /// is complete, if it is not there yet.
    /// - Parameters:
    ///   - transport: how messages reach peers; every live member in the store is added to it.
    ///   - walFileSystem: the WAL's disk (the real file system, or a simulated one).
    ///   - walSegmentBytes: the size of a WAL segment file.
    ///   - raftSeed: seeds the node's election timeouts.
    package init(config: ServerConfig, identity: Identity, identityPath: String, bootstrapMembers: [MemberRecord]?, memberDir: String,
                 transport: any PeerLinks, inbox: PeerInbox, walFileSystem: any WALFileSystem = PosixFileSystem(), walSegmentBytes: Int = 64 << 20,
                 storeOptions: StoreOptions, raftSeed: UInt64, logger: Logger, onRemoved: @escaping @Sendable () -> Void) throws {
        self.inbox = inbox
        store = try MVCCStore(path: memberDir + "/kv.mdb", options: storeOptions)
        let (wal, contents) = try WriteAheadLog.open(directory: memberDir + "/wal", segmentSize: walSegmentBytes, fileSystem: walFileSystem)
        let storage = MemoryStorage()
        var snapshot = SnapshotMetadata()
        var walEntries = contents.entries
        var walHardState = contents.hardState
        if let marker = contents.snapshot {
            snapshot = try SnapshotMetadataFile.load(from: RaftLoop.snapshotMetadataPath(memberDir: memberDir, index: marker.index)).metadata
            try storage.applySnapshot(Snapshot(metadata: snapshot))
            if store.consistentIndex < snapshot.index {
                // A crash came between persisting a received snapshot and installing it.
                let file = RaftLoop.receivedSnapshotPath(memberDir: memberDir, index: snapshot.index)
                logger.info("installing the received snapshot", metadata: ["index": "\(snapshot.index)"])
                try store.restore(fromSnapshotAt: file)
                try store.sync()
                unlink(file)
            }
        } else if walEntries.isEmpty && walHardState == nil, let bootstrapMembers {
            let entries = bootstrapMembers.sorted { $0.id < $1.id }.enumerated().map { offset, record in
                Entry(term: 1, index: UInt64(offset + 1), kind: .confChange,
                      data: ConfChange(type: .addNode, nodeID: record.id, context: withUnsafeBytes(of: UInt64(0), Array.init) + record.encoded()).encoded())
            }
            walEntries = entries.map { WALEntry(term: $0.term, index: $0.index, data: RaftLoop.walData(of: $0)) }
            walHardState = WALHardState(term: 1, vote: 0, commit: UInt64(entries.count))
            try wal.save(entries: walEntries, hardState: walHardState)
        }
        // Store files of snapshots received but never installed, or installed before a crash.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: memberDir + "/snap")) ?? [] {
            if name.hasSuffix(".part") {
                unlink(memberDir + "/snap/" + name)
            } else if name.hasSuffix(".mdb"), let index = UInt64(name.prefix(16), radix: 16), index <= store.consistentIndex {
                unlink(memberDir + "/snap/" + name)
            }
        }
        if !FileManager.default.fileExists(atPath: identityPath) {
            // Written last: a data dir without it is an unfinished first start and begins again.
            try identity.save(to: identityPath)
        }
        try storage.append(try walEntries.filter { $0.index > snapshot.index }.map(RaftLoop.entry(fromWAL:)))
        if let hardState = walHardState {
            storage.setHardState(HardState(term: hardState.term, vote: hardState.vote, commit: max(hardState.commit, snapshot.index)))
        }

        var records = Applier.loadMembers(from: store)
        if records.isEmpty { records = bootstrapMembers ?? identity.joinedMembers ?? [] }
        membership = Membership(records)
        for record in records where record.id != identity.memberID && record.removed != true {
            if let url = record.peerURLs.first, let address = hostAndPort(ofURL: url) {
                transport.addPeer(record.id, host: address.host, port: address.port)
            }
        }
        waits = Waits(memberID: identity.memberID)
        reads = ReadBarrier()
        alarms.replaceAll(Applier.loadAlarms(from: store))
        auth = AuthStore(state: Applier.loadAuth(from: store), tokenTTL: .seconds(config.authTokenTTL))
        v2 = V2Keys(loadingFrom: store)
        applier = Applier(store: store, membership: membership, alarms: alarms, auth: auth, v2: v2, transport: transport, waits: waits, reads: reads,
                          localID: identity.memberID, snapshot: snapshot, snapshotCount: config.snapshotCount, metrics: metrics, logger: logger,
                          onRemoved: onRemoved)
        var raftConfig = RaftConfig(id: identity.memberID)
        raftConfig.heartbeatTick = 1
        raftConfig.electionTick = max(config.electionTimeout / max(config.heartbeatInterval, 1), 2)
        raftConfig.applied = snapshot.index
        raftConfig.maxSizePerMsg = 1 << 20
        raftConfig.maxInflightMsgs = 512
        raftConfig.maxCommittedSizePerReady = 64 << 20
        raftConfig.randomSeed = raftSeed
        let node = try RaftNode(config: raftConfig, storage: storage)
        raftLoop = RaftLoop(node: node, storage: storage, wal: wal, applier: applier, transport: transport, store: store, waits: waits,
                            reads: reads, config: config, memberDir: memberDir, metrics: metrics, logger: logger)
        applier.raftLoop = raftLoop
        inbox.attach(raftLoop, memberDir: memberDir, logger: logger, localID: identity.memberID, membership: membership)
    }
}

/// A KV write as a simulation proposes it (the server's API layer builds the same proposals).
package enum KVWrite: Sendable {
    case put(Etcdserverpb_PutRequest)
    case deleteRange(Etcdserverpb_DeleteRangeRequest)
    case txn(Etcdserverpb_TxnRequest)
    case compaction(Etcdserverpb_CompactionRequest)

    var proposal: Proposal {
        switch self {
        case .put(let request): .put(request)
        case .deleteRange(let request): .deleteRange(request)
        case .txn(let request): .txn(request)
        case .compaction(let request): .compaction(request)
        }
    }
}

extension MemberCore {
    /// Proposes `write` under `requestID` and calls `completion` once this member has applied it, or
    /// with etcd's timeout once `deadline` passes (the loop's ticks expire it).
    package func propose(_ write: KVWrite, requestID: UInt64, deadline: ContinuousClock.Instant,
                         completion: @escaping @Sendable (Result<OperationResult, any Error>) -> Void) throws {
        let data = try write.proposal.encoded(requestID: requestID)
        waits.register(requestID, deadline: deadline) { outcome in
            completion(outcome.flatMap { applied in
                guard case .operation(let result) = applied else { return .failure(EtcdError.corrupt) }
                return .success(result)
            })
        }
        raftLoop.post(.proposal(data))
    }

    /// Calls `completion` once a read on this member would be linearizable (a ReadIndex round, then
    /// the applied index reaching it), or with etcd's timeout once `deadline` passes.
    package func linearizableRead(deadline: ContinuousClock.Instant, completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        reads.enqueue(deadline: deadline, resume: completion)
        raftLoop.wake()
    }
}

extension MemberCore {
    /// Proposes adding `record` as a voter (`add`) or removing it, and calls `completion` with the
    /// members once this member has applied the change, or with etcd's timeout after `deadline`.
    package func proposeMemberChange(add: Bool, record: MemberRecord, requestID: UInt64, deadline: ContinuousClock.Instant,
                                     completion: @escaping @Sendable (Result<[MemberRecord], any Error>) -> Void) {
        let change = ConfChange(type: add ? .addNode : .removeNode, nodeID: record.id,
                                context: withUnsafeBytes(of: requestID.bigEndian, Array.init) + record.encoded())
        waits.register(requestID, deadline: deadline) { outcome in
            completion(outcome.flatMap { applied in
                guard case .members(let members) = applied else { return .failure(EtcdError.corrupt) }
                return .success(members)
            })
        }
        raftLoop.post(.confChange(change, requestID: requestID))
    }

    /// Fails every request and read waiting on this member (it is stopping).
    package func failWaiting() {
        waits.failAll(with: MemberStoppedError())
        reads.failAll(with: MemberStoppedError())
    }
}
