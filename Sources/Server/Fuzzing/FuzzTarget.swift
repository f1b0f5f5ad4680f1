import Crypto
import EtcdProto
import GRPCCore
import Foundation
import NIOCore
import Raft
import SwiftProtobuf
import WAL

/// setcd's decoders of untrusted bytes, as libFuzzer targets (`setcd-fuzz`): each takes any bytes and
/// must return — decoded, or refused with an error — without crashing, hanging or allocating without
/// bound. The committed corpora replay through them in the tests.
package enum FuzzTarget: String, CaseIterable, Sendable {
    /// A WAL segment file, as the newest segment or an older one (first byte).
    case wal
    /// Snapshot files: the SHA-256 trailer check of `snapshot restore`, and the JSON files of a data
    /// dir (snapshot metadata, identity, member records).
    case snapshot
    /// The peer port: frames (hello, raft messages, snapshot streams) and the raft messages and
    /// snapshot frames inside them, decoded; then the input delivered to a running member (a follower
    /// in a cluster of three) as a payload from a peer (first byte: which peer, which stream, a tick).
    case peer
    /// gRPC request messages (the first byte picks the type), decoded as the services decode them,
    /// checked as they check them, then executed on a running member that leads a cluster of one: KV
    /// reads and writes, txns, watch creation, lease grant, renewal and revocation, compaction, and
    /// log entries as the applier decodes them.
    case grpc
    /// v2 keys HTTP requests: method (first byte), URI with query string, and form body, parsed at the
    /// real time, then executed on a running member.
    case v2

    /// Runs one input.
    package func run(_ bytes: [UInt8]) {
        switch self {
        case .wal: Self.wal(bytes)
        case .snapshot: Self.snapshot(bytes)
        case .peer: Self.peer(bytes)
        case .grpc: Self.grpc(bytes)
        case .v2: Self.v2(bytes)
        }
    }

    private static func wal(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        _ = try? WriteAheadLog.readSegment(Array(bytes.dropFirst()), isLast: first & 1 == 0)
    }

    private static func snapshot(_ bytes: [UInt8]) {
        let path = NSTemporaryDirectory() + "setcd-fuzz-snapshot-\(getpid())"
        if FileManager.default.createFile(atPath: path, contents: Data(bytes)) {
            _ = try? SnapshotRestore.storeBytes(of: path, skipHashCheck: false)
            _ = try? SnapshotRestore.storeBytes(of: path, skipHashCheck: true)
            unlink(path)
        }
        _ = try? JSONDecoder().decode(SnapshotMetadataFile.self, from: Data(bytes))
        _ = try? JSONDecoder().decode(Identity.self, from: Data(bytes))
        _ = MemberRecord.decode(bytes)
    }

    /// The member the `grpc` and `v2` targets execute on (the only voter, so writes commit).
    private static let leader = try? FuzzMember(leading: true)
    /// The member the `peer` target delivers to (a follower: its two peers never run).
    private static let follower = try? FuzzMember(leading: false)

    private static func peer(_ bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        while let frame = try? PeerFrameDecoder.decodeFrame(from: &buffer, maxFrameLength: 1 << 20) {
            guard case .message(let payload) = frame else { continue }
            _ = try? RaftWire.decode(payload)
            _ = try? SnapshotFrame.decode(payload)
        }
        _ = try? RaftWire.decode(bytes)
        _ = try? SnapshotFrame.decode(bytes)
        guard let first = bytes.first, let member = follower else { return }
        member.beginInput()
        if first & 4 != 0 { member.turn(tick: true) }
        member.deliver(Array(bytes.dropFirst()), from: FuzzMember.peerIDs[Int(first & 1)], channel: first & 2 == 0 ? .messages : .snapshots)
    }

    private static func grpc(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        func decode<M: SwiftProtobuf.Message>(_ type: M.Type) -> M? {
            try? EtcdMessageDeserializer<M>().deserialize(body)
        }
        guard let member = leader else { return }
        member.beginInput()
        switch first % 8 {
        case 0:
            guard let request = decode(Etcdserverpb_RangeRequest.self), (try? RequestChecks.range(request)) != nil else { return }
            _ = try? member.store.range(request.model)
        case 1:
            guard let request = decode(Etcdserverpb_PutRequest.self), (try? RequestChecks.put(request)) != nil else { return }
            member.propose(.put(request))
        case 2:
            guard let request = decode(Etcdserverpb_DeleteRangeRequest.self), (try? RequestChecks.delete(request)) != nil else { return }
            member.propose(.deleteRange(request))
        case 3:
            guard let request = decode(Etcdserverpb_TxnRequest.self), (try? RequestChecks.txn(request, maxTxnOps: 128)) != nil else { return }
            if request.writes {
                member.propose(.txn(request))
            } else {
                _ = try? member.store.readOnlyTxn(request.model)
            }
        case 4:
            guard case .createRequest(let create)? = decode(Etcdserverpb_WatchRequest.self)?.requestUnion,
                  let watch = WatchService.watch(for: create) else { return }
            let stream = member.store.openWatchStream()
            defer { stream.close() }
            _ = try? stream.create(watch)
            member.propose(.put(Self.putRequest(key: create.key.isEmpty ? Data([0]) : create.key)))
            for _ in 0..<4 { _ = stream.poll() }
        case 5:
            if let request = decode(Etcdserverpb_LeaseGrantRequest.self),
               let grant = try? LeaseService.checkedGrant(request, minTTL: ServerConfig().minLeaseTTL, newID: member.newLeaseID) {
                member.propose(.leaseGrant(grant))
                member.propose(.leaseRenew(id: grant.id))
                _ = member.store.lessor.timeToLive(grant.id)
            }
            if let request = decode(Etcdserverpb_LeaseRevokeRequest.self) { member.propose(.leaseRevoke(request)) }
        case 6:
            if let request = decode(Etcdserverpb_CompactionRequest.self) { member.propose(.compaction(request)) }
            _ = decode(Etcdserverpb_AuthenticateRequest.self)
            _ = decode(Etcdserverpb_AuthRoleGrantPermissionRequest.self)
        default:
            // A log entry as a member decodes and applies it, whatever it holds: the applier answers or
            // skips what it cannot apply, and never traps.
            guard let proposal = try? Proposal(decoding: body) else { return }
            member.propose(proposal)
        }
    }

    /// A put of `key` (watch inputs write the key they watch).
    private static func putRequest(key: Data) -> Etcdserverpb_PutRequest {
        var put = Etcdserverpb_PutRequest()
        put.key = key
        put.value = Data("fuzz".utf8)
        return put
    }

    private static func v2(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let methods = ["GET", "PUT", "POST", "DELETE", "HEAD"]
        let rest = bytes.dropFirst()
        let split = rest.firstIndex(of: 0) ?? rest.endIndex
        let uri = String(decoding: rest[..<split], as: UTF8.self)
        let body = Array(rest[split...].dropFirst())
        let contentType = first & 0x80 == 0 ? "application/x-www-form-urlencoded" : nil
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        guard let request = try? V2HTTPRequest.parse(method: methods[Int(first & 0x7F) % methods.count], uri: uri, contentType: contentType,
                                                     body: body, now: now),
              let member = leader else { return }
        member.beginInput()
        switch request.kind {
        case .write(let write):
            member.propose(.v2(write))
        case .read(let recursive, let sorted, _):
            member.propose(.v2(V2Request(method: .quorumGet, path: request.path, recursive: recursive, sorted: sorted, time: now)))
        case .watch:
            break
        }
    }
}

