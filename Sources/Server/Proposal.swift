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

    private enum Tag: UInt8 {
        case put = 1, deleteRange, txn, compaction, leaseGrant, leaseRevoke, leaseRenew, memberAttributes, memberPeerURLs, alarm
    }

    /// The bytes of the log entry.
    func encoded(requestID: UInt64) throws -> [UInt8] {
        var bytes = withUnsafeBytes(of: requestID.bigEndian, Array.init)
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
        }
        bytes.append(tag.rawValue)
        bytes.append(contentsOf: body)
        return bytes
    }

    /// The request id of an entry written by `encoded(requestID:)`.
    static func requestID(of bytes: [UInt8]) -> UInt64 {
        guard bytes.count >= 8 else { return 0 }
        return bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Decodes a log entry written by `encoded(requestID:)`.
    init(decoding bytes: [UInt8]) throws {
        guard bytes.count > 8, let tag = Tag(rawValue: bytes[8]) else { throw ProposalDecodingError() }
        let body = bytes.dropFirst(9)
        switch tag {
        case .put: self = .put(try Etcdserverpb_PutRequest(serializedBytes: Array(body)))
        case .deleteRange: self = .deleteRange(try Etcdserverpb_DeleteRangeRequest(serializedBytes: Array(body)))
        case .txn: self = .txn(try Etcdserverpb_TxnRequest(serializedBytes: Array(body)))
        case .compaction: self = .compaction(try Etcdserverpb_CompactionRequest(serializedBytes: Array(body)))
        case .leaseGrant: self = .leaseGrant(try Etcdserverpb_LeaseGrantRequest(serializedBytes: Array(body)))
        case .leaseRevoke: self = .leaseRevoke(try Etcdserverpb_LeaseRevokeRequest(serializedBytes: Array(body)))
        case .leaseRenew:
            guard body.count == 8 else { throw ProposalDecodingError() }
            self = .leaseRenew(id: Int64(bitPattern: body.reduce(0) { $0 << 8 | UInt64($1) }))
        case .memberAttributes, .memberPeerURLs:
            guard let record = MemberRecord.decode(body) else { throw ProposalDecodingError() }
            self = tag == .memberAttributes ? .memberAttributes(record) : .memberPeerURLs(record)
        case .alarm: self = .alarm(try Etcdserverpb_AlarmRequest(serializedBytes: Array(body)))
        }
    }

    /// Whether the proposal may grow the store (refused while the NOSPACE alarm is raised, as in etcd).
    var addsData: Bool {
        switch self {
        case .put, .leaseGrant: return true
        case .txn(let r): return r.writes
        case .deleteRange, .compaction, .leaseRevoke, .leaseRenew, .memberAttributes, .memberPeerURLs, .alarm: return false
        }
    }

    /// The store operation this proposal applies; nil for membership and alarm proposals, which the
    /// applier turns into cluster records.
    var operation: MVCC.Operation? {
        switch self {
        case .put(let r): return .txn(MVCC.TxnRequest(success: [.put(r.model)]))
        case .deleteRange(let r): return .txn(MVCC.TxnRequest(success: [.deleteRange(r.model)]))
        case .txn(let r): return .txn(r.model)
        case .compaction(let r): return .compact(revision: r.revision)
        case .leaseGrant(let r): return .leaseGrant(Lease(id: r.id, ttl: r.ttl))
        case .leaseRevoke(let r): return .leaseRevoke(id: r.id)
        case .leaseRenew: return .noop
        case .memberAttributes, .memberPeerURLs, .alarm: return nil
        }
    }
}

/// A log entry that is not a proposal setcd wrote.
struct ProposalDecodingError: Error {}
