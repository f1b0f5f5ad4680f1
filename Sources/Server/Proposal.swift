import EtcdProto
import Foundation
import MVCC
import SwiftProtobuf

/// A write as it is stored in a log entry: the proposing member's request id (8 bytes, big-endian,
/// so the proposer can find its waiting request when the entry is applied), a tag byte and the etcd
/// request message, so the log holds exactly what clients asked for and replays through the same
/// conversion as the live path.
enum Proposal {
    case put(Etcdserverpb_PutRequest)
    case deleteRange(Etcdserverpb_DeleteRangeRequest)
    case txn(Etcdserverpb_TxnRequest)
    case compaction(Etcdserverpb_CompactionRequest)
    case leaseGrant(Etcdserverpb_LeaseGrantRequest)
    case leaseRevoke(Etcdserverpb_LeaseRevokeRequest)
    /// A keep-alive: every member restarts the lease's TTL when it applies the entry, so whichever
    /// member leads next has current expiries.
    case leaseRenew(id: Int64)
    /// A member publishes its name and client URLs once it has started (etcd's `publish`).
    case memberAttributes(MemberRecord)
    /// MemberUpdate: new peer URLs for a member.
    case memberPeerURLs(MemberRecord)
    /// Raise or clear an alarm on every member.
    case alarm(Etcdserverpb_AlarmRequest)
    /// A change to users, roles, permissions, or turning authentication on or off.
    case auth(AuthChange)
    /// Issue a simple token `<tokenPrefix>.<entry index>` for `user` on every member (etcd's
    /// `InternalAuthenticateRequest`; the password was checked by the proposer).
    case authenticate(user: String, tokenPrefix: String)
    /// A request whose permissions the proposer checked at auth revision `revision`: applied only if
    /// the auth state has not changed since (else etcd's "revision of auth store is old").
    indirect case authorized(revision: UInt64, Proposal)
    /// A v2 keys request (`--enable-v2`).
    case v2(V2Request)

    private enum Tag: UInt8 {
        case put = 1, deleteRange, txn, compaction, leaseGrant, leaseRevoke, leaseRenew, memberAttributes, memberPeerURLs, alarm
        case auth, authenticate, authorized, v2
    }

    /// The bytes of the log entry.
    func encoded(requestID: UInt64) throws -> [UInt8] {
        withUnsafeBytes(of: requestID.bigEndian, Array.init) + (try taggedBody())
    }

    /// JSON for auth entries, with sorted keys so an entry always encodes to the same bytes.
    private static var json: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    /// The tag byte and the body.
    private func taggedBody() throws -> [UInt8] {
        let (tag, body): (Tag, [UInt8]) = switch self {
        case .put(let m): (.put, try m.serializedBytes())
        case .deleteRange(let m): (.deleteRange, try m.serializedBytes())
        case .txn(let m): (.txn, try m.serializedBytes())
        case .compaction(let m): (.compaction, try m.serializedBytes())
        case .leaseGrant(let m): (.leaseGrant, try m.serializedBytes())
        case .leaseRevoke(let m): (.leaseRevoke, try m.serializedBytes())
        case .leaseRenew(let id): (.leaseRenew, withUnsafeBytes(of: id.bigEndian, Array.init))
        case .memberAttributes(let record): (.memberAttributes, record.encoded())
        case .memberPeerURLs(let record): (.memberPeerURLs, record.encoded())
        case .alarm(let m): (.alarm, try m.serializedBytes())
        case .auth(let change): (.auth, Array(try Self.json.encode(change)))
        case .authenticate(let user, let prefix): (.authenticate, Array(try Self.json.encode([user, prefix])))
        case .authorized(let revision, let inner): (.authorized, withUnsafeBytes(of: revision.bigEndian, Array.init) + (try inner.taggedBody()))
        case .v2(let request): (.v2, Array(try Self.json.encode(request)))
        }
        return [tag.rawValue] + body
    }

