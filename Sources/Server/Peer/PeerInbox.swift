import Foundation
import Logging
import Raft
import Synchronization

/// Where the peer transport delivers what it receives: raft messages go to the raft thread; a
/// snapshot's store file is first written durably to the member's snap directory as its chunks arrive
/// (off the network threads, in order, one stream per sending member), then its message follows.
final class PeerInbox: Sendable {
    private struct Target {
        let loop: RaftLoop
        let memberDir: String
        let logger: Logger
    }

    /// A snapshot stream being written to `partPath`.
    private struct Incoming {
        let message: Message
        let size: UInt64
        let partPath: String
        let fd: Int32
        var written: UInt64 = 0
    }

    private let target = Mutex<Target?>(nil)
    /// Streams in progress by sending member; only touched on `snapshotWriter`.
    private let incoming = Mutex<[UInt64: Incoming]>([:])
    private let snapshotWriter = DispatchQueue(label: "setcd-snapshot-receive")

    /// Connects the inbox to the raft loop; payloads received before are dropped (Raft retries).
    func attach(_ loop: RaftLoop, memberDir: String, logger: Logger) {
        target.withLock { $0 = Target(loop: loop, memberDir: memberDir, logger: logger) }
    }

    func receive(from: UInt64, channel: PeerChannel, payload: [UInt8]) {
        guard let target = target.withLock({ $0 }) else { return }
        switch channel {
        case .messages:
            guard let message = try? RaftWire.decode(payload) else {
                target.logger.debug("dropping a malformed peer message", metadata: ["from": "\(String(from, radix: 16))"])
                return
            }
            target.loop.post(.message(message))
        case .snapshots:
            snapshotWriter.async { self.receiveSnapshotPayload(payload, from: from, target: target) }
        }
    }

    private func receiveSnapshotPayload(_ payload: [UInt8], from: UInt64, target: Target) {
        let sender = String(from, radix: 16)
        do {
            switch try SnapshotFrame.decode(payload) {
            case .begin(let message, let size):
                discard(from)
                let index = message.snapshot!.metadata.index
                let partPath = RaftLoop.receivedSnapshotPath(memberDir: target.memberDir, index: index) + ".part"
                let fd = open(partPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                guard fd >= 0 else { throw SnapshotReceiveError.io("open \(partPath)") }
                incoming.withLock { $0[from] = Incoming(message: message, size: size, partPath: partPath, fd: fd) }
            case .chunk(let bytes):
                guard var stream = incoming.withLock({ $0[from] }) else { return }
                var done = 0
                while done < bytes.count {
                    let n = bytes[(bytes.startIndex + done)...].withUnsafeBytes { write(stream.fd, $0.baseAddress, $0.count) }
                    guard n > 0 else { throw SnapshotReceiveError.io("write") }
                    done += n
                }
                stream.written += UInt64(bytes.count)
                guard stream.written <= stream.size else { throw SnapshotReceiveError.sizeMismatch }
                incoming.withLock { $0[from] = stream }
            case .end:
                guard let stream = incoming.withLock({ $0.removeValue(forKey: from) }) else { return }
                let synced = fsync(stream.fd)
                close(stream.fd)
                guard stream.written == stream.size else {
                    unlink(stream.partPath)
                    throw SnapshotReceiveError.sizeMismatch
                }
                let index = stream.message.snapshot!.metadata.index
                let path = RaftLoop.receivedSnapshotPath(memberDir: target.memberDir, index: index)
                guard synced == 0, rename(stream.partPath, path) == 0 else {
                    unlink(stream.partPath)
                    throw SnapshotReceiveError.io("sync or rename")
                }
                syncDirectory(of: path)
                target.logger.info("received snapshot", metadata: ["from": "\(sender)", "index": "\(index)", "bytes": "\(stream.size)"])
                target.loop.post(.snapshot(stream.message, file: path))
            }
        } catch {
            discard(from)
            target.logger.warning("dropping a snapshot stream", metadata: ["from": "\(sender)", "error": "\(error)"])
        }
    }

    /// Abandons `from`'s stream in progress, if any.
    private func discard(_ from: UInt64) {
        guard let stream = incoming.withLock({ $0.removeValue(forKey: from) }) else { return }
        close(stream.fd)
        unlink(stream.partPath)
    }
}

/// Why a received snapshot stream was dropped (the leader sends another).
enum SnapshotReceiveError: Error {
    case sizeMismatch
    case io(String)
}
