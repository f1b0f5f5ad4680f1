import EtcdProto

/// etcdctl's `--write-out=fields` (printer_fields.go): one `"Name" : value` line per field, strings and
/// bytes quoted as Go's `%q`.
///
/// Where etcdctl dereferences a missing response header (it crashes, e.g. `alarm list` on etcd 3.4, whose
/// alarm responses carry no header), this prints the header as zeros.
public struct FieldsPrinter: Printer {
    public var format: OutputFormat { .fields }

    public init() {}

    public func delete(_ response: Etcdserverpb_DeleteRangeResponse) -> String {
        header(response.header) + line("Deleted", response.deleted)
            + response.prevKvs.map { keyValue("Prev", $0) }.joined()
    }

    public func get(_ response: Etcdserverpb_RangeResponse) -> String {
        header(response.header) + response.kvs.map { keyValue("", $0) }.joined()
            + line("More", response.more) + line("Count", response.count)
    }

    public func put(_ response: Etcdserverpb_PutResponse) -> String {
        header(response.header) + (response.hasPrevKv ? keyValue("Prev", response.prevKv) : "")
    }

    public func txn(_ response: Etcdserverpb_TxnResponse) -> String {
        var out = header(response.header) + line("Succeeded", response.succeeded)
        for op in response.responses {
            switch op.response {
            case .responseDeleteRange(let r): out += delete(r)
            case .responsePut(let r): out += put(r)
            case .responseRange(let r): out += get(r)
            case .responseTxn: out += "\"Unknown\" : \(GoFormat.quote(ProtoText.compact(op)))\n"
            case nil: out += "\"Unknown\" : \"<nil>\"\n"
            }
        }
        return out
    }

    public func watch(_ response: Etcdserverpb_WatchResponse) -> String {
        var out = header(response.header)
        for event in response.events {
            out += line("Type", ProtoEnum.name(event.type))
            if event.hasPrevKv { out += keyValue("Prev", event.prevKv) }
            out += keyValue("", event.kv)
        }
        return out
    }

    public func leaseGrant(_ response: Etcdserverpb_LeaseGrantResponse) -> String {
        header(response.header) + line("ID", response.id) + line("TTL", response.ttl)
    }

    public func leaseRevoke(id: Int64, _ response: Etcdserverpb_LeaseRevokeResponse) -> String {
        header(response.header)
    }

    public func leaseKeepAlive(_ response: Etcdserverpb_LeaseKeepAliveResponse) -> String {
        header(response.header) + line("ID", response.id) + line("TTL", response.ttl)
    }

    public func leaseTimeToLive(_ response: Etcdserverpb_LeaseTimeToLiveResponse, keys: Bool) -> String {
        header(response.header) + line("ID", response.id) + line("TTL", response.ttl)
            + line("GrantedTTL", response.grantedTtl)
            + response.keys.map { "\"Key\" : \(GoFormat.quote($0))\n" }.joined()
    }

    public func leaseList(_ response: Etcdserverpb_LeaseLeasesResponse) -> String {
        header(response.header) + response.leases.map { line("ID", $0.id) }.joined()
    }

    public func memberList(_ response: Etcdserverpb_MemberListResponse) -> String {
        var out = header(response.header)
        for member in response.members {
            out += line("ID", member.id)
            out += "\"Name\" : \(GoFormat.quote(member.name))\n"
            out += member.peerUrls.map { "\"PeerURL\" : \(GoFormat.quote($0))\n" }.joined()
            out += member.clientUrls.map { "\"ClientURL\" : \(GoFormat.quote($0))\n" }.joined()
            out += line("IsLearner", member.isLearner) + "\n"
        }
        return out
    }

    public func endpointHealth(_ list: [EndpointHealth]) -> PrintedText {
        let text = list.map { health in
            "\"Endpoint\" : \(GoFormat.quote(health.endpoint))\n" + line("Health", health.health)
                + line("Took", health.took) + line("Error", health.error) + "\n"
        }
        return PrintedText(stdout: text.joined())
    }

