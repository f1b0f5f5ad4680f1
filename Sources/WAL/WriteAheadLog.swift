#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The write-ahead log: a directory of preallocated segment files holding raft entries, hard states and
/// snapshot markers, shaped like etcd's `wal` package. A write is durable — and may be acknowledged —
/// once the `save` that carried it returns.
///
/// Owned by one thread (the node loop), hence not `Sendable`. The directory is locked with `flock` while
/// the log is open. The on-disk format is described in RecordFormat.swift; how a damaged tail is told
/// apart from corruption in SegmentReader.swift.
public final class WriteAheadLog {
    /// Number of fdatasync/fsync calls this instance has issued: one per `save`/`saveSnapshotMarker` that
    /// stays in the current segment; two (file, directory) when it starts a new segment; plus the syncs of
    /// `open` (creating the first segment, repairing a torn tail) and `releaseSegments` (the directory).
    public private(set) var syncCount = 0

    private let fs: any WALFileSystem
    private let directory: String
    private let segmentSize: Int
    private var directoryFD: Int32
    private var state = State.open

    /// All segments on disk, oldest first; the last is the one being written.
    private var segments: [SegmentInfo]
    private var currentFD: Int32
    /// Path of the current segment (kept for error messages without formatting a name per save).
    private var currentPath = ""
    /// Where the next record goes in the current segment.
    private var writeOffset: Int
    /// Size of the current segment file (its preallocated space).
    private var capacity: Int
    private var salt: UInt32
    /// CRC of the last record in the current segment.
    private var lastCRC: UInt32

    private var indexState: LogIndexState
    private var latestHardState: WALHardState?
    private var latestSnapshot: WALSnapshotMarker?
    /// Reused encode buffer: grows to the largest batch and stays.
    private var buffer: [UInt8] = []

    private enum State { case open, poisoned, closed }

    private struct SegmentInfo {
        var name: SegmentName
        var maxEntryIndex: UInt64?
    }

    /// What one `save` appends.
    private struct Batch {
        var entries: [WALEntry] = []
        var hardState: WALHardState?
        var snapshot: WALSnapshotMarker?

        var encodedSize: Int {
            var size = entries.reduce(0) { $0 + RecordLayout.entrySize($1) }
            if hardState != nil { size += RecordLayout.hardStateSize }
            if snapshot != nil { size += RecordLayout.snapshotSize }
            return size
        }
    }

    // MARK: - Opening

    /// Opens (creating if missing) the log in `directory` and returns it with everything it recovered.
    ///
    /// A torn tail of the newest segment — the partial write of a crash — is zeroed, and appends continue
    /// where the last complete record ends. Any other damage throws `WALError.corrupt`.
    /// - Parameter segmentSize: bytes preallocated per segment; a `save` that does not fit in the rest of
    ///   the current segment starts a new one (a larger one if the batch alone exceeds this size).
    /// - Parameter fileSystem: where the segments live: the real file system, or a simulated disk.
    public static func open(directory: String, segmentSize: Int = 64 * 1024 * 1024,
                            fileSystem: any WALFileSystem = PosixFileSystem()) throws(WALError) -> (WriteAheadLog, WALContents) {
        precondition(segmentSize > 0, "segmentSize must be positive")
        try fileSystem.makeDirectories(directory)
        // From here on the instance owns every descriptor: if recovery throws, deinit closes them.
        let log = WriteAheadLog(directory: directory, directoryFD: try fileSystem.openDirectory(directory), segmentSize: segmentSize, fileSystem: fileSystem)
        guard try lockWithin(log.directoryFD, directory: directory, fileSystem: fileSystem, attempts: 100) else { throw .locked(directory: directory) }
        let contents = try log.recover()
        return (log, contents)
    }

    /// Locks the directory, trying again for about a second: a process being spawned by this one holds
    /// a copy of every descriptor until it execs (close-on-exec applies only then), so a lock just
    /// released here can look taken for a moment.
    private static func lockWithin(_ fd: Int32, directory: String, fileSystem: any WALFileSystem, attempts: Int) throws(WALError) -> Bool {
        for attempt in 0..<attempts {
            if try fileSystem.tryLock(fd, what: directory) { return true }
            if attempt + 1 < attempts { usleep(10_000) }
        }
        return false
    }

    private init(directory: String, directoryFD: Int32, segmentSize: Int, fileSystem: any WALFileSystem) {
        self.fs = fileSystem
        self.directory = directory
        self.directoryFD = directoryFD
        self.segmentSize = segmentSize
        segments = []
        currentFD = -1
        writeOffset = 0
        capacity = 0
        salt = 0
        lastCRC = 0
        indexState = LogIndexState()
    }

