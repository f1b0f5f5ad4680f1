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
                /// Waits until the second locker has queued (its key beside the first holder's), so that it is
                /// seen waiting for the lock, not still starting.
                let queued = waitUntil(seconds: 20) { keyCount(s, under: "mylock/") == 2 }
                s.record("second locker while the first holds the lock",
                         "queued: \(queued), running: \(second.isRunning), printed: \(second.stdout.debugDescription)")
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
                // The third locker, once it holds the lock, lists the lock's keys: only its own, so the dead
                // holder's key was gone (its lease expired: nothing else removes it) before the lock was granted.
                // (Checked by what the lock excludes, not by how long the wait took.)
                let third = s.ctlUnrecorded(["lock", "mylock", "--", s.etcdctlPath] + s.globalArguments + ["get", "mylock/", "--prefix", "--keys-only"],
                                            timeout: 30)
                s.record("lock mylock -- etcdctl get mylock/ --prefix --keys-only, after a holder with --ttl=2 was killed",
                         Session.render(third))
                if let deadKey = killed.stdout.split(separator: "\n").first, let lease = deadKey.split(separator: "/").last {
                    s.ctl("lease", "timetolive", String(lease))
                } else {
                    s.record("the killed holder's key", "not printed: \(killed.stdout.debugDescription)")
                }
                s.ctl("get", "mylock", "--prefix", "--keys-only")
            }
        }

        @Test func elect() throws {
            try differential { s in
                let observer = try s.background(["elect", "-l", "myelection"])
                /// Not a wait for readiness: with nobody leading an observer prints nothing and changes nothing, so
                /// there is nothing to wait for; the 0.5 s is the window in which it must stay silent. (That it is
                /// in place is seen below, when it prints the first leader.)
                Thread.sleep(forTimeInterval: 0.5)
                s.record("observer before any candidate", observer.stdout.debugDescription)

                let first = try s.background(["elect", "myelection", "cand1"])
                let firstLeads = first.waitForStdout(seconds: 5) { $0.split(separator: "\n").count >= 2 }
                observer.waitForStdout(seconds: 5) { $0.split(separator: "\n").count >= 2 }
                s.record("first candidate elected", "\(firstLeads)\n\(first.stdout)")
                s.record("observer sees the first leader", observer.stdout)

                let second = try s.background(["elect", "myelection", "cand2"])
                /// Waits until the second candidate has queued (its key beside the leader's), so that it is seen
                /// waiting to be elected, not still starting.
                let queued = waitUntil(seconds: 20) { keyCount(s, under: "myelection/") == 2 }
                s.record("second candidate queued", "\(queued)")
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
                /// Not a wait for readiness: the window in which the observer, with nobody leading any more, must
                /// print nothing more.
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
