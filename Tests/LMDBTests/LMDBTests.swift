import Foundation
@testable import LMDB
import Testing

/// A unique temporary directory, removed by `remove()`.
struct TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "lmdbtests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var file: String { path + "/data.mdb" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

private struct Boom: Error {}

@Suite struct LMDBTests {
    /// A path LMDB cannot open (a directory) is an error, not a crash: a failed open once freed the
    /// environment twice.
    @Test func openingADirectoryFailsCleanly() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        #expect(throws: LMDBError.self) { try Environment(path: dir.path) }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("d")
        try env.write { try $0.put(db, b("k"), b("v")) }
    }

    @Test func putGetDeleteAndOverwrite() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("plain")
        try env.write { txn throws in
            try txn.put(db, b("a"), b("1"))
            try txn.put(db, b("b"), b("2"))
            try txn.put(db, b("a"), b("3")) // overwrite: plain databases keep one value
            // A write transaction sees its own writes.
            #expect(try txn.get(db, b("a")) == b("3"))
        }
        try env.read { txn throws in
            #expect(try txn.get(db, b("a")) == b("3"))
            #expect(try txn.get(db, b("b")) == b("2"))
            #expect(try txn.get(db, b("c")) == nil)
        }
        let deleted = try env.write { txn throws in
            (try txn.delete(db, b("a")), try txn.delete(db, b("nope")))
        }
        #expect(deleted.0 == true)
        #expect(deleted.1 == false)
        try env.read { txn throws in
            #expect(try txn.get(db, b("a")) == nil)
            #expect(try txn.get(db, b("b")) == b("2"))
        }
        // An empty value round-trips as empty, not as missing.
        try env.write { txn throws in try txn.put(db, b("empty"), []) }
        try env.read { txn throws in #expect(try txn.get(db, b("empty")) == []) }
        #expect(try env.stat(db).entries == 2)
        try env.write { txn throws in try txn.clear(db) }
        #expect(try env.stat(db).entries == 0)
        try env.read { txn throws in #expect(try txn.get(db, b("b")) == nil) }
    }

    @Test func databasesAreSeparate() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let one = try env.openDatabase("one")
        let two = try env.openDatabase("two")
        #expect(one != two)
        try env.write { txn throws in try txn.put(one, b("k"), b("1")) }
        try env.read { txn throws in
            #expect(try txn.get(one, b("k")) == b("1"))
            #expect(try txn.get(two, b("k")) == nil)
        }
        // Opening again gives the same database.
        let oneAgain = try env.openDatabase("one")
        try env.read { txn throws in #expect(try txn.get(oneAgain, b("k")) == b("1")) }
    }

    @Test func plainCursorNavigation() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("plain")
        try env.write { txn throws in
            for k in ["b", "d", "f"] { try txn.put(db, b(k), b(k + "v")) }
        }
        try env.read { txn throws in
            let c = try txn.cursor(db)
            #expect(try c.first() == Entry(key: b("b"), value: b("bv")))
            #expect(try c.next()?.key == b("d"))
            #expect(try c.next()?.key == b("f"))
            #expect(try c.next() == nil)
            #expect(try c.last()?.key == b("f"))
            #expect(try c.previous()?.key == b("d"))
            #expect(try c.seek(atLeast: b("c"))?.key == b("d"))
            #expect(try c.seek(atLeast: b("d"))?.key == b("d"))
            #expect(try c.seek(atLeast: b("g")) == nil)
            #expect(try c.seek(exactly: b("c")) == nil)
            #expect(try c.seek(exactly: b("f")) == Entry(key: b("f"), value: b("fv")))
        }
        // An empty database.
        let empty = try env.openDatabase("empty")
        try env.read { txn throws in
            let c = try txn.cursor(empty)
            #expect(try c.first() == nil)
            #expect(try c.last() == nil)
            #expect(try c.seek(atLeast: b("a")) == nil)
        }
    }

    @Test func dupSortCursorNavigation() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("dups", dupSort: true)
        try env.write { txn throws in
            // Inserted out of order: values of a key come back sorted.
            for v in ["3", "1", "5"] { try txn.put(db, b("a"), b(v)) }
            try txn.put(db, b("b"), b("x"))   // a key with a single value
            for v in ["9", "7"] { try txn.put(db, b("c"), b(v)) }
            // Putting an existing key/value pair again changes nothing.
            try txn.put(db, b("a"), b("3"))
        }
        #expect(try env.stat(db).entries == 6)
        try env.read { txn throws in
            let c = try txn.cursor(db)
            #expect(try txn.get(db, b("a")) == b("1")) // get returns the first value
            // Whole scan: keys in order, values sorted within a key.
            var all: [String] = []
            var e = try c.first()
            while let entry = e {
                all.append(String(decoding: entry.key + [UInt8(ascii: "=")] + entry.value, as: UTF8.self))
                e = try c.next()
            }
            #expect(all == ["a=1", "a=3", "a=5", "b=x", "c=7", "c=9"])

            // seek(atLeast:) lands on the first value of the key.
            #expect(try c.seek(atLeast: b("a")) == Entry(key: b("a"), value: b("1")))
            #expect(try c.nextValue() == Entry(key: b("a"), value: b("3")))
            #expect(try c.nextValue() == Entry(key: b("a"), value: b("5")))
            #expect(try c.nextValue() == nil) // end of a's values: nil, not the next key
            #expect(try c.previousValue()?.value == b("3"))
            #expect(try c.previousValue()?.value == b("1"))
            #expect(try c.previousValue() == nil)
            #expect(try c.lastValue() == Entry(key: b("a"), value: b("5")))
            #expect(try c.firstValue() == Entry(key: b("a"), value: b("1")))
            #expect(try c.nextKey() == Entry(key: b("b"), value: b("x")))
            #expect(try c.nextValue() == nil)
            #expect(try c.previousValue() == nil)
            #expect(try c.nextKey() == Entry(key: b("c"), value: b("7")))
            #expect(try c.nextKey() == nil)
            #expect(try c.seek(atLeast: b("c")) != nil)
            #expect(try c.previousKey() == Entry(key: b("b"), value: b("x")))
            #expect(try c.previousKey() == Entry(key: b("a"), value: b("5"))) // last value of previous key
            #expect(try c.seek(atLeast: b("bb")) == Entry(key: b("c"), value: b("7")))
            #expect(try c.seek(exactly: b("c")) == Entry(key: b("c"), value: b("7")))
            #expect(try c.lastValue() == Entry(key: b("c"), value: b("9")))
            #expect(try c.last() == Entry(key: b("c"), value: b("9")))

            // seek(key:valueAtLeast:)
            #expect(try c.seek(key: b("a"), valueAtLeast: b("2")) == Entry(key: b("a"), value: b("3")))
            #expect(try c.seek(key: b("a"), valueAtLeast: b("3")) == Entry(key: b("a"), value: b("3")))
            #expect(try c.seek(key: b("a"), valueAtLeast: b("0")) == Entry(key: b("a"), value: b("1")))
            #expect(try c.seek(key: b("a"), valueAtLeast: b("6")) == nil) // never moves to another key
            #expect(try c.seek(key: b("b"), valueAtLeast: b("a")) == Entry(key: b("b"), value: b("x")))
            #expect(try c.seek(key: b("b"), valueAtLeast: b("y")) == nil)
            #expect(try c.seek(key: b("zz"), valueAtLeast: b("")) == nil)
            // After a value seek, previousValue steps back within the key.
            #expect(try c.seek(key: b("a"), valueAtLeast: b("4")) == Entry(key: b("a"), value: b("5")))
            #expect(try c.previousValue() == Entry(key: b("a"), value: b("3")))
            #expect(try c.seek(key: b("c"), valueAtLeast: b("8")) == Entry(key: b("c"), value: b("9")))
            #expect(try c.previousValue() == Entry(key: b("c"), value: b("7")))
        }
        // Deleting one value keeps the others; deleting the key removes all.
        let results = try env.write { txn throws in
            [try txn.delete(db, b("a"), value: b("3")), try txn.delete(db, b("a"), value: b("4")), try txn.delete(db, b("c"))]
        }
        #expect(results == [true, false, true])
        try env.read { txn throws in
            let c = try txn.cursor(db)
            #expect(try c.seek(exactly: b("a"))?.value == b("1"))
            #expect(try c.nextValue()?.value == b("5"))
            #expect(try c.nextValue() == nil)
            #expect(try c.seek(exactly: b("c")) == nil)
            #expect(try c.last() == Entry(key: b("b"), value: b("x")))
        }
        #expect(try env.stat(db).entries == 3)
    }

    @Test func cursorDeleteCurrent() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("dups", dupSort: true)
        try env.write { txn throws in
            for v in ["1", "2", "3"] { try txn.put(db, b("k"), b(v)) }
            let c = try txn.cursor(db)
            _ = try c.seek(key: b("k"), valueAtLeast: b("2"))
            try c.deleteCurrent()
        }
        try env.read { txn throws in
            let c = try txn.cursor(db)
            #expect(try c.seek(exactly: b("k"))?.value == b("1"))
            #expect(try c.nextValue()?.value == b("3"))
            #expect(try c.nextValue() == nil)
        }
    }

    @Test func throwingWriteAborts() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("plain")
        try env.write { txn throws in try txn.put(db, b("keep"), b("1")) }
        #expect(throws: Boom.self) {
            try env.write { txn throws in
                try txn.put(db, b("keep"), b("changed"))
                try txn.put(db, b("new"), b("2"))
                _ = try txn.delete(db, b("keep"))
                throw Boom()
            }
        }
        try env.read { txn throws in
            #expect(try txn.get(db, b("keep")) == b("1"))
            #expect(try txn.get(db, b("new")) == nil)
        }
        // The environment still takes writes after an abort.
        try env.write { txn throws in try txn.put(db, b("after"), b("3")) }
        try env.read { txn throws in #expect(try txn.get(db, b("after")) == b("3")) }
    }

    @Test func readTransactionsAreSnapshots() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("plain")
        try env.write { txn throws in try txn.put(db, b("k"), b("old")) }
        try env.read { txn throws in
            #expect(try txn.get(db, b("k")) == b("old"))
        }
        // A value read is a copy that outlives its transaction.
        let copied = try env.read { txn throws in try txn.get(db, b("k")) }
        try env.write { txn throws in try txn.put(db, b("k"), b("new")) }
        #expect(copied == b("old"))
        try env.read { txn throws in #expect(try txn.get(db, b("k")) == b("new")) }
    }

    @Test func keyTooLongThrows() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("plain")
        try env.write { txn throws in try txn.put(db, [UInt8](repeating: 7, count: 511), b("max")) }
        #expect(throws: LMDBError.self) {
            try env.write { txn throws in try txn.put(db, [UInt8](repeating: 7, count: 512), b("too long")) }
        }
        try env.read { txn throws in #expect(try txn.get(db, [UInt8](repeating: 7, count: 511)) == b("max")) }
    }

    @Test func mapGrowsOnDemandAndStopsAtMax() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        var options = EnvironmentOptions()
        options.initialMapSize = 1 << 20
        options.maxMapSize = 8 << 20
        options.noSync = true
        let value = [UInt8](repeating: 0xAB, count: 1000)
        func key(_ i: Int) -> [UInt8] { b(String(format: "key-%06d", i)) }
        do {
            let env = try Environment(path: dir.file, options: options)
            let db = try env.openDatabase("data")
            #expect(env.info().mapSize == 1 << 20)
            // ~3 MiB in one transaction, then more in small ones.
            try env.write { txn throws in
                for i in 0..<3000 { try txn.put(db, key(i), value) }
            }
            for batch in 0..<10 {
                try env.write { txn throws in
                    for i in 0..<100 { try txn.put(db, key(3000 + batch * 100 + i), value) }
                }
            }
            let grown = env.info()
            #expect(grown.mapSize > 1 << 20)
            #expect(grown.mapSize <= 8 << 20)
            #expect(grown.usedBytes > 3 << 20)
            try env.read { txn throws in
                for i in 0..<4000 { #expect(try txn.get(db, key(i)) == value) }
            }
            #expect(try env.stat(db).entries == 4000)

            // Past the maximum: mapFull, nothing of the failed transaction is visible.
            #expect(throws: LMDBError.mapFull) {
                try env.write { txn throws in
                    for i in 0..<20_000 { try txn.put(db, key(100_000 + i), value) }
                }
            }
            #expect(env.info().mapSize == 8 << 20)
            try env.read { txn throws in
                #expect(try txn.get(db, key(100_000)) == nil)
                for i in stride(from: 0, to: 4000, by: 37) { #expect(try txn.get(db, key(i)) == value) }
            }
            #expect(try env.stat(db).entries == 4000)
            // Deletes still fit after a failed write.
            try env.write { txn throws in
                for i in 0..<100 { try txn.delete(db, key(i)) }
            }
            #expect(try env.stat(db).entries == 3900)
        }
        // Reopen: data is kept, and the map is at least as large as the data.
        let env = try Environment(path: dir.file, options: options)
        let db = try env.openDatabase("data")
        #expect(env.info().mapSize >= env.info().usedBytes)
        #expect(try env.stat(db).entries == 3900)
        try env.read { txn throws in
            #expect(try txn.get(db, key(99)) == nil)
            #expect(try txn.get(db, key(100)) == value)
            #expect(try txn.get(db, key(3999)) == value)
        }
        // And the reopened environment grows as well.
        try env.write { txn throws in
            for i in 0..<1000 { try txn.put(db, key(5000 + i), value) }
        }
        #expect(try env.stat(db).entries == 4900)
    }

    @Test func reopenKeepsData() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        do {
            let env = try Environment(path: dir.file)
            let plain = try env.openDatabase("plain")
            let dups = try env.openDatabase("dups", dupSort: true)
            try env.write { txn throws in
                try txn.put(plain, b("k"), b("v"))
                try txn.put(dups, b("d"), b("2"))
                try txn.put(dups, b("d"), b("1"))
            }
        }
        let env = try Environment(path: dir.file)
        let plain = try env.openDatabase("plain")
        let dups = try env.openDatabase("dups", dupSort: true)
        try env.read { txn throws in
            #expect(try txn.get(plain, b("k")) == b("v"))
            let c = try txn.cursor(dups)
            #expect(try c.seek(exactly: b("d"))?.value == b("1"))
            #expect(try c.nextValue()?.value == b("2"))
        }
    }

    @Test func copyProducesAReadableFile() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let env = try Environment(path: dir.file)
        let db = try env.openDatabase("plain")
        try env.write { txn throws in try txn.put(db, b("k"), b("v")) }
        let copyPath = dir.path + "/copy.mdb"
        try env.copy(to: copyPath, compact: true)
        let copy = try Environment(path: copyPath)
        let copyDB = try copy.openDatabase("plain")
        try copy.read { txn throws in #expect(try txn.get(copyDB, b("k")) == b("v")) }
    }

    @Test func mapGrowsWhileOtherThreadsRead() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        var options = EnvironmentOptions()
        options.initialMapSize = 1 << 20
        options.maxMapSize = 64 << 20
        options.noSync = true
        let env = try Environment(path: dir.file, options: options)
        let db = try env.openDatabase("data")
        let value = [UInt8](repeating: 0x5A, count: 2000)
        try env.write { txn in try txn.put(db, b("first"), value) }
        // Readers hammer the environment while the writer makes the map grow several times. Each reads until
        // it sees the writer's last key, "done": a writer starved by the readers would never write it while
        // they read. (The 120 s after which a reader gives up only keeps a starved writer from hanging the
        // test; how fast the writer is, is for benchmarks.)
        let readers = (0..<3).map { _ in
            Task.detached { () -> (reads: Int, wrong: Int, sawDone: Bool) in
                var reads = 0
                var seenWrong = 0
                let start = ContinuousClock.now
                while ContinuousClock.now - start < .seconds(120) {
                    let ok = try env.read { txn throws in try txn.get(db, b("first")) == value }
                    if !ok { seenWrong += 1 }
                    reads += 1
                    if try env.read({ txn throws in try txn.get(db, b("done")) }) != nil { return (reads, seenWrong, true) }
                }
                return (reads, seenWrong, false)
            }
        }
        for batch in 0..<20 {
            try env.write { txn in
                for i in 0..<500 { try txn.put(db, b("k\(batch)-\(i)"), value) }
            }
        }
        try env.write { txn in try txn.put(db, b("done"), []) }
        for reader in readers {
            let outcome = try await reader.value
            #expect(outcome.reads > 0 && outcome.wrong == 0, "a reader read \(outcome.reads) times, \(outcome.wrong) of them wrong")
            #expect(outcome.sawDone, "writer starved by readers: a reader gave up after 120 s without seeing its last write")
        }
        #expect(env.info().mapSize >= 16 << 20)
        #expect(try env.stat(db).entries == 10_002)
    }
}
