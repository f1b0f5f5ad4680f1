import EtcdProto

/// etcdctl's `--write-out` formats that print text.
public enum OutputFormat: String, Sendable, CaseIterable {
    case simple, json, fields, table
}

/// What a printer refuses to print, with the message and exit code etcdctl uses for it.
public enum PrinterError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The format has no rendering for this command (etcdctl's `printerUnsupported`).
    case unsupportedFormat(OutputFormat)

    /// etcdctl's text after "Error: ".
    public var description: String {
        switch self {
        case .unsupportedFormat(let format): "\(format.rawValue) not supported as output format"
        }
    }

    /// The process exit code etcdctl uses (`ExitBadFeature`).
    public var exitCode: Int32 {
        switch self {
        case .unsupportedFormat: ExitCode.badFeature
        }
    }
}

/// etcdctl's exit codes (etcdctl/ctlv3/command/error.go).
public enum ExitCode {
    public static let success: Int32 = 0
    public static let error: Int32 = 1
    public static let badConnection: Int32 = 2
    public static let invalidInput: Int32 = 3
    public static let badFeature: Int32 = 4
    public static let interrupted: Int32 = 5
    public static let io: Int32 = 6
    public static let badArgs: Int32 = 128
}

/// Text for both output streams: etcdctl's simple `endpoint health` writes its verdicts to stderr.
public struct PrintedText: Equatable, Sendable {
    public var stdout: String
    public var stderr: String

