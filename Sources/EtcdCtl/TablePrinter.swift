import EtcdProto

/// etcdctl's `--write-out=table` (printer_table.go): only member list, endpoint health, status and hashkv,
/// and snapshot status have tables; everything else is unsupported in this format.
public struct TablePrinter: Printer {
    public var format: OutputFormat { .table }

    public init() {}

    public func memberList(_ response: Etcdserverpb_MemberListResponse) -> String {
        TableWriter(Rows.memberList(response)).render()
    }

    public func endpointHealth(_ list: [EndpointHealth]) -> PrintedText {
        PrintedText(stdout: TableWriter(Rows.endpointHealth(list)).render())
    }

    public func endpointStatus(_ list: [EndpointStatus]) -> String {
        TableWriter(Rows.endpointStatus(list)).render()
    }

    public func endpointHashKV(_ list: [EndpointHashKV]) -> String {
        TableWriter(Rows.endpointHashKV(list)).render()
    }

    public func snapshotStatus(_ status: SnapshotStatus) -> String {
        TableWriter(Rows.snapshotStatus(status)).render()
    }
}
