import Foundation
import Testing

extension EndToEnd {
    /// etcdctl's lock and elect run etcd's client-side recipes (sorted ranges with max_create_revision, txns on
    /// create revision, watches from a revision); compared here by behaviour, lease ids normalised.
    @Suite struct LockAndElect {
        @Test func lock() throws {
            try differential { s in
                // Runs a command while holding the lock, then releases it.
                s.ctl(["lock", "mylock", "echo", "hi"])
                s.ctl(["lock", "mylock", "sh", "-c", "echo held; exit 3"])
                s.ctl("get", "mylock", "--prefix", "--keys-only")

                // A holder without a command prints the lock key and holds it until signalled.
                let first = try s.background(["lock", "mylock"])
                let acquired = first.waitForStdout(seconds: 5) { $0.contains("\n") }
                s.record("first holder acquired", "\(acquired): \(first.stdout)")
                s.ctl("get", "mylock", "--prefix", "--keys-only")

                // A second locker waits for the first.
                let second = try s.background(["lock", "mylock", "echo", "second got it"])
                Thread.sleep(forTimeInterval: 1.0)
                s.record("second locker while the first holds the lock",
                         "running: \(second.isRunning), printed: \(second.stdout.debugDescription)")
                s.ctl("get", "mylock", "--prefix", "--keys-only", "--sort-by=CREATE")

                first.signal(SIGTERM)  // etcdctl unlocks (revokes its session lease) on SIGTERM
                let firstResult = first.finish(timeout: 10)
                s.record("first holder after SIGTERM", Session.render(firstResult))
                let secondResult = second.finish(timeout: 10)
                s.record("second locker after the first released", Session.render(secondResult))
                s.ctl("get", "mylock", "--prefix", "--keys-only")

                // --ttl: a holder that dies without unlocking loses the lock when its lease expires.
                let killed = try s.background(["lock", "--ttl=2", "mylock"])
                killed.waitForStdout(seconds: 5) { $0.contains("\n") }
                killed.signal(SIGKILL)
                killed.wait(seconds: 5)
                let started = Date()
                let third = s.ctlUnrecorded(["lock", "mylock", "echo", "third"], timeout: 15)
                let waited = Date().timeIntervalSince(started)
                s.record("lock after a holder was killed (ttl 2 s)",
                         Session.render(third) + "\nwaited for the lease to expire: \(waited > 0.5 && waited < 8)")
                s.ctl("get", "mylock", "--prefix", "--keys-only")
            }
        }

        @Test func elect() throws {
            try differential { s in
                let observer = try s.background(["elect", "-l", "myelection"])
                Thread.sleep(forTimeInterval: 0.5)
                s.record("observer before any candidate", observer.stdout.debugDescription)

                let first = try s.background(["elect", "myelection", "cand1"])
                let firstLeads = first.waitForStdout(seconds: 5) { $0.split(separator: "\n").count >= 2 }
                observer.waitForStdout(seconds: 5) { $0.split(separator: "\n").count >= 2 }
                s.record("first candidate elected", "\(firstLeads)\n\(first.stdout)")
                s.record("observer sees the first leader", observer.stdout)

                let second = try s.background(["elect", "myelection", "cand2"])
                Thread.sleep(forTimeInterval: 1.0)
                s.record("second candidate while the first leads",
                         "running: \(second.isRunning), printed: \(second.stdout.debugDescription)")
                s.ctl("get", "myelection", "--prefix", "--sort-by=CREATE")

                first.signal(SIGTERM)  // resigns
                s.record("first candidate after SIGTERM", Session.render(first.finish(timeout: 10)))
                let secondLeads = second.waitForStdout(seconds: 5) { $0.split(separator: "\n").count >= 2 }
                observer.waitForStdout(seconds: 5) { $0.split(separator: "\n").count >= 4 }
                s.record("second candidate elected", "\(secondLeads)\n\(second.stdout)")
                s.record("observer sees the second leader", observer.stdout)
                s.ctl("get", "myelection", "--prefix", "--sort-by=CREATE")

                second.signal(SIGTERM)
                s.record("second candidate after SIGTERM", Session.render(second.finish(timeout: 10)))
                Thread.sleep(forTimeInterval: 0.5)
                s.record("observer at the end", Session.render(observer.stop()).replacingOccurrences(
                    of: #"^exit: [^\n]*\n"#, with: "", options: .regularExpression))
                s.ctl("get", "myelection", "--prefix")
                // Observing when nobody leads waits; a one-shot observer with a timeout shows nothing.
                s.ctl(["elect", "-l", "myelection"], timeout: 1.5)
            }
        }
    }
}
