import EtcdProto
import Foundation

/// etcdctl's default `--write-out=simple` (printer_simple.go): keys and values on their own lines, short
/// verdicts ("OK", "SUCCESS"), and rows joined by ", ".
public struct SimplePrinter: Printer {
    public var format: OutputFormat { .simple }

    /// `--hex`: keys and values as `\x..` escapes of every byte.
    public var hex: Bool
    /// `get --print-value-only`: values without their keys.
    public var valueOnly: Bool

    public init(hex: Bool = false, valueOnly: Bool = false) {
        self.hex = hex
        self.valueOnly = valueOnly
    }

    public func delete(_ response: Etcdserverpb_DeleteRangeResponse) -> String {
        "\(response.deleted)\n" + response.prevKvs.map(keyValue).joined()
    }

    public func get(_ response: Etcdserverpb_RangeResponse) -> String {
        response.kvs.map(keyValue).joined()
    }

    public func put(_ response: Etcdserverpb_PutResponse) -> String {
        "OK\n" + (response.hasPrevKv ? keyValue(response.prevKv) : "")
    }

    public func txn(_ response: Etcdserverpb_TxnResponse) -> String {
        var out = response.succeeded ? "SUCCESS\n" : "FAILURE\n"
        for op in response.responses {
            out += "\n"
            switch op.response {
            case .responseDeleteRange(let r): out += delete(r)
            case .responsePut(let r): out += put(r)
            case .responseRange(let r): out += get(r)
            case .responseTxn, nil: out += "unexpected response \(ProtoText.compact(op))\n"
            }
        }
        return out
    }

    public func watch(_ response: Etcdserverpb_WatchResponse) -> String {
        var out = ""
        for event in response.events {
            out += ProtoEnum.name(event.type) + "\n"
            if event.hasPrevKv { out += keyValue(event.prevKv) }
            out += keyValue(event.kv)
        }
        return out
    }

    public func leaseGrant(_ response: Etcdserverpb_LeaseGrantResponse) -> String {
        "lease \(GoFormat.hex(response.id, width: 16)) granted with TTL(\(response.ttl)s)\n"
    }

    public func leaseRevoke(id: Int64, _ response: Etcdserverpb_LeaseRevokeResponse) -> String {
        "lease \(GoFormat.hex(id, width: 16)) revoked\n"
    }

    public func leaseKeepAlive(_ response: Etcdserverpb_LeaseKeepAliveResponse) -> String {
        "lease \(GoFormat.hex(response.id, width: 16)) keepalived with TTL(\(response.ttl))\n"
    }

    public func leaseKeepAliveEnded(id: Int64) -> String {
        "lease \(GoFormat.hex(id, width: 16)) expired or revoked.\n"
    }

    public func leaseTimeToLive(_ response: Etcdserverpb_LeaseTimeToLiveResponse, keys: Bool) -> String {
        let id = GoFormat.hex(response.id, width: 16)
        if response.grantedTtl == 0 && response.ttl == -1 {
            return "lease \(id) already expired\n"
        }
        var text = "lease \(id) granted with TTL(\(response.grantedTtl)s), remaining(\(response.ttl)s)"
        if keys {
            text += ", attached keys(\(GoFormat.list(response.keys.map(GoFormat.string))))"
        }
        return text + "\n"
    }

    public func leaseList(_ response: Etcdserverpb_LeaseLeasesResponse) -> String {
        "found \(response.leases.count) leases\n"
            + response.leases.map { GoFormat.hex($0.id, width: 16) + "\n" }.joined()
    }

    public func alarm(_ response: Etcdserverpb_AlarmResponse) -> String {
        response.alarms.map { ProtoText.compact($0) + "\n" }.joined()
    }

    public func memberAdd(
        _ response: Etcdserverpb_MemberAddResponse, newMemberName: String, peerURLs: String
    ) -> String {
        let newID = response.member.id
        var out = "Member \(memberID(newID)) added to cluster \(memberID(response.header.clusterID))\n"
        // member_command.go prints the settings for the new member after the simple verdict.
        var initialCluster: [String] = []
        for member in response.members {
            let name = member.id == newID ? newMemberName : member.name
            initialCluster += member.peerUrls.map { "\(name)=\($0)" }
        }
        out += "\n"
        out += "ETCD_NAME=\(GoFormat.quote(newMemberName))\n"
        out += "ETCD_INITIAL_CLUSTER=\(GoFormat.quote(initialCluster.joined(separator: ",")))\n"
        out += "ETCD_INITIAL_ADVERTISE_PEER_URLS=\(GoFormat.quote(peerURLs))\n"
        out += "ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n"
        return out
    }

    public func memberRemove(id: UInt64, _ response: Etcdserverpb_MemberRemoveResponse) -> String {
        "Member \(memberID(id)) removed from cluster \(memberID(response.header.clusterID))\n"
    }

    public func memberUpdate(id: UInt64, _ response: Etcdserverpb_MemberUpdateResponse) -> String {
        "Member \(memberID(id)) updated in cluster \(memberID(response.header.clusterID))\n"
    }

    public func memberPromote(id: UInt64, _ response: Etcdserverpb_MemberPromoteResponse) -> String {
        "Member \(memberID(id)) promoted in cluster \(memberID(response.header.clusterID))\n"
    }

    public func memberList(_ response: Etcdserverpb_MemberListResponse) -> String {
        Rows.memberList(response).simpleLines
    }