    /// The request id of an entry written by `encoded(requestID:)`.
    static func requestID(of bytes: [UInt8]) -> UInt64 {
        guard bytes.count >= 8 else { return 0 }
        return bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Decodes a log entry written by `encoded(requestID:)`.
    init(decoding bytes: [UInt8]) throws {
        guard bytes.count > 8 else { throw ProposalDecodingError() }
        try self.init(taggedBody: bytes.dropFirst(8))
    }

    private init(taggedBody bytes: ArraySlice<UInt8>) throws {
        guard let first = bytes.first, let tag = Tag(rawValue: first) else { throw ProposalDecodingError() }
        let body = bytes.dropFirst()
        switch tag {
        case .put: self = .put(try Etcdserverpb_PutRequest(serializedBytes: Array(body), options: EtcdDecoding.options))
        case .deleteRange: self = .deleteRange(try Etcdserverpb_DeleteRangeRequest(serializedBytes: Array(body), options: EtcdDecoding.options))
        case .txn: self = .txn(try Etcdserverpb_TxnRequest(serializedBytes: Array(body), options: EtcdDecoding.options))
        case .compaction: self = .compaction(try Etcdserverpb_CompactionRequest(serializedBytes: Array(body), options: EtcdDecoding.options))
        case .leaseGrant: self = .leaseGrant(try Etcdserverpb_LeaseGrantRequest(serializedBytes: Array(body), options: EtcdDecoding.options))
        case .leaseRevoke: self = .leaseRevoke(try Etcdserverpb_LeaseRevokeRequest(serializedBytes: Array(body), options: EtcdDecoding.options))
        case .leaseRenew:
            guard body.count == 8 else { throw ProposalDecodingError() }
            self = .leaseRenew(id: Int64(bitPattern: body.reduce(0) { $0 << 8 | UInt64($1) }))
        case .memberAttributes, .memberPeerURLs:
            guard let record = MemberRecord.decode(body) else { throw ProposalDecodingError() }
            self = tag == .memberAttributes ? .memberAttributes(record) : .memberPeerURLs(record)
        case .alarm: self = .alarm(try Etcdserverpb_AlarmRequest(serializedBytes: Array(body), options: EtcdDecoding.options))
        case .auth: self = .auth(try JSONDecoder().decode(AuthChange.self, from: Data(body)))
        case .authenticate:
            let parts = try JSONDecoder().decode([String].self, from: Data(body))
            guard parts.count == 2 else { throw ProposalDecodingError() }
            self = .authenticate(user: parts[0], tokenPrefix: parts[1])
        case .authorized:
            guard body.count > 8 else { throw ProposalDecodingError() }
            let revision = body.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
            self = .authorized(revision: revision, try Proposal(taggedBody: body.dropFirst(8)))
        case .v2: self = .v2(try JSONDecoder().decode(V2Request.self, from: Data(body)))
        }
    }

    /// Whether the proposal may grow the store (refused while the NOSPACE alarm is raised, as in etcd).
    var addsData: Bool {
        switch self {
        case .put, .leaseGrant: return true
        case .txn(let r): return r.writes
        case .authorized(_, let inner): return inner.addsData
        case .v2(let request): return request.method != .delete && request.method != .compareAndDelete && request.method != .sync
                && request.method != .quorumGet
        case .deleteRange, .compaction, .leaseRevoke, .leaseRenew, .memberAttributes, .memberPeerURLs, .alarm, .auth, .authenticate:
            return false
        }
    }

    /// The store operation this proposal applies; nil for membership, alarm and auth proposals, which
    /// the applier turns into cluster records.
    var operation: MVCC.Operation? {
        switch self {
        case .put(let r): return .txn(MVCC.TxnRequest(success: [.put(r.model)]))
        case .deleteRange(let r): return .txn(MVCC.TxnRequest(success: [.deleteRange(r.model)]))
        case .txn(let r): return .txn(r.model)
        case .compaction(let r): return .compact(revision: r.revision)
        case .leaseGrant(let r): return .leaseGrant(Lease(id: r.id, ttl: r.ttl))
        case .leaseRevoke(let r): return .leaseRevoke(id: r.id)
        case .leaseRenew: return .noop
        case .authorized(_, let inner): return inner.operation
        case .memberAttributes, .memberPeerURLs, .alarm, .auth, .authenticate, .v2: return nil
        }
    }
}

/// A log entry that is not a proposal setcd wrote.
struct ProposalDecodingError: Error {}
