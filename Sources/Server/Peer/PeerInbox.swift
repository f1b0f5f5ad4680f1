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
        let localID: UInt64
        let membership: Membership
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
    func attach(_ loop: RaftLoop, memberDir: String, logger: Logger, localID: UInt64, membership: Membership) {
        target.withLock { $0 = Target(loop: loop, memberDir: memberDir, logger: logger, localID: localID, membership: membership) }
    }

    /// Takes one payload from the connection whose hello named member `from`. Returns false when the
    /// payload shows the connection is not a correct member's (a message that is malformed, that no
    /// correct member sends, that is meant for another member or claims another sender): it is dropped
    /// with a warning and the caller closes the connection. Raft retries what a dropped message carried.
    package func receive(from: UInt64, connection: UInt64, channel: PeerChannel, payload: [UInt8]) -> Bool {
        guard let target = target.withLock({ $0 }) else { return true }
        do {
            switch channel {
            case .messages:
                let message = try RaftWire.decode(payload)
                try Self.checkIdentity(of: message, helloFrom: from, channel: channel, target: target)
                target.loop.post(.message(message, connection: connection))
            case .snapshots:
                try receiveSnapshotPayload(payload, from: from, connection: connection, target: target)
            }
            return true
        } catch {
            target.logger.warning("dropping a peer message and closing its connection",
                                  metadata: ["from": "\(String(from, radix: 16))", "channel": "\(channel)", "reason": "\(error)"])
            return false
        }
    }

    /// Checks a decoded message against the connection it came on and this member: it must be well
    /// formed for its type (`RaftWire.validate`), addressed to this member, and sent by the member the
    /// connection's hello named (proposals, ReadIndex requests and leadership transfers forwarded by a
    /// follower keep their originator as sender), which is neither 0, nor this member, nor removed.
    private static func checkIdentity(of m: Message, helloFrom: UInt64, channel: PeerChannel, target: Target) throws(RaftWireError) {
        try RaftWire.validate(m, channel: channel)
        if helloFrom == 0 || helloFrom == target.localID || target.membership.isRemoved(helloFrom) {
            throw .implausible("a connection from member \(String(helloFrom, radix: 16))")
        }
        if m.to != target.localID { throw .implausible("\(m.type) for member \(String(m.to, radix: 16))") }
        // A forwarded message may name this member as originator (a transfer to it, forwarded back by
        // a leader that has just lost leadership); others come from the connection's member.
        let forwarded = m.type == .prop || m.type == .readIndex || m.type == .transferLeader
        if m.from == 0 || (!forwarded && m.from == target.localID) { throw .implausible("\(m.type) from member \(String(m.from, radix: 16))") }
        if !forwarded && m.from != helloFrom {
            throw .implausible("\(m.type) from \(String(m.from, radix: 16)) on \(String(helloFrom, radix: 16))'s connection")
        }
    }

    private func receiveSnapshotPayload(_ payload: [UInt8], from: UInt64, connection: UInt64, target: Target) throws(RaftWireError) {
        let sender = String(from, radix: 16)
        abandonIdleStreams(except: from)
        let frame: SnapshotFrame
        do {
            frame = try SnapshotFrame.decode(payload)
            if case .begin(_, let message, _) = frame {
                try Self.checkIdentity(of: message, helloFrom: from, channel: .snapshots, target: target)
            }
        } catch {
            // The connection closes: its stream in progress, if any, is abandoned with it.
            discard(from)
            throw error
        }
        do {
            switch frame {
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
                target.loop.post(.snapshot(incoming.message, file: path, connection: connection))
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
