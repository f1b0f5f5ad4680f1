/// Lines that etcdctl 3.4's commands print themselves, outside the printers (the *_command.go files and
/// error.go), so that setcdctl prints them identically.
public enum CommandText {
    /// stderr line of `ExitWithError`.
    public static func error(_ message: String) -> String {
        "Error: \(message)\n"
    }

    /// stdout of `compaction <rev>`.
    public static func compacted(revision: Int64) -> String {
        "compacted revision \(revision)\n"
    }

    /// stdout line `watch` prints before a progress notification (any format).
    public static func progressNotify(revision: Int64) -> String {
        "progress notify: \(revision)\n"
    }

    /// stderr line `watch` prints when the server cancels the watch.
    public static func watchCanceled(reason: String) -> String {
        "watch was canceled (\(reason))\n"
    }

    /// stdout of `snapshot save <path>`.
    public static func snapshotSaved(path: String) -> String {
        "Snapshot saved at \(path)\n"
    }

    /// stdout line of `defrag` for each endpoint that succeeded.
    public static func defragmented(endpoint: String) -> String {
        "Finished defragmenting etcd member[\(endpoint)]\n"
    }

    /// stderr line of `defrag` for each endpoint that failed.
    public static func defragmentFailed(endpoint: String, reason: String) -> String {
        "Failed to defragment etcd member[\(endpoint)] (\(reason))\n"
    }

    /// stderr line of `endpoint status` for an endpoint that did not answer.
    public static func statusFailed(endpoint: String, reason: String) -> String {
        "Failed to get the status of endpoint \(endpoint) (\(reason))\n"
    }

    /// stderr line of `endpoint hashkv` for an endpoint that did not answer.
    public static func hashKVFailed(endpoint: String, reason: String) -> String {
        "Failed to get the hash of endpoint \(endpoint) (\(reason))\n"
    }
}

/// Go's `time.Duration.String()`, which `endpoint health` prints as "took": `1.395786ms`, `989.806µs`,
/// `2.5s`, `1m0.5s`, `0s`.
public enum GoDuration {
    public static func string(nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        var value = nanoseconds.magnitude
        var out = ""
        if value < 1_000_000_000 {
            let (precision, unit): (Int, String) =
                switch value {
                case ..<1_000: (0, "ns")
                case ..<1_000_000: (3, "µs")
                default: (6, "ms")
                }
            out = unit
            fraction(&value, precision: precision, into: &out)
            out = String(value) + out
        } else {
            out = "s"
            fraction(&value, precision: 9, into: &out)
            out = String(value % 60) + out
            value /= 60
            if value > 0 {
                out = String(value % 60) + "m" + out
                value /= 60
                if value > 0 { out = String(value) + "h" + out }
            }
        }
        return (nanoseconds < 0 ? "-" : "") + out
    }

    /// Go's `fmtFrac`: prepends the last `precision` digits as a fraction without trailing zeros (and
    /// without the point when they are all zero), leaving the integer part in `value`.
    private static func fraction(_ value: inout UInt64, precision: Int, into out: inout String) {
        var digits = ""
        var printing = false
        for _ in 0..<precision {
            let digit = value % 10
            printing = printing || digit != 0
            if printing { digits = String(digit) + digits }
            value /= 10
        }
        if printing { out = "." + digits + out }
    }
}
