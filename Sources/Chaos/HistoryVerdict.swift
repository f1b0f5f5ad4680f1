import Checker
import Foundation

/// The checks of a recorded run, shared by the chaos runs and the simulation: every acknowledged write
/// in the store's history at the revision its answer gave, no revision missing, the history
/// linearizable, the watch valid, and every member's HashKV equal.
public struct HistoryVerdict: Sendable {
    public var operations = 0
    public var acknowledgedWrites = 0
    public var unanswered = 0
    public var finalRevision: Int64 = 0
    public var lostWrites: [String] = []
    /// Acknowledged writes the store's history has at another revision than their answer said.
    public var misplacedWrites: [String] = []
    /// Revisions missing from the store's history (every write of a run changes a watched key).
    public var revisionGaps: [Int64] = []
    public var linearizability: LinearizabilityResult = .linearizable
    public var watchEvents = 0
    public var watchViolations: [WatchViolation] = []
    public var hashes: [UInt32] = []

    public init() {}

    /// Checks `history` against `truth`, the store's every change up to `finalRevision` (read back
    /// from revision 1), `watched`, what a watch of `watchSpec` delivered, and the members' `hashes`.
    public init(history: [HistoryOperation<EtcdModel.Request, EtcdModel.Response>], truth: [WatchEvent], finalRevision: Int64,
                watched: [[WatchEvent]], watchSpec: WatchRequestSpec, hashes: [UInt32]) {
        // Acknowledged writes of a fresh value: puts, and compare-and-swaps that succeeded.
        let acknowledged: [(key: String, value: String, revision: Int64)] = history.compactMap { operation in
            switch (operation.input, operation.output) {
            case (.put(let key, let value), .put(let revision)?): return (key, value, revision)
            case (.txn(_, let success, _), .txn(let revision, true, _)?):
                guard success.count == 1, case .put(let key, let value) = success[0] else { return nil }
                return (key, value, revision)
            default: return nil
            }
        }
        operations = history.count
        acknowledgedWrites = acknowledged.count
        unanswered = history.filter { $0.output == nil }.count
        self.finalRevision = finalRevision
        var storedAt: [[String]: Int64] = [:]
        for change in truth where change.kind == .put { storedAt[[change.key, change.value]] = change.revision }
        lostWrites = acknowledged.filter { storedAt[[$0.key, $0.value]] == nil }.map { "\($0.key)=\($0.value)" }
        misplacedWrites = acknowledged.compactMap { write in
            guard let revision = storedAt[[write.key, write.value]], revision != write.revision else { return nil }
            return "\(write.key)=\(write.value) answered at \(write.revision), stored at \(revision)"
        }
        let revisions = Set(truth.map(\.revision))
        revisionGaps = finalRevision > 1 ? (2...finalRevision).filter { !revisions.contains($0) } : []
        linearizability = Linearizability.check(EtcdModel.settleUnanswered(history, changes: truth), model: EtcdModel())
        watchEvents = watched.reduce(0) { $0 + $1.count }
        watchViolations = WatchValidation.validate(watched, spec: watchSpec, truth: truth, through: finalRevision)
        self.hashes = hashes
    }

    /// True if every check passed.
    public var passed: Bool {
        lostWrites.isEmpty && misplacedWrites.isEmpty && revisionGaps.isEmpty && linearizability == .linearizable
            && watchViolations.isEmpty && Set(hashes).count == 1
    }

    /// The figures, one line each.
    public var text: String {
        """
        operations: \(operations) (\(acknowledgedWrites) acknowledged writes, \(unanswered) without answer)
        final revision: \(finalRevision)
        lost acknowledged writes: \(lostWrites.count)\(lostWrites.isEmpty ? "" : " " + lostWrites.prefix(5).joined(separator: ", "))
        acknowledged writes at another revision: \(misplacedWrites.count)\(misplacedWrites.isEmpty ? "" : " " + misplacedWrites.prefix(5).joined(separator: ", "))
        gaps in the store's revisions: \(revisionGaps.count)\(revisionGaps.isEmpty ? "" : " \(revisionGaps.prefix(5))")
        linearizability: \(linearizability)
        watch: \(watchEvents) events, \(watchViolations.count) violations\(watchViolations.isEmpty ? "" : " \(watchViolations.prefix(5))")
        HashKV at the final revision: \(hashes.map(String.init).joined(separator: " ")) (\(Set(hashes).count == 1 ? "equal" : "DIFFERENT"))

        """
    }
}