    /// Reads every segment, repairs a torn tail, and positions the writer after the last valid record.
    private func recover() throws(WALError) -> WALContents {
        var names: [SegmentName] = []
        for file in try fs.list(directory) {
            if file.hasSuffix(".wal.tmp") {
                // A segment whose creation did not finish: never visible, so nothing in it was acknowledged.
                try fs.remove(directory + "/" + file)
            } else if let name = SegmentName(fileName: file) {
                names.append(name)
            }
        }
        names.sort()
        for (previous, next) in zip(names, names.dropFirst()) where next.sequence != previous.sequence &+ 1 {
            throw .corrupt(segment: next.fileName, offset: 0, reason: "segment \(previous.sequence &+ 1) is missing")
        }
        guard let lastName = names.last else {
            try startSegment(SegmentName(sequence: 0, firstIndex: 0), previousCRC: nil, batch: Batch())
            return WALContents()
        }

        var accumulator = LogAccumulator()
        var previousCRC: UInt32?
        for name in names.dropLast() {
            let path = directory + "/" + name.fileName
            let fd = try fs.open(path, mode: .read)
            defer { fs.close(fd) }
            let bytes = try fs.readAll(fd, what: path)
            let summary = try bytes.withBytes { (raw) throws(WALError) in
                try SegmentReader.read(raw, name: name, isLast: false, previousCRC: previousCRC, into: &accumulator)
            }
            segments.append(SegmentInfo(name: name, maxEntryIndex: summary.maxEntryIndex))
            previousCRC = summary.lastCRC
        }

        let path = directory + "/" + lastName.fileName
        currentPath = path
        currentFD = try fs.open(path, mode: .readWrite)
        let bytes = try fs.readAll(currentFD, what: path)
        let summary = try bytes.withBytes { (raw) throws(WALError) in
            try SegmentReader.read(raw, name: lastName, isLast: true, previousCRC: previousCRC, into: &accumulator)
        }
        segments.append(SegmentInfo(name: lastName, maxEntryIndex: summary.maxEntryIndex))
        writeOffset = summary.end
        salt = summary.header.salt
        lastCRC = summary.lastCRC
        indexState = accumulator.indexState
        latestHardState = accumulator.contents.hardState
        latestSnapshot = accumulator.contents.snapshot

        var repaired = false
        if let tornEnd = summary.tornEnd {
            try fs.writeZeros(currentFD, count: tornEnd - summary.end, at: summary.end, what: path)
            repaired = true
        }
        if bytes.count < segmentSize {  // e.g. the file was cut short by hand
            try fs.preallocate(currentFD, size: segmentSize, what: path)
            repaired = true
        }
        capacity = max(bytes.count, segmentSize)
        if repaired {
            try fs.dataSync(currentFD, what: path)
            syncCount += 1
        }
        return accumulator.contents
    }

    deinit {
        close()
    }

    // MARK: - Writing

    /// Appends `entries` (in order) and then `hardState`, and makes them durable with exactly one
    /// fdatasync (two syncs when the batch starts a new segment). Does nothing when both are empty.
    ///
    /// Each entry's index must be at most one above the last entry (or the snapshot marker) and above the
    /// snapshot marker; an index at or below the last entry truncates the log there. Otherwise throws
    /// `.indexOutOfOrder` and writes nothing. After an I/O error the log is poisoned (see `WALError`).
    public func save(entries: [WALEntry], hardState: WALHardState?) throws(WALError) {
        try checkWritable()
        guard !entries.isEmpty || hardState != nil else { return }
        var next = indexState
        for entry in entries {
            if let problem = next.problem(appendingEntry: entry.index) { throw .indexOutOfOrder(reason: problem) }
            next.append(entry: entry.index)
        }
        try append(Batch(entries: entries, hardState: hardState))
        indexState = next
        if let hardState { latestHardState = hardState }
        if let highest = entries.lazy.map(\.index).max() {
            let current = segments[segments.count - 1].maxEntryIndex
            segments[segments.count - 1].maxEntryIndex = max(current ?? highest, highest)
        }
    }

    /// Appends a snapshot marker and syncs it. Entries at or below `marker.index` stop being returned by
    /// `open`; the marker must not be older than the previous one.
    public func saveSnapshotMarker(_ marker: WALSnapshotMarker) throws(WALError) {
        try checkWritable()
        if let problem = indexState.problem(recordingSnapshot: marker) { throw .indexOutOfOrder(reason: problem) }
        try append(Batch(snapshot: marker))
        indexState.record(snapshot: marker)
        latestSnapshot = marker
    }

    /// Deletes, oldest first, the segments whose entries all have an index at most `index` (segments without
    /// entries count as such), stopping at the first one that has a later entry; the segment being written
    /// is never deleted. The latest hard state and snapshot marker survive because every segment starts with
    /// a copy of them. The caller must only release entries it has made durable elsewhere (applied to the
    /// state machine, or covered by a snapshot): `open` no longer returns them.
    public func releaseSegments(upTo index: UInt64) throws(WALError) {
        guard state != .closed else { throw .closed }
        var released = 0
        defer { segments.removeFirst(released) }
        while released < segments.count - 1, (segments[released].maxEntryIndex ?? 0) <= index {
            try fs.remove(directory + "/" + segments[released].name.fileName)
            released += 1
        }
        if released > 0 {
            try fs.syncDirectory(directoryFD, what: directory)
            syncCount += 1
        }
    }

