#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Prints the seeds of the simulations in progress if the process dies (a `precondition` in the Raft
/// module traps, which would otherwise lose the seed), then hands the signal to the previous handler
/// (Swift's backtracer). Each concurrently running batch owns a slot.
enum CrashReporter {
    static let slots = 64
    static let signals: [Int32] = [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS]
    nonisolated(unsafe) static let running: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: slots)
        p.initialize(repeating: UInt64.max, count: slots)
        return p
    }()
    nonisolated(unsafe) static let previous: UnsafeMutablePointer<sigaction> = {
        let p = UnsafeMutablePointer<sigaction>.allocate(capacity: 32)
        p.initialize(repeating: sigaction(), count: 32)
        return p
    }()
    /// Installs the handler once per process (a `static let` initializer runs exactly once, even
    /// when several batches start at the same time).
    static let install: Void = {
        for sig in signals {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = { sig in CrashReporter.report(sig) }
            #else
            action.__sigaction_u.__sa_handler = { sig in CrashReporter.report(sig) }
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, previous + Int(sig))
        }
    }()

    private static func report(_ sig: Int32) {
        for i in 0..<slots where running[i] != UInt64.max {
            let seed = running[i]
            let line = "\nRaft simulation crashed; seed \(seed) was running. Rerun it with:\n  RAFT_SEED=\(seed) swift test --filter RaftTests\n\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
        // Restore the previous handler (the backtracer) and return: the trapping instruction runs
        // again and the previous handler sees the real fault.
        sigaction(sig, previous + Int(sig), nil)
    }

    static func setRunning(slot: Int, seed: UInt64?) {
        running[slot % slots] = seed ?? UInt64.max
    }
}
