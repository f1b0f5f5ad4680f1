#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LMDB
import Logging
import MVCC
import WAL

/// What a member does when its own disk fails under it (ENOSPC, EIO, a failed fsync): it stops, as etcd
/// does, because it can no longer promise that what it acknowledges is durable. It says so in one log
/// line naming the file and the error number, and exits with status 1 — no trap, no backtrace. Nothing
/// acknowledged is lost: every entry was in the write-ahead log before any client heard of it, and a
/// restart once the cause is gone replays what the store had not recorded.
enum StorageFailure {
    /// Logs the failure of `operation` on `file` and exits with status 1.
    static func stop(_ logger: Logger, _ operation: String, file: String, error: any Error) -> Never {
        // LMDB reports a write cut short by a full disk as EIO: say which it was.
        let full = freeBytes(near: file).map { $0 < 1 << 20 } ?? false
        logger.critical("\(operation) failed on \(file): \(describe(error))\(full ? "; its file system is full" : ""); stopping this member. Free space or repair the disk, then restart it: nothing acknowledged is lost")
        exit(1)
    }

    /// The bytes free for unprivileged writes on the file system holding `path` (or its directory).
    static func freeBytes(near path: String) -> Int? {
        var stats = statvfs()
        for candidate in [path, (path as NSString).deletingLastPathComponent] where statvfs(candidate, &stats) == 0 {
            return Int(stats.f_bavail) * Int(stats.f_frsize)
        }
        return nil
    }

    /// The error in an operator's words: the system's text and errno where there is one.
    static func describe(_ error: any Error) -> String {
        switch error {
        case MVCCError.storage(let lmdb): return describe(lmdb)
        case MVCCError.noSpace: return "the database reached its quota (--quota-backend-bytes)"
        case let lmdb as LMDBError where lmdb.code > 0: return "\(String(cString: strerror(lmdb.code))) (errno \(lmdb.code))"
        case let lmdb as LMDBError: return "\(lmdb)"
        case WALError.io(let operation, let code): return "\(operation): \(String(cString: strerror(code))) (errno \(code))"
        default: return "\(error)"
        }
    }
}
