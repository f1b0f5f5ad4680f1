#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a WAL file is opened.
public enum WALOpenMode: Sendable {
    /// Read only.
    case read
    /// Read and write an existing file.
    case readWrite
    /// Create (or empty) a file for reading and writing.
    case create
}

/// The file operations the WAL performs, so that it can run on the real file system (`PosixFileSystem`)
/// or on a simulated disk that loses unsynced writes when a test crashes it. Handles are small integers
/// the implementation hands out; every failure is a `WALError.io`.
public protocol WALFileSystem: AnyObject {
    /// `mkdir -p`, making every created name durable.
    func makeDirectories(_ path: String) throws(WALError)
    /// Opens a directory (for locking it and syncing its names).
    func openDirectory(_ path: String) throws(WALError) -> Int32
    /// Takes an exclusive lock on an open directory; false if someone else holds it.
    func tryLock(_ handle: Int32, what: String) throws(WALError) -> Bool
    func open(_ path: String, mode: WALOpenMode) throws(WALError) -> Int32
    func close(_ handle: Int32)
    /// Writes all of `bytes` at `offset`.
    func write(_ handle: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String) throws(WALError)
    /// The whole file.
    func readAll(_ handle: Int32, what: String) throws(WALError) -> [UInt8]
    /// fdatasync: the file's data plus the metadata needed to read it back.
    func dataSync(_ handle: Int32, what: String) throws(WALError)
    /// fsync of a directory: the names created, renamed and removed in it become durable.
    func syncDirectory(_ handle: Int32, what: String) throws(WALError)
    /// Makes the file at least `size` bytes long (zeros), allocating its blocks where possible.
    func preallocate(_ handle: Int32, size: Int, what: String) throws(WALError)
    func truncate(_ handle: Int32, size: Int, what: String) throws(WALError)
    func rename(_ from: String, _ to: String) throws(WALError)
    func remove(_ path: String) throws(WALError)
    /// Names in a directory, without "." and "..".
    func list(_ path: String) throws(WALError) -> [String]
}

extension WALFileSystem {
    /// Writes `count` zero bytes at `offset`.
    func writeZeros(_ handle: Int32, count: Int, at offset: Int, what: String) throws(WALError) {
        let chunk = [UInt8](repeating: 0, count: min(count, 1 << 16))
        var done = 0
        while done < count {
            let n = min(chunk.count, count - done)
            try chunk.withBytes { (raw) throws(WALError) in
                try write(handle, UnsafeRawBufferPointer(rebasing: raw[0..<n]), at: offset + done, what: what)
            }
            done += n
        }
    }
}

/// The real file system: thin wrappers over the POSIX calls, turning failures into `WALError.io`.
public final class PosixFileSystem: WALFileSystem {
    public init() {}

    public func openDirectory(_ path: String) throws(WALError) -> Int32 {
        try openFile(path, flags: O_RDONLY | O_DIRECTORY)
    }

    public func open(_ path: String, mode: WALOpenMode) throws(WALError) -> Int32 {
        switch mode {
        case .read: try openFile(path, flags: O_RDONLY)
        case .readWrite: try openFile(path, flags: O_RDWR)
        case .create: try openFile(path, flags: O_RDWR | O_CREAT | O_TRUNC)
        }
    }

    private func openFile(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(WALError) -> Int32 {
        while true {
            let fd = systemOpen(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw .io(operation: "open \(path)", errno: errno)
        }
    }

    public func close(_ fd: Int32) {
        _ = systemClose(fd)
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String) throws(WALError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pwrite \(what)", errno: errno)
            }
            if n == 0 { throw .io(operation: "pwrite \(what)", errno: EIO) }
            done += n
        }
    }

