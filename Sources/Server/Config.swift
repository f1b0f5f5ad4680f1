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

    public init() {}

    /// etcd's checks of flag combinations (its `error verifying flags`); throws the first one that fails.
    public func validate() throws {
        if 5 * heartbeatInterval > electionTimeout {
            throw ConfigError("--election-timeout[\(electionTimeout)ms] should be at least as 5 times as --heartbeat-interval[\(heartbeatInterval)ms]")
        }
        if authToken != "simple" {
            throw ConfigError("failed to create auth store: --auth-token \"\(authToken)\" is not supported by setcd (only \"simple\")")
        }
        if electionTimeout > 50_000 {
            throw ConfigError("--election-timeout[\(electionTimeout)ms] is too long, and should be set less than 50000ms")
        }
        do {
            try Failpoint.validateEnvironment()
        } catch {
            throw ConfigError("\(error)")
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
