import Foundation
import Synchronization

/// Named points in the server where a test can make it crash or stall, as etcd's gofail does. All are
/// off unless `SETCD_FAILPOINTS` enables some at start, as `name=action` terms separated by `;`:
///
///     SETCD_FAILPOINTS='walAfterSave=crash@40;raftBeforeSend=sleep(50)'
///
/// Actions: `crash` (SIGKILL to itself: nothing is flushed, as with kill -9) and `sleep(ms)`, on every
/// hit, or with `@N` only on the Nth.
public enum Failpoint: String, CaseIterable, Sendable {
    /// In the raft loop, before a Ready's entries and hard state are written and synced to the WAL.
    case walBeforeSave
    /// After the WAL write and fdatasync, before anything is sent or applied.
    case walAfterSave
    /// Before a Ready's messages go to the peers.
    case raftBeforeSend
    /// On the apply thread, before a batch of committed entries is applied in one LMDB transaction.
    case applyBeforeCommit
    /// After that transaction committed, before the clients waiting for it are answered.
    case applyAfterCommit
    /// Before a batch that holds a compaction is applied.
    case compactBeforeCommit
    /// After such a batch committed.
    case compactAfterCommit
    /// Before the store is copied into a snapshot for a follower that is too far behind.
    case snapshotBeforeSend
    /// Before the store is copied into a snapshot a client asked for (`snapshot save`).
    case snapshotBeforeSave
    /// Before a leader's snapshot replaces the store.
    case snapshotBeforeApply

    /// What a failpoint does when hit.
    enum Action: Equatable {
        case crash
        case sleep(milliseconds: Int)
    }

    /// A failpoint's action and the one hit it fires on (nil: every hit).
    struct Term {
        let action: Action
        let onHit: Int?
    }

    /// The enabled failpoints with their hit counts; empty unless `SETCD_FAILPOINTS` is set.
    private static let enabled: [Failpoint: (term: Term, hits: HitCounter)] = {
        guard let text = ProcessInfo.processInfo.environment["SETCD_FAILPOINTS"], !text.isEmpty else { return [:] }
        return (try? parse(text))?.mapValues { ($0, HitCounter()) } ?? [:]
    }()

    /// Checks `SETCD_FAILPOINTS` at start, so a typo is an error rather than a failpoint that never fires.
    public static func validateEnvironment() throws {
        guard let text = ProcessInfo.processInfo.environment["SETCD_FAILPOINTS"], !text.isEmpty else { return }
        _ = try parse(text)
    }

    /// Parses `name=action[@N];…`.
    static func parse(_ text: String) throws -> [Failpoint: Term] {
        var terms: [Failpoint: Term] = [:]
        for item in text.split(separator: ";") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let point = Failpoint(rawValue: parts[0]) else {
                throw FailpointError("unknown failpoint in SETCD_FAILPOINTS: \(item); known: \(allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard terms[point] == nil else { throw FailpointError("failpoint named twice in SETCD_FAILPOINTS: \(point.rawValue)") }
            let pieces = parts[1].split(separator: "@", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2 else { throw FailpointError("more than one @ in SETCD_FAILPOINTS: \(item)") }
            let onHit = try pieces.dropFirst().first.map { text -> Int in
                guard let number = Int(text), number > 0 else { throw FailpointError("bad hit number in SETCD_FAILPOINTS: \(item)") }
                return number
            }
            let actionText = pieces[0]
            let action: Action
            if actionText == "crash" {
                action = .crash
            } else if actionText.hasPrefix("sleep("), actionText.hasSuffix(")"), let milliseconds = Int(actionText.dropFirst(6).dropLast()),
                      (0...60_000).contains(milliseconds) {
                action = .sleep(milliseconds: milliseconds)
            } else {
                throw FailpointError("unknown action in SETCD_FAILPOINTS: \(item) (crash, or sleep(ms) up to 60000 ms)")
            }
            terms[point] = Term(action: action, onHit: onHit)
        }
        return terms
    }

    /// Whether any failpoint is enabled (to skip work done only for them).
    static var anyEnabled: Bool { !enabled.isEmpty }

    /// Fires this failpoint if it is enabled (a dictionary lookup when none is).
    func hit() {
        guard let (term, hits) = Self.enabled[self] else { return }
        let count = hits.increment()
        if let onHit = term.onHit, onHit != count { return }
        switch term.action {
        case .crash:
            FileHandle.standardError.write(Data("setcd: failpoint \(rawValue) crashes the process (hit \(count))\n".utf8))
            kill(getpid(), SIGKILL)
        case .sleep(let milliseconds):
            Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
        }
    }
}

/// A bad `SETCD_FAILPOINTS`.
struct FailpointError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// How often a failpoint was hit.
final class HitCounter: Sendable {
    private let count = Mutex<Int>(0)
    func increment() -> Int { count.withLock { $0 += 1; return $0 } }
}