    /// Closes the files and releases the directory lock. Further calls throw `.closed`. Idempotent.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        if currentFD >= 0 { fs.close(currentFD) }
        currentFD = -1
        fs.close(directoryFD)
        directoryFD = -1
    }

    private func checkWritable() throws(WALError) {
        switch state {
        case .open: return
        case .poisoned: throw .poisoned
        case .closed: throw .closed
        }
    }

    /// Writes a batch into the current segment if it fits, else into a new one; poisons the log on failure.
    private func append(_ batch: Batch) throws(WALError) {
        let size = batch.encodedSize
        do throws(WALError) {
            if writeOffset + size <= capacity {
                let crc = encode(header: nil, copies: Batch(), batch: batch, size: size, salt: salt)
                try buffer.withBytes { (raw) throws(WALError) in
                    try fs.write(currentFD, UnsafeRawBufferPointer(rebasing: raw[0..<size]), at: writeOffset, what: currentPath)
                }
                try fs.dataSync(currentFD, what: currentPath)
                syncCount += 1
                writeOffset += size
                lastCRC = crc
            } else {
                let current = segments[segments.count - 1].name
                let firstIndex = batch.entries.first?.index ?? indexState.nextIndex
                try startSegment(SegmentName(sequence: current.sequence &+ 1, firstIndex: firstIndex), previousCRC: lastCRC, batch: batch)
            }
        } catch {
            state = .poisoned
            throw error
        }
    }

    /// Creates segment `name` holding a header, copies of the latest snapshot marker and hard state (so
    /// that older segments can be released), and `batch`; makes it durable and current.
    ///
    /// The file is written and synced under a temporary name, then renamed and the directory synced: a
    /// segment file is never visible without its header.
    private func startSegment(_ name: SegmentName, previousCRC: UInt32?, batch: Batch) throws(WALError) {
        let newSalt = UInt32.random(in: 1...UInt32.max)
        var copies = Batch()
        if batch.snapshot == nil { copies.snapshot = latestSnapshot }
        if batch.hardState == nil { copies.hardState = latestHardState }
        let size = RecordLayout.segmentHeaderSize + copies.encodedSize + batch.encodedSize
        let segmentCapacity = max(segmentSize, size)
        let path = directory + "/" + name.fileName
        let temporaryPath = path + ".tmp"

        let fd = try fs.open(temporaryPath, mode: .create)
        let crc: UInt32
        do throws(WALError) {
            try fs.preallocate(fd, size: segmentCapacity, what: temporaryPath)
            let header = SegmentHeader(sequence: name.sequence, firstIndex: name.firstIndex, salt: newSalt, previousCRC: previousCRC)
            crc = encode(header: header, copies: copies, batch: batch, size: size, salt: newSalt)
            try buffer.withBytes { (raw) throws(WALError) in
                try fs.write(fd, UnsafeRawBufferPointer(rebasing: raw[0..<size]), at: 0, what: temporaryPath)
            }
            try fs.dataSync(fd, what: temporaryPath)
            syncCount += 1
            try fs.rename(temporaryPath, path)
        } catch {
            fs.close(fd)
            try? fs.remove(temporaryPath)
            throw error
        }

        let previousFD = currentFD
        let previousEnd = writeOffset
        currentFD = fd
        currentPath = path
        salt = newSalt
        writeOffset = size
        capacity = segmentCapacity
        lastCRC = crc
        segments.append(SegmentInfo(name: name, maxEntryIndex: nil))
        try fs.syncDirectory(directoryFD, what: directory)
        syncCount += 1
        if previousFD >= 0 {
            // Give back the unused preallocated space of the finished segment. Not synced: either size
            // reads back fine, as the tail is zeros.
            try? fs.truncate(previousFD, size: previousEnd, what: "previous segment")
            fs.close(previousFD)
        }
    }

    /// Encodes `header`, `copies` and `batch` into the front of `buffer`; returns the last record's CRC.
    private func encode(header: SegmentHeader?, copies: Batch, batch: Batch, size: Int, salt: UInt32) -> UInt32 {
        if buffer.count < size {
            buffer.append(contentsOf: repeatElement(0, count: size - buffer.count))
        }
        return buffer.withUnsafeMutableBytes { raw in
            var encoder = RecordEncoder(buffer: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]), salt: salt)
            if let header { encoder.append(header) }
            if let snapshot = copies.snapshot { encoder.append(snapshot) }
            if let hardState = copies.hardState { encoder.append(hardState) }
            for entry in batch.entries { encoder.append(entry) }
            if let hardState = batch.hardState { encoder.append(hardState) }
            if let snapshot = batch.snapshot { encoder.append(snapshot) }
            precondition(encoder.offset == size, "WAL batch size mismatch")
            return encoder.lastCRC
        }
    }
}

@available(*, unavailable, message: "WriteAheadLog is owned by one thread")
extension WriteAheadLog: Sendable {}
