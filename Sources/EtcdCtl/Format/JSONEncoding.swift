import EtcdProto

/// The JSON that Go's `encoding/json` produces for each value etcdctl marshals: field names and
/// `omitempty` from the gogo-generated structs' `json` tags (rpc.pb.go, kv.pb.go, auth.pb.go) and from
/// clientv3's wrapper structs (lease.go, watch.go) and etcdctl's own (ep_command.go, snapshot's Status).
enum JSONEncoding {
    static func header(_ header: Etcdserverpb_ResponseHeader) -> GoJSON.Object {
        var object = GoJSON.Object()
        object.omitEmpty("cluster_id", header.clusterID)
        object.omitEmpty("member_id", header.memberID)
        object.omitEmpty("revision", header.revision)
        object.omitEmpty("raft_term", header.raftTerm)
        return object
    }

    /// The `header` field of a response: a pointer, so left out only when absent.
    private static func header(_ hasHeader: Bool, _ value: Etcdserverpb_ResponseHeader) -> GoJSON? {
        hasHeader ? .object(header(value)) : nil
    }

    static func keyValue(_ kv: Mvccpb_KeyValue) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("key", kv.key)
        object.omitEmpty("create_revision", kv.createRevision)
        object.omitEmpty("mod_revision", kv.modRevision)
        object.omitEmpty("version", kv.version)
        object.omitEmpty("value", kv.value)
        object.omitEmpty("lease", kv.lease)
        return .object(object)
    }

    static func range(_ response: Etcdserverpb_RangeResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty("kvs", response.kvs.map(keyValue))
        object.omitEmpty("more", response.more)
        object.omitEmpty("count", response.count)
        return .object(object)
    }

    static func put(_ response: Etcdserverpb_PutResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty("prev_kv", response.hasPrevKv ? keyValue(response.prevKv) : nil)
        return .object(object)
    }

    static func deleteRange(_ response: Etcdserverpb_DeleteRangeResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty("deleted", response.deleted)
        object.omitEmpty("prev_kvs", response.prevKvs.map(keyValue))
        return .object(object)
    }

    static func txn(_ response: Etcdserverpb_TxnResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty("succeeded", response.succeeded)
        object.omitEmpty("responses", response.responses.map(responseOp))
        return .object(object)
    }

    /// The oneof is an interface field without a json tag, holding a wrapper struct whose only field has
    /// none either: `{"Response":{"ResponsePut":{...}}}`.
    private static func responseOp(_ op: Etcdserverpb_ResponseOp) -> GoJSON {
        let inner: GoJSON
        switch op.response {
        case .responseRange(let r): inner = wrapper("ResponseRange", range(r))
        case .responsePut(let r): inner = wrapper("ResponsePut", put(r))
        case .responseDeleteRange(let r): inner = wrapper("ResponseDeleteRange", deleteRange(r))
        case .responseTxn(let r): inner = wrapper("ResponseTxn", txn(r))
        case nil: inner = .null
        }
        var object = GoJSON.Object()
        object.add("Response", inner)
        return .object(object)
    }

    private static func wrapper(_ name: String, _ value: GoJSON) -> GoJSON {
        var object = GoJSON.Object()
        object.add(name, value)
        return .object(object)
    }

    static func event(_ event: Mvccpb_Event) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("type", Int64(event.type.rawValue))
        object.omitEmpty("kv", event.hasKv ? keyValue(event.kv) : nil)
        object.omitEmpty("prev_kv", event.hasPrevKv ? keyValue(event.prevKv) : nil)
        return .object(object)
    }

    /// clientv3's `WatchResponse`: a header value (never omitted), events always a list, and the flags.
    static func watch(_ response: Etcdserverpb_WatchResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.add("Header", .object(header(response.header)))
        object.add("Events", .array(response.events.map(event)))
        object.add("CompactRevision", .int(response.compactRevision))
        object.add("Canceled", .bool(response.canceled))
        object.add("Created", .bool(response.created))
        return .object(object)
    }

    /// clientv3's lease wrappers embed `*pb.ResponseHeader`, whose fields Go promotes to the top level.
    private static func embeddedHeader(_ hasHeader: Bool, _ value: Etcdserverpb_ResponseHeader) -> GoJSON.Object? {
        hasHeader ? header(value) : nil
    }

    static func leaseGrant(_ response: Etcdserverpb_LeaseGrantResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.embed(embeddedHeader(response.hasHeader, response.header))
        object.add("ID", .int(response.id))
        object.add("TTL", .int(response.ttl))
        object.add("Error", .string(response.error))
        return .object(object)
    }

    static func leaseKeepAlive(_ response: Etcdserverpb_LeaseKeepAliveResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.embed(embeddedHeader(response.hasHeader, response.header))
        object.add("ID", .int(response.id))
        object.add("TTL", .int(response.ttl))
        return .object(object)
    }

    /// `keys` has no `omitempty`: a response without keys decodes to a nil slice, marshalled as `null`.
    static func leaseTimeToLive(_ response: Etcdserverpb_LeaseTimeToLiveResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.embed(embeddedHeader(response.hasHeader, response.header))
        object.add("id", .int(response.id))
        object.add("ttl", .int(response.ttl))
        object.add("granted-ttl", .int(response.grantedTtl))
        object.add("keys", response.keys.isEmpty ? .null : .array(response.keys.map { .bytes($0) }))
        return .object(object)
    }

    /// clientv3 always makes the `leases` slice, so an empty list is `[]`.
    static func leaseList(_ response: Etcdserverpb_LeaseLeasesResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.embed(embeddedHeader(response.hasHeader, response.header))
        object.add(
            "leases",
            .array(
                response.leases.map { lease in
                    var status = GoJSON.Object()
                    status.add("id", .int(lease.id))
                    return .object(status)
                }
            )
        )
        return .object(object)
    }

    static func headerOnly(_ hasHeader: Bool, _ value: Etcdserverpb_ResponseHeader) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(hasHeader, value))
        return .object(object)
    }

    static func member(_ member: Etcdserverpb_Member) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("ID", member.id)
        object.omitEmpty("name", member.name)
        object.omitEmpty("peerURLs", member.peerUrls.map { .string($0) })
        object.omitEmpty("clientURLs", member.clientUrls.map { .string($0) })
        object.omitEmpty("isLearner", member.isLearner)
        return .object(object)
    }

    static func memberAdd(_ response: Etcdserverpb_MemberAddResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty("member", response.hasMember ? member(response.member) : nil)
        object.omitEmpty("members", response.members.map(member))
        return .object(object)
    }

    /// Member list, remove, update and promote responses: a header and the members.
    static func members(
        _ hasHeader: Bool, _ value: Etcdserverpb_ResponseHeader, _ members: [Etcdserverpb_Member]
    ) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(hasHeader, value))
        object.omitEmpty("members", members.map(member))
        return .object(object)
    }

    static func status(_ response: Etcdserverpb_StatusResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty("version", response.version)
        object.omitEmpty("dbSize", response.dbSize)
        object.omitEmpty("leader", response.leader)
        object.omitEmpty("raftIndex", response.raftIndex)
        object.omitEmpty("raftTerm", response.raftTerm)
        object.omitEmpty("raftAppliedIndex", response.raftAppliedIndex)
        object.omitEmpty("errors", response.errors.map { .string($0) })
        object.omitEmpty("dbSizeInUse", response.dbSizeInUse)
        object.omitEmpty("isLearner", response.isLearner)
        return .object(object)
    }

    static func hashKV(_ response: Etcdserverpb_HashKVResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty("hash", UInt64(response.hash))
        object.omitEmpty("compact_revision", response.compactRevision)
        return .object(object)
    }

    static func endpointHealth(_ health: EndpointHealth) -> GoJSON {
        var object = GoJSON.Object()
        object.add("endpoint", .string(health.endpoint))
        object.add("health", .bool(health.health))
        object.add("took", .string(health.took))
        object.omitEmpty("error", health.error)
        return .object(object)
    }

    static func endpointStatus(_ entry: EndpointStatus) -> GoJSON {
        var object = GoJSON.Object()
        object.add("Endpoint", .string(entry.endpoint))
        object.add("Status", status(entry.status))
        return .object(object)
    }

    static func endpointHashKV(_ entry: EndpointHashKV) -> GoJSON {
        var object = GoJSON.Object()
        object.add("Endpoint", .string(entry.endpoint))
        object.add("HashKV", hashKV(entry.hashKV))
        return .object(object)
    }

    static func alarm(_ response: Etcdserverpb_AlarmResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty(
            "alarms",
            response.alarms.map { alarm in
                var member = GoJSON.Object()
                member.omitEmpty("memberID", alarm.memberID)
                member.omitEmpty("alarm", Int64(alarm.alarm.rawValue))
                return .object(member)
            }
        )
        return .object(object)
    }

    static func snapshotStatus(_ status: SnapshotStatus) -> GoJSON {
        var object = GoJSON.Object()
        object.add("hash", .uint(UInt64(status.hash)))
        object.add("revision", .int(status.revision))
        object.add("totalKey", .int(Int64(status.totalKey)))
        object.add("totalSize", .int(status.totalSize))
        return .object(object)
    }

    static func roleGet(_ response: Etcdserverpb_AuthRoleGetResponse) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(response.hasHeader, response.header))
        object.omitEmpty(
            "perm",
            response.perm.map { perm in
                var permission = GoJSON.Object()
                permission.omitEmpty("permType", Int64(perm.permType.rawValue))
                permission.omitEmpty("key", perm.key)
                permission.omitEmpty("range_end", perm.rangeEnd)
                return .object(permission)
            }
        )
        return .object(object)
    }

    /// Role list, user get and user list: a header and a list of names under `key`.
    static func names(
        _ key: String, _ hasHeader: Bool, _ value: Etcdserverpb_ResponseHeader, _ names: [String]
    ) -> GoJSON {
        var object = GoJSON.Object()
        object.omitEmpty("header", header(hasHeader, value))
        object.omitEmpty(key, names.map { .string($0) })
        return .object(object)
    }
}
