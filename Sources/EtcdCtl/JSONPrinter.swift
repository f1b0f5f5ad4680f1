import EtcdProto

/// etcdctl's `--write-out=json` (printer_json.go): Go's `encoding/json` of the clientv3 value, one line.
///
/// Most commands marshal the protobuf response itself; lease and watch commands marshal clientv3's wrapper
/// structs (header fields promoted to the top level, Go field names as keys), reproduced in `JSONEncoding`.
/// `member promote` crashes etcdctl 3.4 in this format; here it prints the response like `member remove`.
public struct JSONPrinter: Printer {
    public var format: OutputFormat { .json }

    public init() {}

    public func delete(_ response: Etcdserverpb_DeleteRangeResponse) -> String {
        line(JSONEncoding.deleteRange(response))
    }

    public func get(_ response: Etcdserverpb_RangeResponse) -> String {
        line(JSONEncoding.range(response))
    }

    public func put(_ response: Etcdserverpb_PutResponse) -> String {
        line(JSONEncoding.put(response))
    }

    public func txn(_ response: Etcdserverpb_TxnResponse) -> String {
        line(JSONEncoding.txn(response))
    }

    public func watch(_ response: Etcdserverpb_WatchResponse) -> String {
        line(JSONEncoding.watch(response))
    }

    public func leaseGrant(_ response: Etcdserverpb_LeaseGrantResponse) -> String {
        line(JSONEncoding.leaseGrant(response))
    }

    public func leaseRevoke(id: Int64, _ response: Etcdserverpb_LeaseRevokeResponse) -> String {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func leaseKeepAlive(_ response: Etcdserverpb_LeaseKeepAliveResponse) -> String {
        line(JSONEncoding.leaseKeepAlive(response))
    }

    public func leaseTimeToLive(_ response: Etcdserverpb_LeaseTimeToLiveResponse, keys: Bool) -> String {
        line(JSONEncoding.leaseTimeToLive(response))
    }

    public func leaseList(_ response: Etcdserverpb_LeaseLeasesResponse) -> String {
        line(JSONEncoding.leaseList(response))
    }

    public func memberAdd(
        _ response: Etcdserverpb_MemberAddResponse, newMemberName: String, peerURLs: String
    ) -> String {
        line(JSONEncoding.memberAdd(response))
    }

    public func memberRemove(id: UInt64, _ response: Etcdserverpb_MemberRemoveResponse) -> String {
        line(JSONEncoding.members(response.hasHeader, response.header, response.members))
    }

    public func memberUpdate(id: UInt64, _ response: Etcdserverpb_MemberUpdateResponse) -> String {
        line(JSONEncoding.members(response.hasHeader, response.header, response.members))
    }

    public func memberPromote(id: UInt64, _ response: Etcdserverpb_MemberPromoteResponse) -> String {
        line(JSONEncoding.members(response.hasHeader, response.header, response.members))
    }

    public func memberList(_ response: Etcdserverpb_MemberListResponse) -> String {
        line(JSONEncoding.members(response.hasHeader, response.header, response.members))
    }

    public func endpointHealth(_ list: [EndpointHealth]) -> PrintedText {
        PrintedText(stdout: line(.array(list.map(JSONEncoding.endpointHealth))))
    }

    public func endpointStatus(_ list: [EndpointStatus]) -> String {
        line(.array(list.map(JSONEncoding.endpointStatus)))
    }

    public func endpointHashKV(_ list: [EndpointHashKV]) -> String {
        line(.array(list.map(JSONEncoding.endpointHashKV)))
    }

    public func moveLeader(from leader: UInt64, to target: UInt64, _ response: Etcdserverpb_MoveLeaderResponse)
        -> String
    {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func alarm(_ response: Etcdserverpb_AlarmResponse) -> String {
        line(JSONEncoding.alarm(response))
    }

    public func snapshotStatus(_ status: SnapshotStatus) -> String {
        line(JSONEncoding.snapshotStatus(status))
    }

    public func roleAdd(_ role: String, _ response: Etcdserverpb_AuthRoleAddResponse) -> String {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func roleGet(_ role: String, _ response: Etcdserverpb_AuthRoleGetResponse) -> String {
        line(JSONEncoding.roleGet(response))
    }

    public func roleDelete(_ role: String, _ response: Etcdserverpb_AuthRoleDeleteResponse) -> String {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func roleList(_ response: Etcdserverpb_AuthRoleListResponse) -> String {
        line(JSONEncoding.names("roles", response.hasHeader, response.header, response.roles))
    }

    public func roleGrantPermission(_ role: String, _ response: Etcdserverpb_AuthRoleGrantPermissionResponse)
        -> String
    {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func roleRevokePermission(
        _ role: String, key: String, rangeEnd: String, _ response: Etcdserverpb_AuthRoleRevokePermissionResponse
    ) -> String {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func userAdd(_ user: String, _ response: Etcdserverpb_AuthUserAddResponse) -> String {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func userGet(_ user: String, _ response: Etcdserverpb_AuthUserGetResponse) -> String {
        line(JSONEncoding.names("roles", response.hasHeader, response.header, response.roles))
    }

    public func userList(_ response: Etcdserverpb_AuthUserListResponse) -> String {
        line(JSONEncoding.names("users", response.hasHeader, response.header, response.users))
    }

    public func userChangePassword(_ response: Etcdserverpb_AuthUserChangePasswordResponse) -> String {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func userGrantRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserGrantRoleResponse)
        -> String
    {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func userRevokeRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserRevokeRoleResponse)
        -> String
    {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    public func userDelete(_ user: String, _ response: Etcdserverpb_AuthUserDeleteResponse) -> String {
        line(JSONEncoding.headerOnly(response.hasHeader, response.header))
    }

    /// `fmt.Println(string(json.Marshal(v)))`.
    private func line(_ value: GoJSON) -> String {
        value.encoded + "\n"
    }
}
