@testable import Simulation
import Testing
import WAL

/// The simulated disk keeps what was synced and nothing else, and the WAL recovers from what a crash
/// leaves on it.
@Suite struct SimulatedDiskTests {
    private func bytes(_ disk: SimulatedDisk, _ path: String) throws -> [UInt8] {
        let handle = try disk.open(path, mode: .read)
        defer { disk.close(handle) }
        return try disk.readAll(handle, what: path)
    }

    private func write(_ disk: SimulatedDisk, _ handle: Int32, _ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { raw in try disk.write(handle, raw, at: offset, what: "file") }
    }

    @Test func syncedWritesSurviveACrashAndUnsyncedOnesMayNot() throws {
        // Over many seeds: synced bytes always survive; the unsynced write is kept whole, torn, or lost.
        var outcomes: Set<String> = []
        for seed in UInt64(1)...64 {
            let disk = SimulatedDisk(seed: seed)
            try disk.makeDirectories("/d")
            let directory = try disk.openDirectory("/d")
            let file = try disk.open("/d/f", mode: .create)
            try disk.syncDirectory(directory, what: "/d")
            try write(disk, file, [1, 2, 3, 4], at: 0)
            try disk.dataSync(file, what: "f")
            try write(disk, file, [5, 6, 7, 8], at: 4)
            disk.crash()
            let after = try bytes(disk, "/d/f")
            #expect(Array(after.prefix(4)) == [1, 2, 3, 4], "seed \(seed)")
            #expect([5, 6, 7, 8].starts(with: after.dropFirst(4)), "seed \(seed): \(after)")
            outcomes.insert(after.count == 8 ? "kept" : after.count == 4 ? "lost" : "torn")
        }
        #expect(outcomes == ["kept", "lost", "torn"])
    }

    @Test func namesAreDurableOnlyOnceTheDirectoryIsSynced() throws {
        let disk = SimulatedDisk(seed: 1)
        try disk.makeDirectories("/d")
        let directory = try disk.openDirectory("/d")
        let synced = try disk.open("/d/a", mode: .create)
        try disk.dataSync(synced, what: "a")
        try disk.syncDirectory(directory, what: "/d")
        let created = try disk.open("/d/b.tmp", mode: .create)
        try disk.dataSync(created, what: "b")
        try disk.rename("/d/b.tmp", "/d/b")
        #expect(try disk.list("/d") == ["a", "b"])
        disk.crash()
        #expect(try disk.list("/d") == ["a"])
        // Handles from before the crash are dead.
        #expect(throws: WALError.self) { try disk.dataSync(synced, what: "a") }
    }

    @Test func aFailedSyncLeavesTheWriteUnsynced() throws {
        let disk = SimulatedDisk(seed: 3)
        try disk.makeDirectories("/d")
        let file = try disk.open("/d/f", mode: .create)
        try write(disk, file, [9], at: 0)
        disk.failNextSync = true
        #expect(throws: WALError.self) { try disk.dataSync(file, what: "f") }
        try disk.dataSync(file, what: "f")
        #expect(disk.syncs == 1)
    }

    /// The WAL on the simulated disk: whatever a crash in the middle of a save leaves, reopening
    /// returns every entry of every save that returned, and the log takes appends again.
    @Test func theWALRecoversEverySavedEntryAfterCrashesMidSave() throws {
        for seed in UInt64(1)...40 {
            let disk = SimulatedDisk(seed: seed)
            var saved: UInt64 = 0
            var (log, _) = try WriteAheadLog.open(directory: "/m/wal", segmentSize: 4096, fileSystem: disk)
            for round in 0..<6 {
                for _ in 0..<Int(seed % 7 + 3) {
                    let entries = (saved + 1...saved + 3).map { WALEntry(term: 1, index: $0, data: [UInt8](repeating: UInt8(truncatingIfNeeded: $0), count: 300)) }
                    try log.save(entries: entries, hardState: WALHardState(term: 1, vote: 0, commit: saved))
                    saved += 3
                }
                // The next save dies between its write and its sync.
                disk.failNextSync = true
                let doomed = (saved + 1...saved + 3).map { WALEntry(term: 1, index: $0, data: [7, 7, 7]) }
                #expect(throws: WALError.self) { try log.save(entries: doomed, hardState: nil) }
                log.close()
                disk.crash()
                let contents: WALContents
                (log, contents) = try WriteAheadLog.open(directory: "/m/wal", segmentSize: 4096, fileSystem: disk)
                let indexes = contents.entries.map(\.index)
                #expect(Array(indexes.prefix(Int(saved))) == Array(1...saved), "seed \(seed), round \(round)")
                // Records carry their own checksums: a torn save may leave some of its entries whole.
                #expect((Int(saved)...Int(saved) + 3).contains(indexes.count), "seed \(seed): \(indexes.count) entries after \(saved)")
                // Entries of the failed save that survived whole count as written from now on.
                saved = UInt64(indexes.count)
            }
            log.close()
        }
    }
}
