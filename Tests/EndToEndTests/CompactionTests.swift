import Foundation
import Testing

extension EndToEnd {
    @Suite struct Compaction {
        /// Compaction, then reads below / at / above it and in the future, and a watch from before it.
        @Test func readsAndWatchesAroundACompaction() throws {
            try differential { s in
                for i in 1...9 { s.ctl("put", "c/\(i % 3)", "v\(i)") }  // revisions 2...10
                s.ctl("del", "c/0")  // 11
                s.ctl("put", "c/3", "v11")  // 12
                s.ctl("get", "c/", "--prefix", "-w", "json")
                s.ctl("compaction", "6")
                s.ctl("compaction", "6", "-w", "json")  // again: already compacted
                s.ctl("compaction", "3")  // below it
                for rev in ["1", "5"] {
                    s.ctl("get", "c/", "--prefix", "--rev", rev)
                    s.ctl("get", "c/", "--prefix", "--rev", rev, "-w", "json")
                }
                for rev in ["6", "7", "11", "12"] {
                    s.ctl("get", "c/", "--prefix", "--rev", rev, "-w", "json")
                }
                s.ctl("get", "c/1", "--rev", "6")
                // the future
                s.ctl("get", "c/", "--prefix", "--rev", "13")
                s.ctl("get", "c/", "--prefix", "--rev", "1000", "-w", "json")
                s.ctl("compaction", "13")
                s.ctl("compaction", "1000")
                // a watch from a compacted revision is cancelled with the compact revision
                s.ctl(["watch", "c/1", "--rev", "2"], timeout: 10)
                s.ctl(["watch", "c/", "--prefix", "--rev", "5", "-w", "json"], timeout: 10)
                // a watch at the compaction revision replays what is retained
                try s.watch(["c/", "--prefix", "--rev", "6"], events: 7)
                s.ctl("endpoint", "hashkv", "-w", "json")
                s.ctl("endpoint", "hashkv", "--rev", "12", "-w", "json")
                s.ctl("endpoint", "hashkv", "--rev", "3", "-w", "json")
                // physical compaction waits until the compaction is applied to the backend
                s.ctl("compaction", "11", "--physical")
                s.ctl("get", "c/", "--prefix", "--rev", "10")
                s.ctl("get", "c/", "--prefix", "--rev", "11", "-w", "json")
                s.ctl("put", "after", "compaction")
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }
    }
}
