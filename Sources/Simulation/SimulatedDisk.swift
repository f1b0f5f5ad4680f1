import Raft
import WAL

/// A disk in memory under the WAL, which forgets what was not synced when the simulation crashes it.
///
/// Each file keeps, beside its current bytes, the changes made since its last `dataSync` (with what
/// they overwrote); each directory keeps its durable names (as of its last `syncDirectory`) beside its
/// current ones. `crash` throws away the current state: a file goes back to its synced bytes and then
/// gets a prefix of its unsynced changes again, the first write left out possibly torn part-way; a
/// directory gets its durable names back (a file created since is gone, a renamed one has its old
/// name). Every sync adds a drawn fsync time to `pendingLatency`, which the simulation charges to the
/// member's turn. Preallocated space is kept as a size, not as bytes.
///
/// Used from one thread only (the simulation's), like the WAL it serves.
final class SimulatedDisk: WALFileSystem {
    private final class File {
        /// The contents; from `bytes.count` up to `size` the file reads as zeros.
        var bytes: [UInt8] = []
        var size = 0
        /// Changes since the last sync, oldest first.
        var unsynced: [Change] = []

        /// Writes `written` at `offset`, returning the change that undoes it.
        func write(_ written: some Collection<UInt8>, at offset: Int) -> Change {
            let undo = Change(offset: offset, written: Array(written), resize: nil, oldCount: bytes.count, oldSize: size,
                              overwritten: Array(bytes[min(offset, bytes.count)..<min(offset + written.count, bytes.count)]))
            if bytes.count < offset + written.count { bytes += repeatElement(0, count: offset + written.count - bytes.count) }
            bytes.replaceSubrange(offset..<(offset + written.count), with: written)
            size = max(size, bytes.count)
            return undo
        }

        /// Sets the size (preallocation or truncation), returning the change that undoes it.
        func resize(_ newSize: Int) -> Change {
            let undo = Change(offset: 0, written: [], resize: newSize, oldCount: bytes.count, oldSize: size,
                              overwritten: newSize < bytes.count ? Array(bytes[newSize...]) : [])
            if newSize < bytes.count { bytes.removeLast(bytes.count - newSize) }
            size = newSize
            return undo
        }

        func undo(_ change: Change) {
            if change.resize != nil {
                bytes += change.overwritten
            } else {
                bytes.replaceSubrange(change.offset..<(change.offset + change.overwritten.count), with: change.overwritten)
                bytes.removeLast(bytes.count - change.oldCount)
            }
            size = change.oldSize
        }

        var contents: [UInt8] {
            var contents = [UInt8](repeating: 0, count: size)
            contents.replaceSubrange(0..<bytes.count, with: bytes)
            return contents
        }
    }

    /// One unsynced change and what it replaced.
    private struct Change {
        var offset: Int
        var written: [UInt8]
        /// The new size, for a preallocation or truncation.
        var resize: Int?
        var oldCount: Int
        var oldSize: Int
        var overwritten: [UInt8]
    }

    private struct Directory {
        var durable: [String: File] = [:]
        var current: [String: File] = [:]
    }

    private var directories: [String: Directory] = [:]
    private var handles: [Int32: (path: String, file: File?)] = [:]
    private var nextHandle: Int32 = 3
    private var random: SplitMix64
    /// When set, the next sync fails (and the member, unable to persist, stops): a crash in the middle
    /// of a WAL save, with its write not yet synced.
    var failNextSync = false
    /// Simulated fsync time accumulated since the simulation last took it.
    var pendingLatency: Duration = .zero
    /// Syncs done, crashes survived, torn writes left behind.
    private(set) var syncs = 0
    private(set) var tornWrites = 0
    private(set) var lostWrites = 0

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    // MARK: - Crashing

    /// Power loss: every file falls back to its durable bytes plus a prefix of its unsynced writes,
    /// the last of which may be torn; directories fall back to their durable names. Open handles die.
    func crash() {
        // Files reachable only under names that were never made durable are gone with those names.
        // Visited in path order, so that a seed draws the same numbers for the same files.
        var settled: Set<ObjectIdentifier> = []
        for path in directories.keys.sorted() {
            var directory = directories[path]!
            directory.current = directory.durable
            directories[path] = directory
            for name in directory.durable.keys.sorted() {
                let file = directory.durable[name]!
                if settled.insert(ObjectIdentifier(file)).inserted { settle(file) }
            }
        }
        handles.removeAll()
    }

