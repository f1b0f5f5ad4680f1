import Foundation
import Testing

extension EndToEnd {
    @Suite struct Watch {
        /// Historic watches (--rev), key / range / prefix, --prev-kv, in every output format.
        @Test func historicWatches() throws {
            try differential { s in
                s.ctl("put", "w/a", "1")  // 2
                s.ctl("put", "w/b", "1")  // 3
                s.ctl("put", "w/a", "2")  // 4
                s.ctl("put", "x", "outside")  // 5
                s.ctl("del", "w/b")  // 6
                s.ctl("put", "w/c", "1")  // 7
                s.ctl(["txn"], stdin: lines("", "put w/a 3", "put w/d 1", "del w/c", "", ""))  // 8: three events
                s.ctl("del", "w/", "--prefix")  // 9: two deletes
                s.ctl("put", "w/a", "4")  // 10

                try s.watch(["w/a", "--rev", "1"], events: 5)
                try s.watch(["w/a", "--rev", "3", "--prev-kv"], events: 4)
                try s.watch(["w/", "--prefix", "--rev", "2"], events: 11)
                try s.watch(["w/", "--prefix", "--rev", "2", "--prev-kv"], events: 11)
                try s.watch(["w/", "--prefix", "--rev", "7", "-w", "json"], events: 7)
                try s.watch(["w/", "--prefix", "--rev", "7", "--prev-kv", "-w", "json"], events: 7)
                try s.watch(["w/", "--prefix", "--rev", "8", "-w", "fields"], events: 6)
                try s.watch(["w/b", "w/d", "--rev", "1"], events: 4)  // range [w/b, w/d)
                try s.watch(["w/a", "--rev", "10"], events: 1)
                try s.watch(["x", "--rev", "4", "--prev-kv"], events: 1)
                try s.watch(["--rev", "5", "x", "--prev-kv", "-w", "json"], events: 1)
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }

        /// Live watches: etcdctl watch running in the background while puts, deletes and txns happen.
        @Test func liveWatches() throws {
            try differential { s in
                s.ctl("put", "live/a", "0")
                s.ctl("put", "other", "0")
                let writes = {
                    s.ctl("put", "live/a", "1")
                    s.ctl("put", "other", "1")
                    s.ctl("put", "live/b", "1")
                    s.ctl(["txn"], stdin: lines("", "put live/c 1", "put live/a 2", "", ""))
                    s.ctl("del", "live/b")
                    s.ctl("del", "live/", "--prefix")
                    s.ctl("put", "live/a", "3")
                }
                // One watch at a time, each seeing the same writes (fresh keys each round would shift
                // revisions identically on both servers anyway). Each live watch is confirmed in place by
                // unrecorded puts of live/a (or other) before the writes, instead of a fixed wait: see
                // `Session.confirmLiveWatches`. Both servers get the same probe puts.
                var liveProbes = 0
                liveProbes += try s.watch(["live/", "--prefix"], events: 8, probe: "live/a", during: writes)
                liveProbes += try s.watch(["live/a", "--prev-kv"], events: 4, probe: "live/a", during: writes)
                liveProbes += try s.watch(["live/", "--prefix", "--prev-kv", "-w", "json"], events: 8, probe: "live/a", during: writes)
                try s.watch(["other"], events: 1, probe: "other", during: writes)

                // Several watchers at once, one of them with a past revision: all see the same events.
                let a = try s.background(["watch", "live/", "--prefix"])
                let b = try s.background(["watch", "live/a"])
                let c = try s.background(["watch", "live/", "--prefix", "--rev", "2"])
                /// Waits until the two live watchers are in place (both printed a put of live/a); c, from a past
                /// revision, sees every event whenever it starts.
                let confirmed = s.confirmLiveWatches([a, b], probing: "live/a")
                liveProbes += confirmed?.values.count ?? 0
                writes()
                // 8 live/ events per round of writes, 5 rounds, the first put of live/a, and every probe put
                // of live/a: c replays them all from revision 2.
                let watchers = [("prefix", a, 8, confirmed?.printed[0] ?? 0), ("key", b, 4, confirmed?.printed[1] ?? 0),
                                ("prefix from rev 2", c, 41 + liveProbes, 0)]
                for (name, child, events, probePart) in watchers {
                    child.waitForStdout(seconds: 10) { countWatchEvents(Session.dropping(probePart, from: $0)) >= events }
                    /// Not a wait for readiness: a short window after the expected events, in which extra or
                    /// duplicate events would show.
                    Thread.sleep(forTimeInterval: 0.2)
                    s.record("concurrent watcher \(name)", Session.dropping(probePart, from: child.stop().stdout))
                }
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }
    }
}
