import Foundation
import Logging
import Raft
import Synchronization

/// Where the peer transport delivers what it receives: raft messages go to the raft thread; a
/// snapshot's store file is first written durably to the member's snap directory (off the network
/// threads), then its message follows.
final class PeerInbox: Sendable {
    private struct Target {
        let loop: RaftLoop
        let memberDir: String
        let logger: Logger
    }
    private let target = Mutex<Target?>(nil)
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
            snapshotWriter.async {
                do {
                    let (message, storeFile) = try SnapshotFrame.decode(payload)
                    let index = message.snapshot!.metadata.index
                    let path = RaftLoop.receivedSnapshotPath(memberDir: target.memberDir, index: index)
                    try writeFileDurably(Array(storeFile), to: path)
                    target.logger.info("received snapshot", metadata: ["from": "\(String(from, radix: 16))", "index": "\(index)", "bytes": "\(storeFile.count)"])
                    target.loop.post(.snapshot(message, file: path))
                } catch {
                    target.logger.warning("dropping a malformed snapshot", metadata: ["from": "\(String(from, radix: 16))", "error": "\(error)"])
                }
            }
        }
    }
}
