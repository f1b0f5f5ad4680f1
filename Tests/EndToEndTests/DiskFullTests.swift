import Client
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// A member whose disk fills up under it: it stops with one clear log line naming the file and
    /// errno, exit status 1, no trap and no backtrace; once space is freed it restarts with every write
    /// it acknowledged. The data dir is a small tmpfs mounted for the test (root only, as mounting is).
    @Suite(.serialized) struct DiskFull {
        @Test(.enabled(if: getuid() == 0, "mounting the small tmpfs the disk fills on needs root"))
        func aFullDiskStopsTheMemberCleanlyAndLosesNothing() async throws {
            let server = try ServerProcess(.setcd)
            defer { server.cleanUp() }
            try FileManager.default.createDirectory(atPath: server.dataDir, withIntermediateDirectories: true)
            let mount = try Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=160m", "tmpfs", server.dataDir], timeout: 20)
            guard mount.exitCode == 0 else {
                Issue.record("cannot mount a tmpfs at \(server.dataDir): \(mount.stderr)")
                return
            }
            defer { _ = try? Subprocess.run("/bin/umount", ["-l", server.dataDir], timeout: 20) }
            try server.launch()
            try server.waitHealthy()

            // Fill the file system but for 3 MiB, then write 256 KiB values until the member stops.
            let filler = server.dataDir + "/filler"
            var stats = statvfs()
            #expect(statvfs(server.dataDir, &stats) == 0)
            let free = Int(stats.f_bavail) * Int(stats.f_frsize)
            let fill = try Subprocess.run("/usr/bin/fallocate", ["-l", "\(free - (3 << 20))", filler], timeout: 20)
            #expect(fill.exitCode == 0, "\(fill.stderr)")

            var configuration = EtcdClient.Configuration(endpoints: [server.clientAddress])
            configuration.requestTimeout = .seconds(3)
            let value = String(repeating: "v", count: 256 << 10)
            var acknowledged: [String] = []
            try await EtcdClient.withClient(configuration) { etcd in
                for i in 0..<200 {
                    guard server.isRunning else { break }
                    do {
                        _ = try await etcd.put("full/\(i)", value + "\(i)")
                        acknowledged.append("full/\(i)")
                    } catch {
                        break
                    }
                }
            }
            let status = server.exitStatus(within: 20)
            #expect(status == 1, "the member should stop with status 1 once its disk is full; status \(String(describing: status))")
            #expect(acknowledged.count < 200, "200 writes of 256 KiB fit in 3 MiB")
            let log = server.wholeLog
            // LMDB reports the short write as EIO, the WAL as ENOSPC: either way the line says the disk is full.
            let failures = log.split(separator: "\n").filter {
                $0.contains("No space left on device (errno 28)") || $0.contains("(errno 5); its file system is full")
            }
            #expect(failures.count == 1, "one log line naming the file and errno:\n\(log.suffix(3000))")
            #expect(failures.first.map { $0.contains(server.dataDir) } == true, "the line names the file: \(failures)")
            for trap in ["Fatal error", "Backtrace", "Crash", "💣"] {
                #expect(!log.contains(trap), "no trap or backtrace:\n\(log.suffix(3000))")
            }

            // Space freed: the member restarts with every acknowledged write.
            try FileManager.default.removeItem(atPath: filler)
            try server.relaunch()
            try server.waitHealthy()
            try await EtcdClient.withClient(configuration) { etcd in
                for key in acknowledged {
                    let index = key.dropFirst("full/".count)
                    let read = try await etcd.get(key)
                    #expect(read.kvs.first.map { String(decoding: $0.value, as: UTF8.self) == value + index } == true, "\(key) lost")
                }
                _ = try await etcd.put("after", "restart")
            }
            print("disk full: \(acknowledged.count) writes of 256 KiB acknowledged before the disk filled; all read back after the restart")
        }
    }
}