    /// Reads the whole file.
    public func readAll(_ fd: Int32, what: String) throws(WALError) -> [UInt8] {
        let size = try self.size(fd, what: what)
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = pread(fd, buffer.baseAddress! + done, size - done, off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { failure = EIO; break }  // file shrank under us
                done += n
            }
            if failure != 0 { buffer.baseAddress!.initialize(repeating: 0, count: size) }  // keep the array valid
            initialized = size
        }
        if failure != 0 { throw .io(operation: "read \(what)", errno: failure) }
        return bytes
    }

    private func size(_ fd: Int32, what: String) throws(WALError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(operation: "fstat \(what)", errno: errno) }
        return Int(info.st_size)
    }

    /// fdatasync: file data plus the metadata needed to read it back.
    public func dataSync(_ fd: Int32, what: String) throws(WALError) {
        #if canImport(Darwin)
        let rc = fsync(fd)
        #else
        let rc = fdatasync(fd)
        #endif
        guard rc == 0 else { throw .io(operation: "fdatasync \(what)", errno: errno) }
    }

    public func syncDirectory(_ fd: Int32, what: String) throws(WALError) {
        guard fsync(fd) == 0 else { throw .io(operation: "fsync \(what)", errno: errno) }
    }

    /// Makes the file at least `size` bytes long, allocating blocks where the file system allows so that
    /// later appends do not change the file's size or allocation (which would make fdatasync costlier).
    public func preallocate(_ fd: Int32, size: Int, what: String) throws(WALError) {
        #if !canImport(Darwin)
        let rc = posix_fallocate(fd, 0, off_t(size))
        if rc == 0 { return }
        guard rc == EOPNOTSUPP || rc == EINVAL else { throw .io(operation: "posix_fallocate \(what)", errno: rc) }
        #endif
        guard try self.size(fd, what: what) < size else { return }
        guard ftruncate(fd, off_t(size)) == 0 else { throw .io(operation: "ftruncate \(what)", errno: errno) }
    }

    public func truncate(_ fd: Int32, size: Int, what: String) throws(WALError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw .io(operation: "ftruncate \(what)", errno: errno) }
    }

    public func rename(_ from: String, _ to: String) throws(WALError) {
        guard systemRename(from, to) == 0 else { throw .io(operation: "rename \(from)", errno: errno) }
    }

    public func remove(_ path: String) throws(WALError) {
        guard unlink(path) == 0 else { throw .io(operation: "unlink \(path)", errno: errno) }
    }

    /// `mkdir -p`, syncing the parent of every directory it creates so the new names survive a crash.
    public func makeDirectories(_ path: String) throws(WALError) {
        var parent = path.hasPrefix("/") ? "/" : "."
        var current = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            current += (current.isEmpty || current.hasSuffix("/") ? "" : "/") + component
            if mkdir(current, 0o755) == 0 {
                let fd = try openDirectory(parent)
                defer { close(fd) }
                try syncDirectory(fd, what: parent)
            } else if errno != EEXIST {
                throw .io(operation: "mkdir \(current)", errno: errno)
            }
            parent = current
        }
    }

    /// Names in a directory, without "." and "..".
    public func list(_ path: String) throws(WALError) -> [String] {
        guard let dir = opendir(path) else { throw .io(operation: "opendir \(path)", errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Takes an exclusive advisory lock on an open directory; false if someone else holds it.
    public func tryLock(_ fd: Int32, what: String) throws(WALError) -> Bool {
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
        if errno == EWOULDBLOCK { return false }
        throw .io(operation: "flock \(what)", errno: errno)
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for a body with typed throws (the standard library's version only rethrows).
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(WALError) -> R) throws(WALError) -> R {
        try withUnsafeBytes { raw in Result { () throws(WALError) in try body(raw) } }.get()
    }
}

// The libc module's own spelling, so that the `FileIO` methods of the same names do not shadow them.
#if canImport(Darwin)
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Darwin.open(path, flags, mode) }
private func systemClose(_ fd: Int32) -> Int32 { Darwin.close(fd) }
private func systemRename(_ from: String, _ to: String) -> Int32 { Darwin.rename(from, to) }
#elseif canImport(Musl)
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Musl.open(path, flags, mode) }
private func systemClose(_ fd: Int32) -> Int32 { Musl.close(fd) }
private func systemRename(_ from: String, _ to: String) -> Int32 { Musl.rename(from, to) }
#else
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Glibc.open(path, flags, mode) }
private func systemClose(_ fd: Int32) -> Int32 { Glibc.close(fd) }
private func systemRename(_ from: String, _ to: String) -> Int32 { Glibc.rename(from, to) }
#endif