    /// The verdicts go to stderr; stdout stays empty.
    public func endpointHealth(_ list: [EndpointHealth]) -> PrintedText {
        let lines = list.map { health in
            health.error.isEmpty
                ? "\(health.endpoint) is healthy: successfully committed proposal: took = \(health.took)\n"
                : "\(health.endpoint) is unhealthy: failed to commit proposal: \(health.error)\n"
        }
        return PrintedText(stderr: lines.joined())
    }

    public func endpointStatus(_ list: [EndpointStatus]) -> String {
        Rows.endpointStatus(list).simpleLines
    }

    public func endpointHashKV(_ list: [EndpointHashKV]) -> String {
        Rows.endpointHashKV(list).simpleLines
    }

    public func snapshotStatus(_ status: SnapshotStatus) -> String {
        Rows.snapshotStatus(status).simpleLines
    }

    public func moveLeader(from leader: UInt64, to target: UInt64, _ response: Etcdserverpb_MoveLeaderResponse)
        -> String
    {
        "Leadership transferred from \(GoFormat.hex(leader)) to \(GoFormat.hex(target))\n"
    }

    public func roleAdd(_ role: String, _ response: Etcdserverpb_AuthRoleAddResponse) -> String {
        "Role \(role) created\n"
    }

    public func roleGet(_ role: String, _ response: Etcdserverpb_AuthRoleGetResponse) -> String {
        var out = "Role \(role)\nKV Read:\n"
        out += response.perm.filter { $0.permType == .read || $0.permType == .readwrite }.map(permission).joined()
        out += "KV Write:\n"
        out += response.perm.filter { $0.permType == .write || $0.permType == .readwrite }.map(permission).joined()
        return out
    }

    public func roleList(_ response: Etcdserverpb_AuthRoleListResponse) -> String {
        response.roles.map { $0 + "\n" }.joined()
    }

    public func roleDelete(_ role: String, _ response: Etcdserverpb_AuthRoleDeleteResponse) -> String {
        "Role \(role) deleted\n"
    }

    public func roleGrantPermission(_ role: String, _ response: Etcdserverpb_AuthRoleGrantPermissionResponse)
        -> String
    {
        "Role \(role) updated\n"
    }

    public func roleRevokePermission(
        _ role: String, key: String, rangeEnd: String, _ response: Etcdserverpb_AuthRoleRevokePermissionResponse
    ) -> String {
        if rangeEnd.isEmpty { return "Permission of key \(key) is revoked from role \(role)\n" }
        if rangeEnd != "\0" { return "Permission of range [\(key), \(rangeEnd)) is revoked from role \(role)\n" }
        return "Permission of range [\(key), <open ended> is revoked from role \(role)\n"
    }

    public func userAdd(_ user: String, _ response: Etcdserverpb_AuthUserAddResponse) -> String {
        "User \(user) created\n"
    }

    public func userGet(_ user: String, _ response: Etcdserverpb_AuthUserGetResponse) -> String {
        "User: \(user)\nRoles:" + response.roles.map { " " + $0 }.joined() + "\n"
    }

    public func userChangePassword(_ response: Etcdserverpb_AuthUserChangePasswordResponse) -> String {
        "Password updated\n"
    }

    public func userGrantRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserGrantRoleResponse)
        -> String
    {
        "Role \(role) is granted to user \(user)\n"
    }

    public func userRevokeRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserRevokeRoleResponse)
        -> String
    {
        "Role \(role) is revoked from user \(user)\n"
    }

    public func userDelete(_ user: String, _ response: Etcdserverpb_AuthUserDeleteResponse) -> String {
        "User \(user) deleted\n"
    }

    public func userList(_ response: Etcdserverpb_AuthUserListResponse) -> String {
        response.users.map { $0 + "\n" }.joined()
    }

    /// util.go's `printKV`: the key line (unless value-only) and the value line, raw or `--hex`.
    private func keyValue(_ kv: Mvccpb_KeyValue) -> String {
        let key = hex ? Self.hexEscaped(kv.key) : GoFormat.string(kv.key)
        let value = hex ? Self.hexEscaped(kv.value) : GoFormat.string(kv.value)
        return (valueOnly ? "" : key + "\n") + value + "\n"
    }

    /// `addHexPrefix(hex.EncodeToString(b))`: `\x61\x62` for "ab".
    private static func hexEscaped(_ bytes: Data) -> String {
        bytes.map { "\\x" + GoFormat.hex(UInt64($0), width: 2) }.joined()
    }

    /// `%16x`: the member ID space-padded to 16 columns.
    private func memberID(_ id: UInt64) -> String {
        GoFormat.hex(id, width: 16, pad: " ")
    }

    /// One permission line of `role get`: a key, or a range with its prefix when it is one.
    private func permission(_ perm: Authpb_Permission) -> String {
        let key = GoFormat.string(perm.key)
        if perm.rangeEnd.isEmpty { return "\t\(key)\n" }
        let rangeEnd = GoFormat.string(perm.rangeEnd)
        var line = rangeEnd != "\0" ? "\t[\(key), \(rangeEnd))" : "\t[\(key), <open ended>"
        if Self.prefixRangeEnd(Array(perm.key)) == Array(perm.rangeEnd) {
            line += " (prefix \(key))"
        }
        return line + "\n"
    }

    /// clientv3's `GetPrefixRangeEnd`: the key with its last byte below 0xff incremented and the rest cut,
    /// or "\0" when every byte is 0xff.
    private static func prefixRangeEnd(_ key: [UInt8]) -> [UInt8] {
        guard let last = key.lastIndex(where: { $0 < 0xFF }) else { return [0] }
        return Array(key[..<last]) + [key[last] + 1]
    }
}
