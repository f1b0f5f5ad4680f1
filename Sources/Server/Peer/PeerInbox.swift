import Foundation
import Logging
import Raft
import Synchronization

/// Where the peer transport delivers what it receives: raft messages go to the raft thread; a
/// snapshot's store file is first written durably to the member's snap directory as its chunks arrive
/// (on the connection's own task, so a slow disk slows the sender instead of filling memory; one
/// stream per sending member), then its message follows.
package final class PeerInbox: Sendable {
    private struct Target {
        let loop: RaftLoop
        let memberDir: String
        let logger: Logger
    }

    /// A snapshot stream being written to `partPath`.
    private struct Incoming {
        let stream: UInt64
        let message: Message
        let size: UInt64
        let partPath: String
        let fd: Int32
        var written: UInt64 = 0
        var lastActivity = ContinuousClock.now
    }

    /// A stream that makes no progress for this long is abandoned (its sender is gone).
    static let idleTimeout: Duration = .seconds(60)

    private let target = Mutex<Target?>(nil)
    /// Streams in progress by sending member.
    private let incoming = Mutex<[UInt64: Incoming]>([:])

    package init() {}

    /// Connects the inbox to the raft loop; payloads received before are dropped (Raft retries).
    func attach(_ loop: RaftLoop, memberDir: String, logger: Logger) {
        target.withLock { $0 = Target(loop: loop, memberDir: memberDir, logger: logger) }
    }

    package func receive(from: UInt64, channel: PeerChannel, payload: [UInt8]) {
        guard let target = target.withLock({ $0 }) else { return }
        switch channel {
        case .messages:
            guard let message = try? RaftWire.decode(payload) else {
                target.logger.debug("dropping a malformed peer message", metadata: ["from": "\(String(from, radix: 16))"])
                return
            }
            target.loop.post(.message(message))
        case .snapshots:
            receiveSnapshotPayload(payload, from: from, target: target)
        }
    }

    private func receiveSnapshotPayload(_ payload: [UInt8], from: UInt64, target: Target) {
        let sender = String(from, radix: 16)
        abandonIdleStreams(except: from)
        do {
            switch try SnapshotFrame.decode(payload) {
            case .begin(let stream, let message, let size):
                discard(from)
                let index = message.snapshot!.metadata.index
                let partPath = RaftLoop.receivedSnapshotPath(memberDir: target.memberDir, index: index) + ".\(sender)-\(String(stream, radix: 16)).part"
                let fd = open(partPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                guard fd >= 0 else { throw SnapshotReceiveError.io("open \(partPath)") }
                incoming.withLock { $0[from] = Incoming(stream: stream, message: message, size: size, partPath: partPath, fd: fd) }
            case .chunk(let stream, let bytes):
                guard var incoming = incoming.withLock({ $0[from] }), incoming.stream == stream else { return }
                var done = 0
                while done < bytes.count {
                    let n = bytes[(bytes.startIndex + done)...].withUnsafeBytes { write(incoming.fd, $0.baseAddress, $0.count) }
                    guard n > 0 else { throw SnapshotReceiveError.io("write") }
                    done += n
                }
                incoming.written += UInt64(bytes.count)
                incoming.lastActivity = .now
                guard incoming.written <= incoming.size else { throw SnapshotReceiveError.sizeMismatch }
                self.incoming.withLock { $0[from] = incoming }
            case .end(let stream):
                guard let incoming = incoming.withLock({ $0[from] }), incoming.stream == stream else { return }
                _ = self.incoming.withLock { $0.removeValue(forKey: from) }
                let synced = fsync(incoming.fd)
                close(incoming.fd)
                guard incoming.written == incoming.size else {
                    unlink(incoming.partPath)
                    throw SnapshotReceiveError.sizeMismatch
                }
                let index = incoming.message.snapshot!.metadata.index
                let path = RaftLoop.receivedSnapshotPath(memberDir: target.memberDir, index: index)
                guard synced == 0, rename(incoming.partPath, path) == 0 else {
                    unlink(incoming.partPath)
                    throw SnapshotReceiveError.io("sync or rename")
                }
                syncDirectory(of: path)
                target.logger.info("received snapshot", metadata: ["from": "\(sender)", "index": "\(index)", "bytes": "\(incoming.size)"])
                target.loop.post(.snapshot(incoming.message, file: path))
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

    /// Abandons other senders' streams that made no progress for `idleTimeout`.
    private func abandonIdleStreams(except sender: UInt64) {
        let now = ContinuousClock.now
        let idle = incoming.withLock { $0.filter { $0.key != sender && now - $0.value.lastActivity > Self.idleTimeout }.map(\.key) }
        for from in idle { discard(from) }
    }
}

/// Why a received snapshot stream was dropped (the leader sends another).
enum SnapshotReceiveError: Error {
    case sizeMismatch
    case io(String)
}
