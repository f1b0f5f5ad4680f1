#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the POSIX calls the WAL uses, turning failures into `WALError.io`.
enum FileIO {
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(WALError) -> Int32 {
        while true {
            let fd = systemOpen(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw .io(operation: "open \(path)", errno: errno)
        }
    }

    static func close(_ fd: Int32) {
        _ = systemClose(fd)
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String) throws(WALError) {
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

    /// Writes `count` zero bytes at `offset`.
    static func writeZeros(_ fd: Int32, count: Int, at offset: Int, what: String) throws(WALError) {
        let chunk = [UInt8](repeating: 0, count: min(count, 1 << 16))
        var done = 0
        while done < count {
            let n = min(chunk.count, count - done)
            try chunk.withBytes { (raw) throws(WALError) in
                try write(fd, UnsafeRawBufferPointer(rebasing: raw[0..<n]), at: offset + done, what: what)
            }
            done += n
        }
    }

    /// Reads the whole file.
    static func readAll(_ fd: Int32, what: String) throws(WALError) -> [UInt8] {
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

    static func size(_ fd: Int32, what: String) throws(WALError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(operation: "fstat \(what)", errno: errno) }
        return Int(info.st_size)
    }

    /// fdatasync: file data plus the metadata needed to read it back.
    static func dataSync(_ fd: Int32, what: String) throws(WALError) {
        #if canImport(Darwin)
        let rc = fsync(fd)
        #else
        let rc = fdatasync(fd)
        #endif
        guard rc == 0 else { throw .io(operation: "fdatasync \(what)", errno: errno) }
    }

    /// fsync, used for directories (so that created, renamed and removed names are durable).
    static func fullSync(_ fd: Int32, what: String) throws(WALError) {
        guard fsync(fd) == 0 else { throw .io(operation: "fsync \(what)", errno: errno) }
    }

    /// Makes the file at least `size` bytes long, allocating blocks where the file system allows so that
    /// later appends do not change the file's size or allocation (which would make fdatasync costlier).
    static func preallocate(_ fd: Int32, size: Int, what: String) throws(WALError) {
        #if !canImport(Darwin)
        let rc = posix_fallocate(fd, 0, off_t(size))
        if rc == 0 { return }
        guard rc == EOPNOTSUPP || rc == EINVAL else { throw .io(operation: "posix_fallocate \(what)", errno: rc) }
        #endif
        guard try self.size(fd, what: what) < size else { return }
        guard ftruncate(fd, off_t(size)) == 0 else { throw .io(operation: "ftruncate \(what)", errno: errno) }
    }

    static func truncate(_ fd: Int32, size: Int, what: String) throws(WALError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw .io(operation: "ftruncate \(what)", errno: errno) }
    }

    static func rename(_ from: String, _ to: String) throws(WALError) {
        guard systemRename(from, to) == 0 else { throw .io(operation: "rename \(from)", errno: errno) }
    }

    static func remove(_ path: String) throws(WALError) {
        guard unlink(path) == 0 else { throw .io(operation: "unlink \(path)", errno: errno) }
    }

    /// `mkdir -p`, syncing the parent of every directory it creates so the new names survive a crash.
    static func makeDirectories(_ path: String) throws(WALError) {
        var parent = path.hasPrefix("/") ? "/" : "."
        var current = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            current += (current.isEmpty || current.hasSuffix("/") ? "" : "/") + component
            if mkdir(current, 0o755) == 0 {
                let fd = try open(parent, flags: O_RDONLY | O_DIRECTORY)
                defer { close(fd) }
                try fullSync(fd, what: parent)
            } else if errno != EEXIST {
                throw .io(operation: "mkdir \(current)", errno: errno)
            }
            parent = current
        }
    }

    /// Names in a directory, without "." and "..".
    static func list(_ path: String) throws(WALError) -> [String] {
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
    static func tryLock(_ fd: Int32, what: String) throws(WALError) -> Bool {
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