    public init(stdout: String = "", stderr: String = "") {
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// The result of checking one endpoint (etcdctl's `epHealth`).
public struct EndpointHealth: Equatable, Sendable {
    public var endpoint: String
    public var health: Bool
    /// How long the check took, as Go's `time.Duration.String()` prints it (see `GoDuration`).
    public var took: String
    /// Empty when healthy.
    public var error: String

    public init(endpoint: String, health: Bool, took: String, error: String = "") {
        self.endpoint = endpoint
        self.health = health
        self.took = took
        self.error = error
    }
}

/// One endpoint's `Maintenance.Status` answer (etcdctl's `epStatus`).
public struct EndpointStatus: Equatable, Sendable {
    public var endpoint: String
    public var status: Etcdserverpb_StatusResponse

    public init(endpoint: String, status: Etcdserverpb_StatusResponse) {
        self.endpoint = endpoint
        self.status = status
    }
}

/// One endpoint's `Maintenance.HashKV` answer (etcdctl's `epHashKV`).
public struct EndpointHashKV: Equatable, Sendable {
    public var endpoint: String
    public var hashKV: Etcdserverpb_HashKVResponse

    public init(endpoint: String, hashKV: Etcdserverpb_HashKVResponse) {
        self.endpoint = endpoint
        self.hashKV = hashKV
    }
}

/// What `snapshot status` reports about a snapshot file (clientv3/snapshot's `Status`).
public struct SnapshotStatus: Equatable, Sendable {
    public var hash: UInt32
    public var revision: Int64
    public var totalKey: Int
    public var totalSize: Int64

    public init(hash: UInt32, revision: Int64, totalKey: Int, totalSize: Int64) {
        self.hash = hash
        self.revision = revision
        self.totalKey = totalKey
        self.totalSize = totalSize
    }
}

/// Renders etcdctl 3.4's output for each command, one method per call of etcdctl's `printer` interface,
/// returning the exact stdout text (newlines included) instead of writing it.
///
/// Methods that a format does not support throw `PrinterError.unsupportedFormat`, as etcdctl exits with
/// "Error: <format> not supported as output format"; the defaults in the extension below do that, so an
/// implementation only writes what its format supports (the Go printers embed `printerUnsupported` alike).
public protocol Printer: Sendable {
    /// The `--write-out` value this printer implements.
    var format: OutputFormat { get }

    func get(_ response: Etcdserverpb_RangeResponse) throws(PrinterError) -> String
    func put(_ response: Etcdserverpb_PutResponse) throws(PrinterError) -> String
    func delete(_ response: Etcdserverpb_DeleteRangeResponse) throws(PrinterError) -> String
    func txn(_ response: Etcdserverpb_TxnResponse) throws(PrinterError) -> String
    /// One response of `watch`; `CommandText.progressNotify` precedes it for progress notifications.
    func watch(_ response: Etcdserverpb_WatchResponse) throws(PrinterError) -> String

    func leaseGrant(_ response: Etcdserverpb_LeaseGrantResponse) throws(PrinterError) -> String
    func leaseRevoke(id: Int64, _ response: Etcdserverpb_LeaseRevokeResponse) throws(PrinterError) -> String
    func leaseKeepAlive(_ response: Etcdserverpb_LeaseKeepAliveResponse) throws(PrinterError) -> String
    /// The line `lease keep-alive` prints when the keep-alive stream ends (simple format only).
    func leaseKeepAliveEnded(id: Int64) -> String
    /// `lease timetolive`; `keys` is the `--keys` flag.
    func leaseTimeToLive(_ response: Etcdserverpb_LeaseTimeToLiveResponse, keys: Bool) throws(PrinterError) -> String
    func leaseList(_ response: Etcdserverpb_LeaseLeasesResponse) throws(PrinterError) -> String

    /// `member add`; the simple format also prints the `ETCD_*` settings for the new member, built from
    /// the command's name argument and its raw `--peer-urls` value.
    func memberAdd(
        _ response: Etcdserverpb_MemberAddResponse, newMemberName: String, peerURLs: String
    ) throws(PrinterError) -> String
    func memberRemove(id: UInt64, _ response: Etcdserverpb_MemberRemoveResponse) throws(PrinterError) -> String
    func memberUpdate(id: UInt64, _ response: Etcdserverpb_MemberUpdateResponse) throws(PrinterError) -> String
    func memberPromote(id: UInt64, _ response: Etcdserverpb_MemberPromoteResponse) throws(PrinterError) -> String
    func memberList(_ response: Etcdserverpb_MemberListResponse) throws(PrinterError) -> String

    func endpointHealth(_ list: [EndpointHealth]) throws(PrinterError) -> PrintedText
    func endpointStatus(_ list: [EndpointStatus]) throws(PrinterError) -> String
    func endpointHashKV(_ list: [EndpointHashKV]) throws(PrinterError) -> String
    func moveLeader(from leader: UInt64, to target: UInt64, _ response: Etcdserverpb_MoveLeaderResponse)
        throws(PrinterError) -> String

    func alarm(_ response: Etcdserverpb_AlarmResponse) throws(PrinterError) -> String
    func snapshotStatus(_ status: SnapshotStatus) throws(PrinterError) -> String

    func roleAdd(_ role: String, _ response: Etcdserverpb_AuthRoleAddResponse) throws(PrinterError) -> String
    func roleGet(_ role: String, _ response: Etcdserverpb_AuthRoleGetResponse) throws(PrinterError) -> String
    func roleDelete(_ role: String, _ response: Etcdserverpb_AuthRoleDeleteResponse) throws(PrinterError) -> String
    func roleList(_ response: Etcdserverpb_AuthRoleListResponse) throws(PrinterError) -> String
    func roleGrantPermission(_ role: String, _ response: Etcdserverpb_AuthRoleGrantPermissionResponse)
        throws(PrinterError) -> String
    /// `role revoke-permission`; `rangeEnd` is empty for a single key and "\0" for an open-ended range.
    func roleRevokePermission(
        _ role: String, key: String, rangeEnd: String, _ response: Etcdserverpb_AuthRoleRevokePermissionResponse
    ) throws(PrinterError) -> String

    func userAdd(_ user: String, _ response: Etcdserverpb_AuthUserAddResponse) throws(PrinterError) -> String
    func userGet(_ user: String, _ response: Etcdserverpb_AuthUserGetResponse) throws(PrinterError) -> String
    func userList(_ response: Etcdserverpb_AuthUserListResponse) throws(PrinterError) -> String
    func userChangePassword(_ response: Etcdserverpb_AuthUserChangePasswordResponse) throws(PrinterError) -> String
    func userGrantRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserGrantRoleResponse)
        throws(PrinterError) -> String
    func userRevokeRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserRevokeRoleResponse)
        throws(PrinterError) -> String
    func userDelete(_ user: String, _ response: Etcdserverpb_AuthUserDeleteResponse) throws(PrinterError) -> String
}

/// The printer for `--write-out`, as etcdctl's `NewPrinter`; `hex` is `--hex` (simple format only).
public func makePrinter(_ format: OutputFormat, hex: Bool = false) -> any Printer {
    switch format {
    case .simple: SimplePrinter(hex: hex)
    case .json: JSONPrinter()
    case .fields: FieldsPrinter()
    case .table: TablePrinter()
    }
}