    public func endpointStatus(_ list: [EndpointStatus]) -> String {
        list.map { entry in
            let status = entry.status
            return header(status.header) + "\"Version\" : \(GoFormat.quote(status.version))\n"
                + line("DBSize", status.dbSize) + line("Leader", status.leader)
                + line("IsLearner", status.isLearner) + line("RaftIndex", status.raftIndex)
                + line("RaftTerm", status.raftTerm) + line("RaftAppliedIndex", status.raftAppliedIndex)
                + line("Errors", GoFormat.list(status.errors))
                + "\"Endpoint\" : \(GoFormat.quote(entry.endpoint))\n\n"
        }.joined()
    }

    public func endpointHashKV(_ list: [EndpointHashKV]) -> String {
        list.map { entry in
            header(entry.hashKV.header) + "\"Endpoint\" : \(GoFormat.quote(entry.endpoint))\n"
                + line("Hash", entry.hashKV.hash) + "\n"
        }.joined()
    }

    public func alarm(_ response: Etcdserverpb_AlarmResponse) -> String {
        header(response.header)
            + response.alarms.map {
                line("MemberID", $0.memberID) + line("AlarmType", ProtoEnum.name($0.alarm)) + "\n"
            }.joined()
    }

    public func snapshotStatus(_ status: SnapshotStatus) -> String {
        line("Hash", status.hash) + line("Revision", status.revision) + line("Keys", status.totalKey)
            + line("Size", status.totalSize)
    }

    public func roleAdd(_ role: String, _ response: Etcdserverpb_AuthRoleAddResponse) -> String {
        header(response.header)
    }

    public func roleGet(_ role: String, _ response: Etcdserverpb_AuthRoleGetResponse) -> String {
        header(response.header)
            + response.perm.map { perm in
                // etcdctl's format string has a trailing space before Println's separator: two spaces.
                "\"PermType\" :  \(ProtoEnum.name(perm.permType))\n"
                    + "\"Key\" : \(GoFormat.quote(perm.key))\n"
                    + "\"RangeEnd\" : \(GoFormat.quote(perm.rangeEnd))\n"
            }.joined()
    }

    public func roleDelete(_ role: String, _ response: Etcdserverpb_AuthRoleDeleteResponse) -> String {
        header(response.header)
    }

    public func roleList(_ response: Etcdserverpb_AuthRoleListResponse) -> String {
        header(response.header) + "\"Roles\" :" + response.roles.map { " " + GoFormat.quote($0) }.joined() + "\n"
    }

    public func roleGrantPermission(_ role: String, _ response: Etcdserverpb_AuthRoleGrantPermissionResponse)
        -> String
    {
        header(response.header)
    }

    public func roleRevokePermission(
        _ role: String, key: String, rangeEnd: String, _ response: Etcdserverpb_AuthRoleRevokePermissionResponse
    ) -> String {
        header(response.header)
    }

    public func userAdd(_ user: String, _ response: Etcdserverpb_AuthUserAddResponse) -> String {
        header(response.header)
    }

    public func userChangePassword(_ response: Etcdserverpb_AuthUserChangePasswordResponse) -> String {
        header(response.header)
    }

    public func userGrantRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserGrantRoleResponse)
        -> String
    {
        header(response.header)
    }

    public func userRevokeRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserRevokeRoleResponse)
        -> String
    {
        header(response.header)
    }

    public func userDelete(_ user: String, _ response: Etcdserverpb_AuthUserDeleteResponse) -> String {
        header(response.header)
    }

    /// `fmt.Println("\"Name\" :", value)`.
    private func line(_ name: String, _ value: some CustomStringConvertible) -> String {
        "\"\(name)\" : \(value)\n"
    }

    private func header(_ header: Etcdserverpb_ResponseHeader) -> String {
        line("ClusterID", header.clusterID) + line("MemberID", header.memberID)
            + line("Revision", header.revision) + line("RaftTerm", header.raftTerm)
    }

    private func keyValue(_ prefix: String, _ kv: Mvccpb_KeyValue) -> String {
        "\"\(prefix)Key\" : \(GoFormat.quote(kv.key))\n"
            + line("\(prefix)CreateRevision", kv.createRevision) + line("\(prefix)ModRevision", kv.modRevision)
            + line("\(prefix)Version", kv.version) + "\"\(prefix)Value\" : \(GoFormat.quote(kv.value))\n"
            + line("\(prefix)Lease", kv.lease)
    }
}
