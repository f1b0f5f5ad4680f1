import Server

/// `setcd --help` in etcd's layout: the usage (which etcd prints on stderr, also after a malformed
/// command line) and, for stdout, every flag setcd implements with its default and meaning, grouped
/// and worded as in etcd's help (flags setcd only accepts at etcd's default are not listed).
enum Help {
    static let usage = """
        Usage:

          setcd [flags]
            Start a setcd member (etcd's flags and ETCD_* environment variables).

          setcd --version
            Show the version of setcd.

          setcd -h | --help
            Show the help information about setcd.
        """

    private static let defaults = ServerConfig()

    static let flags = """
        Member:
          --name '\(defaults.name)'
            Human-readable name for this member.
          --data-dir '${name}.setcd'
            Path to the data directory.
          --snapshot-count '\(defaults.snapshotCount)'
            Number of committed transactions to trigger a snapshot to disk.
          --snapshot-catchup-entries '\(defaults.snapshotCatchupEntries)'
            Number of entries for a slow follower to catch up after compacting the raft storage entries.
          --heartbeat-interval '\(defaults.heartbeatInterval)'
            Time (in milliseconds) of a heartbeat interval.
          --election-timeout '\(defaults.electionTimeout)'
            Time (in milliseconds) for an election to timeout. See tuning documentation for details.
          --listen-peer-urls '\(defaults.listenPeerURLs.joined(separator: ","))'
            List of URLs to listen on for peer traffic (http:// only; setcd serves the first one).
          --listen-client-urls '\(defaults.listenClientURLs.joined(separator: ","))'
            List of URLs to listen on for client traffic (http:// only).
          --quota-backend-bytes '\(defaults.quotaBackendBytes)'
            Raise alarms when backend size exceeds the given quota (0 defaults to 2 GiB).
          --max-txn-ops '\(defaults.maxTxnOps)'
            Maximum number of operations permitted in a transaction.
          --max-request-bytes '\(defaults.maxRequestBytes)'
            Maximum client request size in bytes the server will accept.
          --grpc-keepalive-min-time '5s'
            Minimum duration interval that a client should wait before pinging server.
          --grpc-keepalive-interval '2h'
            Frequency duration of server-to-client ping to check if a connection is alive (0 for the default, 2h).
          --grpc-keepalive-timeout '20s'
            Additional duration of wait before closing a non-responsive connection (0 for the default, 20s).

        Clustering:
          --initial-advertise-peer-urls '\(defaults.initialAdvertisePeerURLs.joined(separator: ","))'
            List of this member's peer URLs to advertise to the rest of the cluster.
          --initial-cluster '\(defaults.name)=\(defaults.initialAdvertisePeerURLs.joined(separator: ","))'
            Initial cluster configuration for bootstrapping.
          --initial-cluster-state '\(defaults.initialClusterState)'
            Initial cluster state ('new' or 'existing').
          --initial-cluster-token '\(defaults.initialClusterToken)'
            Initial cluster token for the etcd cluster during bootstrap.
            Specifying this can protect you from unintended cross-cluster interaction when running multiple clusters.
          --advertise-client-urls '\(defaults.advertiseClientURLs.joined(separator: ","))'
            List of this member's client URLs to advertise to the public.
            The client URLs advertised should be accessible to machines that talk to etcd cluster. etcd client libraries parse these URLs to connect to the cluster.
          --strict-reconfig-check '\(defaults.strictReconfigCheck)'
            Reject reconfiguration requests that would cause quorum loss.
          --auto-compaction-retention '\(defaults.autoCompactionRetention)'
            Auto compaction retention length. 0 means disable auto compaction.
          --auto-compaction-mode '\(defaults.autoCompactionMode)'
            Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention.
          --enable-v2 '\(defaults.enableV2)'
            Accept etcd V2 client requests.

        Auth:
          --auth-token '\(defaults.authToken)'
            Specify a v3 authentication token type ('simple' only; setcd does not support 'jwt').
          --auth-token-ttl \(defaults.authTokenTTL)
            Time (in seconds) of the auth-token-ttl.

        Logging:
          --log-level '\(defaults.logLevel)'
            Configures log level. Only supports debug, info, warn, error, panic, or fatal.

        TO BE DEPRECATED:

          --debug '\(defaults.debug)'
            Enable debug-level logging for setcd. Use '--log-level=debug' instead.
        """
}
