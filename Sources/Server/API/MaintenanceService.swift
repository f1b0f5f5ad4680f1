import Crypto
import EtcdProto
import Foundation
import GRPCCore
import MVCC

/// etcd's Maintenance service.
struct MaintenanceService: Etcdserverpb_Maintenance.SimpleServiceProtocol {
    let member: Member

    /// Every alarm request goes through the log, as in etcd: raising and clearing reach every member,
    /// and listing is linearizable. As in etcd, the answer has no header.
    func alarm(request: Etcdserverpb_AlarmRequest, context: ServerContext) async throws -> Etcdserverpb_AlarmResponse {
        try await withEtcdErrors {
            var response = Etcdserverpb_AlarmResponse()
            guard case .alarms(let alarms) = try await member.proposeEntry(.alarm(request)) else { throw EtcdError.corrupt }
            response.alarms = alarms
            return response
        }
    }

    func status(request: Etcdserverpb_StatusRequest, context: ServerContext) async throws -> Etcdserverpb_StatusResponse {
        var response = Etcdserverpb_StatusResponse()
        response.header = member.header()
        response.version = Member.version
        let sizes = member.store.sizes()
        response.dbSize = Int64(sizes.total)
        response.dbSizeInUse = Int64(sizes.inUse)
        let info = member.raftInfo
        response.leader = info.leader
        response.raftIndex = info.commitIndex
        response.raftAppliedIndex = member.store.consistentIndex
        response.raftTerm = info.term
        response.isLearner = member.membership.record(member.identity.memberID)?.isLearner ?? false
        if info.leader == 0 { response.errors.append("etcdserver: no leader") }
        // Each alarm in protobuf's text form, as etcd's gogo-generated String() prints it.
        response.errors += member.alarms.list().map { "memberID:\($0.memberID) alarm:\($0.alarm == .nospace ? "NOSPACE" : "CORRUPT") " }
        return response
    }

    /// LMDB reuses freed pages in place, so there is nothing to defragment while the member runs; the
    /// request succeeds as etcd's does (with no header, as etcd's).
    func defragment(request: Etcdserverpb_DefragmentRequest, context: ServerContext) async throws -> Etcdserverpb_DefragmentResponse {
        try requireAdmin()
        return Etcdserverpb_DefragmentResponse()
    }

    /// Defragment, hash and snapshot need the root role once authentication is enabled; etcd returns
    /// their auth errors unmapped (code Unknown, "auth: ...").
    private func requireAdmin() throws {
        do {
            try member.authorizeAdmin()
        } catch {
            throw error.maintenanceError
        }
    }

    func hash(request: Etcdserverpb_HashRequest, context: ServerContext) async throws -> Etcdserverpb_HashResponse {
        try requireAdmin()
        return try await withEtcdErrors {
            var response = Etcdserverpb_HashResponse()
            response.header = member.header()
            response.hash = try member.store.hashKV(revision: 0).hash
            return response
        }
    }

    func hashKV(request: Etcdserverpb_HashKVRequest, context: ServerContext) async throws -> Etcdserverpb_HashKVResponse {
        try requireAdmin()
        return try await withEtcdErrors {
            let result = try member.store.hashKV(revision: request.revision)
            var response = Etcdserverpb_HashKVResponse()
            response.header = member.header()
            response.hash = result.hash
            response.compactRevision = result.compactRevision
            return response
        }
    }

    /// Streams a consistent copy of the store, then its sha256, as etcd does (clients verify it); like
    /// etcd's, the messages carry no header.
    func snapshot(
        request: Etcdserverpb_SnapshotRequest,
        response: RPCWriter<Etcdserverpb_SnapshotResponse>,
        context: ServerContext
    ) async throws {
        try requireAdmin()
        let path = member.config.resolvedDataDir + "/member/snapshot-\(UUID().uuidString).tmp"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw RPCError(code: .internalError, message: "etcdserver: cannot create snapshot file") }
        unlink(path)
        defer { close(fd) }
        Failpoint.snapshotBeforeSave.hit()
        try member.store.copy(toDescriptor: fd)
        let size = Int(lseek(fd, 0, SEEK_END))
        lseek(fd, 0, SEEK_SET)
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var sent = 0
        while sent < size {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw RPCError(code: .internalError, message: "etcdserver: snapshot read failed") }
            let chunk = Data(buffer[0..<n])
            hasher.update(data: chunk)
            sent += n
            var message = Etcdserverpb_SnapshotResponse()
            message.remainingBytes = UInt64(size - sent)
            message.blob = chunk
            try await response.write(message)
        }
        var trailer = Etcdserverpb_SnapshotResponse()
        trailer.remainingBytes = 0
        trailer.blob = Data(hasher.finalize())
        try await response.write(trailer)
    }

    /// Hands leadership to another voting member (thesis §3.10) and answers once it leads; only the
    /// leader can do this, as in etcd.
    func moveLeader(request: Etcdserverpb_MoveLeaderRequest, context: ServerContext) async throws -> Etcdserverpb_MoveLeaderResponse {
        guard member.isLeader else { throw EtcdError.notLeader }
        guard let target = member.membership.record(request.targetID), !target.isLearner else { throw EtcdError.badLeaderTransferee }
        var response = Etcdserverpb_MoveLeaderResponse()
        response.header = member.header()
        if target.id == member.identity.memberID { return response }
        member.raftLoop.post(.transferLeader(to: target.id))
        let deadline = ContinuousClock.now + member.config.requestTimeout
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            if member.raftInfo.leader == target.id {
                response.header = member.header()
                return response
            }
        }
        throw RPCError(code: .unknown, message: "etcdserver: request timed out, leader transfer took too long")
    }

    func downgrade(request: Etcdserverpb_DowngradeRequest, context: ServerContext) async throws -> Etcdserverpb_DowngradeResponse {
        throw RPCError(code: .unimplemented, message: "setcd: downgrade is not supported")
    }
}