extension FuzzTarget {
    /// Valid inputs to start the target's corpus from: what setcd itself writes and sends.
    package func seeds() throws -> [[UInt8]] {
        switch self {
        case .wal:
            let directory = NSTemporaryDirectory() + "setcd-fuzz-seed-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (log, _) = try WriteAheadLog.open(directory: directory, segmentSize: 2048)
            try log.save(entries: (1...3).map { WALEntry(term: 1, index: $0, data: Array("entry \($0)".utf8)) }, hardState: WALHardState(term: 1, vote: 1, commit: 2))
            try log.saveSnapshotMarker(WALSnapshotMarker(index: 2, term: 1))
            try log.save(entries: [WALEntry(term: 2, index: 3, data: [1, 2, 3])], hardState: WALHardState(term: 2, vote: 1, commit: 3))
            log.close()
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".wal") }.sorted()
            let segment = Array(FileManager.default.contents(atPath: directory + "/" + files.last!)!)
            // Trailing zeros (preallocated space) shortened, so the fuzzer works on the records.
            let end = (segment.lastIndex { $0 != 0 } ?? 0) + 64
            return [[0] + segment.prefix(end), [1] + segment.prefix(end)]
        case .snapshot:
            let metadata = SnapshotMetadata(index: 12, term: 3, confState: ConfState(voters: [1, 2, 3], learners: [4]))
            let store = [UInt8](repeating: 7, count: 1024)
            return [
                Array(try JSONEncoder().encode(SnapshotMetadataFile(metadata))),
                Array(try JSONEncoder().encode(Identity(name: "m1", memberID: 1, clusterID: 9))),
                MemberRecord(id: 2, name: "m2", peerURLs: ["http://127.0.0.1:2380"], clientURLs: [], isLearner: false).encoded(),
                store + Array(SHA256.hash(data: Data(store))),
            ]
        case .peer:
            let append = Message(type: .app, to: 2, from: 1, term: 3, logTerm: 2, index: 7,
                                 entries: [Entry(term: 3, index: 8, data: [1, 2]), Entry(term: 3, index: 9, kind: .confChange, data: [])], commit: 7)
            let snapshot = Message(type: .snap, to: 2, from: 1, term: 3,
                                   snapshot: Snapshot(metadata: SnapshotMetadata(index: 9, term: 3, confState: ConfState(voters: [1, 2]))))
            let messages = [append, snapshot, Message(type: .heartbeat, to: 2, from: 1, term: 3, commit: 9, context: [0, 0, 0, 0, 0, 0, 0, 1]),
                            Message(type: .voteResp, to: 1, from: 2, term: 4, reject: true)]
            var frames = ByteBuffer()
            PeerFrameEncoder.encode(.hello(clusterID: 9, from: 1, channel: .messages), into: &frames)
            for message in messages { PeerFrameEncoder.encode(.message(RaftWire.encode(message)), into: &frames) }
            PeerFrameEncoder.encode(.message(SnapshotFrame.begin(stream: 5, snapshot, size: 3).encoded()), into: &frames)
            PeerFrameEncoder.encode(.message(SnapshotFrame.chunk(stream: 5, [1, 2, 3]).encoded()), into: &frames)
            PeerFrameEncoder.encode(.message(SnapshotFrame.end(stream: 5).encoded()), into: &frames)
            PeerFrameEncoder.encode(.membersRequest, into: &frames)
            return [Array(frames.readableBytesView)] + messages.map(RaftWire.encode)
        case .grpc:
            var range = Etcdserverpb_RangeRequest()
            range.key = Data("a".utf8)
            range.rangeEnd = Data("b".utf8)
            range.limit = 10
            var put = Etcdserverpb_PutRequest()
            put.key = Data("k".utf8)
            put.value = Data("v".utf8)
            put.prevKv = true
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = Data("k".utf8)
            delete.rangeEnd = Data([0])
            var txn = Etcdserverpb_TxnRequest()
            var compare = Etcdserverpb_Compare()
            compare.key = Data("k".utf8)
            compare.target = .version
            compare.version = 2
            txn.compare = [compare]
            var op = Etcdserverpb_RequestOp()
            op.requestPut = put
            var nested = Etcdserverpb_RequestOp()
            var inner = Etcdserverpb_TxnRequest()
            var get = Etcdserverpb_RequestOp()
            get.requestRange = range
            inner.success = [get]
            nested.requestTxn = inner
            txn.success = [op, nested]
            var watch = Etcdserverpb_WatchRequest()
            var create = Etcdserverpb_WatchCreateRequest()
            create.key = Data("k".utf8)
            create.startRevision = 3
            create.prevKv = true
            watch.createRequest = create
            var grant = Etcdserverpb_LeaseGrantRequest()
            grant.ttl = 60
            var authenticate = Etcdserverpb_AuthenticateRequest()
            authenticate.name = "root"
            authenticate.password = "secret"
            return [
                [0] + (try range.serializedBytes()), [1] + (try put.serializedBytes()), [2] + (try delete.serializedBytes()),
                [3] + (try txn.serializedBytes()), [4] + (try watch.serializedBytes()), [5] + (try grant.serializedBytes()),
                [6] + (try authenticate.serializedBytes()), [7] + (try Proposal.txn(txn).encoded(requestID: 42)),
            ]
        case .v2:
            let form = Array("value=bar&ttl=5&prevExist=false".utf8)
            return [
                [0] + Array("/v2/keys/foo?recursive=true&sorted=true&quorum=false".utf8),
                [0] + Array("/v2/keys/dir/?wait=true&waitIndex=12&stream=true".utf8),
                [1] + Array("/v2/keys/foo%20bar?prevValue=x&prevIndex=3".utf8) + [0] + form,
                [2] + Array("/v2/keys/queue".utf8) + [0] + Array("value=job&dir=false".utf8),
                [3] + Array("/v2/keys/foo?dir=true&recursive=true&prevIndex=4".utf8),
                [1] + Array("/v2/keys/foo?refresh=true&ttl=10".utf8),
            ]
        }
    }
}