extension Printer {
    public func get(_ response: Etcdserverpb_RangeResponse) throws(PrinterError) -> String { throw unsupported }
    public func put(_ response: Etcdserverpb_PutResponse) throws(PrinterError) -> String { throw unsupported }
    public func delete(_ response: Etcdserverpb_DeleteRangeResponse) throws(PrinterError) -> String {
        throw unsupported
    }
    public func txn(_ response: Etcdserverpb_TxnResponse) throws(PrinterError) -> String { throw unsupported }
    public func watch(_ response: Etcdserverpb_WatchResponse) throws(PrinterError) -> String { throw unsupported }

    public func leaseGrant(_ response: Etcdserverpb_LeaseGrantResponse) throws(PrinterError) -> String {
        throw unsupported
    }
    public func leaseRevoke(id: Int64, _ response: Etcdserverpb_LeaseRevokeResponse) throws(PrinterError) -> String {
        throw unsupported
    }
    public func leaseKeepAlive(_ response: Etcdserverpb_LeaseKeepAliveResponse) throws(PrinterError) -> String {
        throw unsupported
    }
    public func leaseKeepAliveEnded(id: Int64) -> String { "" }
    public func leaseTimeToLive(_ response: Etcdserverpb_LeaseTimeToLiveResponse, keys: Bool) throws(PrinterError)
        -> String
    { throw unsupported }
    public func leaseList(_ response: Etcdserverpb_LeaseLeasesResponse) throws(PrinterError) -> String {
        throw unsupported
    }

    public func memberAdd(
        _ response: Etcdserverpb_MemberAddResponse, newMemberName: String, peerURLs: String
    ) throws(PrinterError) -> String { throw unsupported }
    public func memberRemove(id: UInt64, _ response: Etcdserverpb_MemberRemoveResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func memberUpdate(id: UInt64, _ response: Etcdserverpb_MemberUpdateResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func memberPromote(id: UInt64, _ response: Etcdserverpb_MemberPromoteResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func memberList(_ response: Etcdserverpb_MemberListResponse) throws(PrinterError) -> String {
        throw unsupported
    }

    public func endpointHealth(_ list: [EndpointHealth]) throws(PrinterError) -> PrintedText { throw unsupported }
    public func endpointStatus(_ list: [EndpointStatus]) throws(PrinterError) -> String { throw unsupported }
    public func endpointHashKV(_ list: [EndpointHashKV]) throws(PrinterError) -> String { throw unsupported }
    public func moveLeader(from leader: UInt64, to target: UInt64, _ response: Etcdserverpb_MoveLeaderResponse)
        throws(PrinterError) -> String
    { throw unsupported }

    public func alarm(_ response: Etcdserverpb_AlarmResponse) throws(PrinterError) -> String { throw unsupported }
    public func snapshotStatus(_ status: SnapshotStatus) throws(PrinterError) -> String { throw unsupported }

    public func roleAdd(_ role: String, _ response: Etcdserverpb_AuthRoleAddResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func roleGet(_ role: String, _ response: Etcdserverpb_AuthRoleGetResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func roleDelete(_ role: String, _ response: Etcdserverpb_AuthRoleDeleteResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func roleList(_ response: Etcdserverpb_AuthRoleListResponse) throws(PrinterError) -> String {
        throw unsupported
    }
    public func roleGrantPermission(_ role: String, _ response: Etcdserverpb_AuthRoleGrantPermissionResponse)
        throws(PrinterError) -> String
    { throw unsupported }
    public func roleRevokePermission(
        _ role: String, key: String, rangeEnd: String, _ response: Etcdserverpb_AuthRoleRevokePermissionResponse
    ) throws(PrinterError) -> String { throw unsupported }

    public func userAdd(_ user: String, _ response: Etcdserverpb_AuthUserAddResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func userGet(_ user: String, _ response: Etcdserverpb_AuthUserGetResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func userList(_ response: Etcdserverpb_AuthUserListResponse) throws(PrinterError) -> String {
        throw unsupported
    }
    public func userChangePassword(_ response: Etcdserverpb_AuthUserChangePasswordResponse) throws(PrinterError)
        -> String
    { throw unsupported }
    public func userGrantRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserGrantRoleResponse)
        throws(PrinterError) -> String
    { throw unsupported }
    public func userRevokeRole(_ user: String, role: String, _ response: Etcdserverpb_AuthUserRevokeRoleResponse)
        throws(PrinterError) -> String
    { throw unsupported }
    public func userDelete(_ user: String, _ response: Etcdserverpb_AuthUserDeleteResponse) throws(PrinterError)
        -> String
    { throw unsupported }

    private var unsupported: PrinterError { .unsupportedFormat(format) }
}