    private func settle(_ file: File) {
        for change in file.unsynced.reversed() { file.undo(change) }
        let changes = file.unsynced
        file.unsynced = []
        let kept = changes.isEmpty ? 0 : Int(random.next() % UInt64(changes.count + 1))
        lostWrites += changes.count - kept
        for change in changes.prefix(kept) {
            if let size = change.resize { _ = file.resize(size) } else { _ = file.write(change.written, at: change.offset) }
        }
        // The first change not kept whole: a write may be torn after a random number of bytes.
        if kept < changes.count, changes[kept].resize == nil, !changes[kept].written.isEmpty, random.next() % 2 == 0 {
            let change = changes[kept]
            _ = file.write(change.written.prefix(Int(random.next() % UInt64(change.written.count))), at: change.offset)
            tornWrites += 1
        }
    }

    // MARK: - WALFileSystem

    func makeDirectories(_ path: String) throws(WALError) {
        if directories[path] == nil { directories[path] = Directory() }
    }

    func openDirectory(_ path: String) throws(WALError) -> Int32 {
        guard directories[path] != nil else { throw .io(operation: "open \(path)", errno: 2) }
        return newHandle(path: path, file: nil)
    }

    func tryLock(_ handle: Int32, what: String) throws(WALError) -> Bool { true }

    func open(_ path: String, mode: WALOpenMode) throws(WALError) -> Int32 {
        let (directory, name) = split(path)
        guard var entry = directories[directory] else { throw .io(operation: "open \(path)", errno: 2) }
        if mode == .create {
            let file = File()
            entry.current[name] = file
            directories[directory] = entry
            return newHandle(path: path, file: file)
        }
        guard let file = entry.current[name] else { throw .io(operation: "open \(path)", errno: 2) }
        return newHandle(path: path, file: file)
    }

    func close(_ handle: Int32) {
        handles[handle] = nil
    }

    func write(_ handle: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String) throws(WALError) {
        let file = try self.file(handle, what: what)
        file.unsynced.append(file.write(bytes, at: offset))
    }

    func readAll(_ handle: Int32, what: String) throws(WALError) -> [UInt8] {
        try file(handle, what: what).contents
    }

    func dataSync(_ handle: Int32, what: String) throws(WALError) {
        let file = try self.file(handle, what: what)
        try chargeSync(what)
        file.unsynced = []
    }

    func syncDirectory(_ handle: Int32, what: String) throws(WALError) {
        guard let path = handles[handle]?.path, var directory = directories[path] else { throw .io(operation: "fsync \(what)", errno: 9) }
        try chargeSync(what)
        directory.durable = directory.current
        directories[path] = directory
    }

    func preallocate(_ handle: Int32, size: Int, what: String) throws(WALError) {
        let file = try self.file(handle, what: what)
        guard file.size < size else { return }
        file.unsynced.append(file.resize(size))
    }

    func truncate(_ handle: Int32, size: Int, what: String) throws(WALError) {
        let file = try self.file(handle, what: what)
        file.unsynced.append(file.resize(size))
    }

    func rename(_ from: String, _ to: String) throws(WALError) {
        let (fromDirectory, fromName) = split(from)
        let (toDirectory, toName) = split(to)
        guard let file = directories[fromDirectory]?.current[fromName], directories[toDirectory] != nil else {
            throw .io(operation: "rename \(from)", errno: 2)
        }
        directories[fromDirectory]!.current[fromName] = nil
        directories[toDirectory]!.current[toName] = file
    }

    func remove(_ path: String) throws(WALError) {
        let (directory, name) = split(path)
        guard directories[directory]?.current[name] != nil else { throw .io(operation: "unlink \(path)", errno: 2) }
        directories[directory]!.current[name] = nil
    }

    func list(_ path: String) throws(WALError) -> [String] {
        guard let directory = directories[path] else { throw .io(operation: "opendir \(path)", errno: 2) }
        return directory.current.keys.sorted()
    }

    // MARK: - Helpers

    private func newHandle(path: String, file: File?) -> Int32 {
        let handle = nextHandle
        nextHandle += 1
        handles[handle] = (path, file)
        return handle
    }

    private func file(_ handle: Int32, what: String) throws(WALError) -> File {
        // A handle from before a crash is dead: its process is gone.
        guard let file = handles[handle]?.file else { throw .io(operation: what, errno: 9) }
        return file
    }

    private func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// An fsync takes 0.1–2 ms, now and then 10–50 ms (a slow disk); it fails if `failNextSync` is set.
    private func chargeSync(_ what: String) throws(WALError) {
        if failNextSync {
            failNextSync = false
            throw .io(operation: "fdatasync \(what)", errno: 5)
        }
        syncs += 1
        let micros = random.next() % 50 == 0 ? 10_000 + random.next() % 40_000 : 100 + random.next() % 1_900
        pendingLatency += .microseconds(Int64(micros))
    }
}
