import Foundation
import Testing

extension EndToEnd {
    @Suite struct Maintenance {
        /// member list, endpoint status / health / hashkv, alarm list, defrag, snapshot save.
        @Test func clusterAndMaintenanceCommands() throws {
            try differential { s in
                s.ctl("put", "m/1", "a")
                s.ctl("put", "m/2", "b")
                s.ctl("put", "m/1", "c")
                for format in ["simple", "json", "fields"] {
                    s.ctl("member", "list", "-w", format)
                    s.ctl("endpoint", "status", "-w", format)
                    s.ctl("endpoint", "hashkv", "-w", format)
                }
                s.ctl("endpoint", "health")
                s.ctl("endpoint", "health", "-w", "json")
                s.ctl("endpoint", "hashkv", "--rev", "3", "-w", "json")
                s.ctl("alarm", "list")
                s.ctl("alarm", "list", "-w", "json")
                s.ctl("alarm", "disarm")
                s.ctl("defrag")
                s.ctl("defrag", "-w", "json")
                s.ctl("get", "", "--prefix", "-w", "json")  // defrag changes nothing visible

                let snapshot = s.server.root + "/snapshot.db"
                let saved = s.ctl("snapshot", "save", snapshot)
                let attributes = try? FileManager.default.attributesOfItem(atPath: snapshot)
                let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
                s.record("snapshot file exists and is non-empty", size > 0 ? "yes" : "no (size \(size))")
                if saved.exitCode != 0 || size == 0 {
                    s.fail("\(s.flavor): snapshot save failed: \(saved)")
                }
                s.ctl("snapshot", "save", s.server.root + "/no/such/dir/snapshot.db")
                s.ctl("put", "after", "snapshot")
                s.ctl("endpoint", "status", "-w", "json")
            }
        }
    }
}
