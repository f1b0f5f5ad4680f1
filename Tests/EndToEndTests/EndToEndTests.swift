import Testing

/// End-to-end differential tests (DESIGN.md §7): every scenario starts a real etcd 3.4 (the oracle) and a real
/// setcd with the same command line, runs the same etcdctl commands against both (the two at once, each on its
/// own server) and compares normalised output step by step; see Support/Differential.swift and
/// Support/Normalizer.swift. A failing step is reported as "etcd printed this, setcd printed that".
///
/// Binaries: setcd from $SETCD_BIN or next to the test bundle (.build/<config>/setcd); etcd and etcdctl from
/// $ETCD_BIN / $ETCDCTL_BIN or /usr/bin (Debian's etcd-server and etcd-client). E2E_TRACE=1 prints progress
/// and timings, E2E_DUMP=1 both transcripts, E2E_KEEP=1 keeps the servers' data dirs and logs.
///
/// Scenarios run one after another: they start servers, keep background clients running and sleep through
/// lease expiry, and running them in parallel on a small machine makes those timing-sensitive steps flaky.
@Suite(.serialized)
enum EndToEnd {}
