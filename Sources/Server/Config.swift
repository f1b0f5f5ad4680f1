/// A member's configuration: etcd's flags with etcd's defaults.
public struct ServerConfig: Sendable {
    public var name = "default"
    /// Defaults to `<name>.setcd`.
    public var dataDir: String?
    public var listenClientURLs = ["http://localhost:2379"]
    public var advertiseClientURLs = ["http://localhost:2379"]
    public var listenPeerURLs = ["http://localhost:2380"]
    public var initialAdvertisePeerURLs = ["http://localhost:2380"]
    /// `name=peerURL,...`; defaults to this member alone.
    public var initialCluster: String?
    public var initialClusterState = "new"
    public var initialClusterToken = "etcd-cluster"
    public var maxTxnOps = 128
    public var maxRequestBytes = 1_572_864
    /// 0 means etcd's default, 2 GiB.
    public var quotaBackendBytes: Int64 = 0
    public var autoCompactionMode = "periodic"
    /// Hours for `periodic` (or a duration like `30m`), revisions for `revision`; "0" disables.
    public var autoCompactionRetention = "0"
    public var enableV2 = false
    public var logLevel = "info"
    /// `--debug` (deprecated in etcd): log at debug level whatever `--log-level` says, as etcd does.
    public var debug = false
    /// Milliseconds.
    public var heartbeatInterval = 100
    /// Milliseconds.
    public var electionTimeout = 1000
    public var snapshotCount = 10_000
    /// Refuse membership changes that could cost the cluster its quorum (etcd's default: on).
    public var strictReconfigCheck = true
    /// Entries kept after a snapshot so slow followers can catch up without one.
    public var snapshotCatchupEntries = 5_000
    /// `--auth-token`: only etcd's default, `simple`, is supported.
    public var authToken = "simple"
    /// Seconds an unused simple token stays valid (`--auth-token-ttl`).
    public var authTokenTTL = 300
    /// `--grpc-keepalive-min-time`: a client that pings more often than this while it has calls open
    /// is disconnected (gRPC's "too many pings"). Zero or less: gRPC's default, 5 minutes, as in etcd.
    public var grpcKeepAliveMinTime: Duration = .seconds(5)
    /// `--grpc-keepalive-interval`: a client connection silent this long is pinged. Zero or less (here
    /// or in the timeout): gRPC's defaults, 2 hours and 20 seconds, as in etcd.
    public var grpcKeepAliveInterval: Duration = .seconds(2 * 60 * 60)
    /// `--grpc-keepalive-timeout`: how long that ping may go unanswered before the connection is closed.
    public var grpcKeepAliveTimeout: Duration = .seconds(20)

    /// etcd's log levels (it also takes zap's `dpanic`, undocumented).
    public static let logLevels: Set<String> = ["debug", "info", "warn", "error", "dpanic", "panic", "fatal"]

    /// The longest periodic retention Go's durations hold, in whole hours (2,562,047).
    static let maxRetentionHours = Int(Int64.max / 3_600_000_000_000)

    public init() {}

    /// etcd's checks of the flags (its `error verifying flags`), in etcd's order, and those of values
    /// setcd cannot run with; throws the first one that fails.
    public func validate() throws {
        guard Self.logLevels.contains(logLevel) else {
            throw ConfigError("unknown level \"\(logLevel)\" for --log-level (use debug, info, warn, error, panic or fatal)")
        }
        if heartbeatInterval <= 0 {
            throw ConfigError("--heartbeat-interval must be >0 (set to \(heartbeatInterval)ms)")
        }
        if electionTimeout <= 0 {
            throw ConfigError("--election-timeout must be >0 (set to \(electionTimeout)ms)")
        }
        // etcd's 5 * heartbeat > election, without overflowing.
        if heartbeatInterval > electionTimeout / 5 {
            throw ConfigError("--election-timeout[\(electionTimeout)ms] should be at least as 5 times as --heartbeat-interval[\(heartbeatInterval)ms]")
        }
        if electionTimeout > 50_000 {
            throw ConfigError("--election-timeout[\(electionTimeout)ms] is too long, and should be set less than 50000ms")
        }
        // A gRPC message's length is 32 bits.
        if maxRequestBytes > Int(UInt32.max) {
            throw ConfigError("--max-request-bytes[\(maxRequestBytes)] is too large, and should be at most \(UInt32.max)")
        }
        // The store maps an eighth more than its quota, which must still fit in 64 bits.
        if quotaBackendBytes > 1 << 62 {
            throw ConfigError("--quota-backend-bytes[\(quotaBackendBytes)] is too large, and should be at most \(Int64(1) << 62)")
        }
        try validateAutoCompaction()
        if authToken != "simple" {
            throw ConfigError("failed to create auth store: --auth-token \"\(authToken)\" is not supported by setcd (only \"simple\")")
        }
        do {
            try Failpoint.validateEnvironment()
        } catch {
            throw ConfigError("\(error)")
        }
    }

    /// `--auto-compaction-mode` and `--auto-compaction-retention` as etcd reads them
    /// (`parseCompactionRetention`): an integer of zero or more is hours in periodic mode and revisions
    /// in revision mode, anything else a Go duration. Also refuses what etcd takes but the member could
    /// not keep to: a negative duration, a duration in revision mode (etcd counts its nanoseconds as
    /// revisions), more hours than a Go duration holds (etcd wraps them around), and a retention with
    /// an empty mode.
    private func validateAutoCompaction() throws {
        let mode = autoCompactionMode
        guard mode == "periodic" || mode == "revision" || mode.isEmpty else {
            throw ConfigError("unknown auto-compaction-mode \"\(mode)\"")
        }
        // An empty retention is etcd's default, 0.
        let retention = autoCompactionRetention.isEmpty ? "0" : autoCompactionRetention
        let enabled: Bool
        if let count = Int(retention), count >= 0 {
            if mode != "revision" && count > Self.maxRetentionHours {
                throw ConfigError("--auto-compaction-retention \"\(retention)\" is too long, and should be at most \(Self.maxRetentionHours) hours")
            }
            enabled = count > 0
        } else {
            let nanoseconds: Int64
            do {
                nanoseconds = try GoDurationParser.nanoseconds(retention)
            } catch {
                throw ConfigError("error parsing CompactionRetention: \(error)")
            }
            if nanoseconds < 0 {
                throw ConfigError("--auto-compaction-retention \"\(retention)\" is negative")
            }
            if mode == "revision" && nanoseconds > 0 {
                throw ConfigError("--auto-compaction-retention \"\(retention)\" is not a number of revisions (--auto-compaction-mode is revision)")
            }
            enabled = nanoseconds > 0
        }
        if mode.isEmpty && enabled {
            throw ConfigError("--auto-compaction-mode must be periodic or revision when --auto-compaction-retention is set")
        }
    }

    /// The data directory actually used.
    public var resolvedDataDir: String { dataDir ?? "\(name).setcd" }

    /// The backend quota in bytes.
    public var resolvedQuota: Int { quotaBackendBytes > 0 ? Int(quotaBackendBytes) : 2 << 30 }

    /// How long a request waits for its proposal to apply (etcd's `ReqTimeout`: 5 s plus two election
    /// timeouts).
    public var requestTimeout: Duration { .seconds(5) + .milliseconds(2 * electionTimeout) }

    /// etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds.
    public var minLeaseTTL: Int64 { Int64((electionTimeout * 3 / 2 + 999) / 1000) }
}
