import Foundation
import Prometheus

/// The member's Prometheus metrics, under etcd's names so existing dashboards and alerts apply.
final class MemberMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// etcd's fsync buckets: 1 ms doubling to ~8 s.
    private static let diskBuckets: [Duration] = (0..<14).map { .microseconds(1000 << $0) }

    let walFsync: DurationHistogram
    let backendCommit: DurationHistogram
    let proposalsCommitted: Counter
    let proposalsApplied: Counter
    let proposalsFailed: Counter
    let leaderChanges: Counter
    private let hasLeader: Gauge
    private let isLeader: Gauge
    private let dbTotalSize: Gauge
    private let dbInUseSize: Gauge
    private let currentRevision: Gauge
    private let compactRevision: Gauge
    private let residentMemory: Gauge
    private let virtualMemory: Gauge
    private let cpuSeconds: Gauge
    private let openFDs: Gauge

    init() {
        walFsync = registry.makeDurationHistogram(
            name: "etcd_disk_wal_fsync_duration_seconds", buckets: Self.diskBuckets,
            help: "The latency distributions of fsync called by WAL.")
        backendCommit = registry.makeDurationHistogram(
            name: "etcd_disk_backend_commit_duration_seconds", buckets: Self.diskBuckets,
            help: "The latency distributions of commit called by backend.")
        proposalsCommitted = registry.makeCounter(name: "etcd_server_proposals_committed_total", help: "The total number of consensus proposals committed.")
        proposalsApplied = registry.makeCounter(name: "etcd_server_proposals_applied_total", help: "The total number of consensus proposals applied.")
        proposalsFailed = registry.makeCounter(name: "etcd_server_proposals_failed_total", help: "The total number of failed proposals seen.")
        leaderChanges = registry.makeCounter(name: "etcd_server_leader_changes_seen_total", help: "The number of leader changes seen.")
        hasLeader = registry.makeGauge(name: "etcd_server_has_leader", help: "Whether or not a leader exists. 1 is existence, 0 is not.")
        isLeader = registry.makeGauge(name: "etcd_server_is_leader", help: "Whether or not this member is a leader. 1 if is, 0 otherwise.")
        dbTotalSize = registry.makeGauge(name: "etcd_mvcc_db_total_size_in_bytes", help: "Total size of the underlying database physically allocated in bytes.")
        dbInUseSize = registry.makeGauge(name: "etcd_mvcc_db_total_size_in_use_in_bytes", help: "Total size of the underlying database logically in use in bytes.")
        currentRevision = registry.makeGauge(name: "etcd_debugging_mvcc_current_revision", help: "The current revision of store.")
        compactRevision = registry.makeGauge(name: "etcd_debugging_mvcc_compact_revision", help: "The revision of the last compaction in store.")
        // The process metrics Go's Prometheus client exports for etcd (`etcdctl check datascale` reads
        // the resident memory).
        residentMemory = registry.makeGauge(name: "process_resident_memory_bytes", help: "Resident memory size in bytes.")
        virtualMemory = registry.makeGauge(name: "process_virtual_memory_bytes", help: "Virtual memory size in bytes.")
        cpuSeconds = registry.makeGauge(name: "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.")
        openFDs = registry.makeGauge(name: "process_open_fds", help: "Number of open file descriptors.")
    }

    /// Reads this process's memory, CPU time and open files from /proc.
    private func updateProcessGauges() {
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if fields.count >= 2 {
                virtualMemory.set(fields[0] * pageSize)
                residentMemory.set(fields[1] * pageSize)
            }
        }
        var usage = rusage()
        if getrusage(RUSAGE_SELF.rawValue, &usage) == 0 {
            let seconds = { (time: timeval) in Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
            cpuSeconds.set(seconds(usage.ru_utime) + seconds(usage.ru_stime))
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.set(Double(descriptors.count))
        }
    }

    /// Updates the gauges that are read from the store, then renders every metric in Prometheus'
    /// text format.
    func exposition(store: StoreGauges) -> [UInt8] {
        hasLeader.set(store.hasLeader ? 1.0 : 0.0)
        isLeader.set(store.isLeader ? 1.0 : 0.0)
        dbTotalSize.set(Double(store.totalBytes))
        dbInUseSize.set(Double(store.inUseBytes))
        currentRevision.set(Double(store.revision))
        compactRevision.set(Double(max(store.compactRevision, 0)))
        updateProcessGauges()
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }

    /// What the scrape-time gauges report.
    struct StoreGauges {
        var hasLeader: Bool
        var isLeader: Bool
        var totalBytes: Int
        var inUseBytes: Int
        var revision: Int64
        var compactRevision: Int64
    }
}
