@testable import Raft

/// A violated safety property, with what was seen.
struct InvariantViolation: Error, CustomStringConvertible {
    var description: String
}

/// Checks Raft's safety properties (paper §5.4, Figure 3; thesis §3.6) over a whole simulated run.
/// Fed by hooks as nodes persist and apply, and asked after every step.
///
/// - Election safety: at most one leader per term, over the whole run.
/// - Log matching: entries with the same index and term are identical and are preceded by the same
///   entries. Checked incrementally (every (index, term) maps to one payload and one previous term,
///   which by induction gives matching prefixes) and by a full pairwise comparison of logs.
/// - Leader completeness: an entry committed by the time a node is elected leader of a later term
///   is in that leader's log.
/// - State machine safety: every node applies the same entry at each index (so each node's applied
///   sequence is a prefix of the longest), and snapshots hold exactly the applied prefix.
/// - No committed entry lost or changed: the committed record never changes; entries covered by a
///   node's commit index match it.
/// - ReadIndex: a read index is at least every commit index observed before the read was issued.
final class InvariantChecker {
    struct EntryIdentity: Equatable {
        var kind: EntryKind
        var data: [UInt8]
        var previousTerm: UInt64
    }

    private struct Key: Hashable {
        var index: UInt64
        var term: UInt64
    }

    /// The leader seen for each term.
    private(set) var leaderOfTerm: [UInt64: NodeID] = [:]
    /// Every committed entry by index, as first applied.
    private(set) var committed: [UInt64: Entry] = [:]
    /// The smallest term of any node when it applied the entry: the entry was committed in this term
    /// or earlier, so every leader of a later term must hold it.
    private(set) var commitTerm: [UInt64: UInt64] = [:]
    private(set) var maxCommittedIndex: UInt64 = 0
    /// Non-empty normal entry payloads in index order (the reference state machine) and how many of
    /// them precede each index.
    private(set) var values: [[UInt8]] = []
    private var valueCount: [UInt64: Int] = [0: 0]
    private var identities: [Key: EntryIdentity] = [:]
    /// Read requests in flight: context → highest commit index observed when issued.
    private var readsIssued: [[UInt8]: UInt64] = [:]
    /// The configuration after the committed prefix, folded in index order.
    private(set) var committedConf = ConfState()
    private(set) var checks = 0
    private(set) var committedConfChanges = 0

    /// The vote each node granted in each term (from the vote responses it sent), over the whole run.
    private var votesGranted: [NodeID: [UInt64: NodeID]] = [:]
    /// The last hard state each node persisted, across restarts.
    private var persistedHardState: [NodeID: HardState] = [:]

    // MARK: Hooks

    /// A node sent a message: a granted vote must be the only one it grants in that term (paper
    /// §5.2, "each server will vote for at most one candidate in a given term"), even across crashes.
    func sent(_ m: Message) throws {
        guard m.type == .voteResp, !m.reject else { return }
        if let earlier = votesGranted[m.from]?[m.term], earlier != m.to {
            throw InvariantViolation(description: "node \(m.from) voted for both \(earlier) and \(m.to) in term \(m.term)")
        }
        votesGranted[m.from, default: [:]][m.term] = m.to
    }

    /// A node persisted a Ready: record the identity of each new entry (log matching).
    func persisted(_ node: TestNode, _ rd: Ready) throws {
        if let hs = rd.hardState {
            maxCommittedIndex = max(maxCommittedIndex, hs.commit)
            if let before = persistedHardState[node.id] {
                // The persisted term never goes back, nor does a vote change within a term.
                if hs.term < before.term || (hs.term == before.term && before.vote != 0 && hs.vote != before.vote) {
                    throw InvariantViolation(description: "node \(node.id) persisted hard state \(hs) after \(before)")
                }
            }
            persistedHardState[node.id] = hs
        }
        for e in rd.entries {
            guard e.index > 0 else { throw InvariantViolation(description: "node \(node.id) persisted an entry at index 0") }
            let previous = try node.storage.term(of: e.index - 1)
            let identity = EntryIdentity(kind: e.kind, data: e.data, previousTerm: previous)
            let key = Key(index: e.index, term: e.term)
            if let known = identities[key] {
                if known != identity {
                    throw InvariantViolation(description: "log matching: node \(node.id) has entry (index \(e.index), term \(e.term)) = \(identity), elsewhere \(known)")
                }
            } else {
                identities[key] = identity
            }
            // A node may hold a different, uncommitted entry at an index committed elsewhere, but
            // not under its own commit index.
            if e.index <= node.storage.hardState.commit, let c = committed[e.index], c != e {
                throw InvariantViolation(description: "node \(node.id) holds \(describe(e)) under its commit index, committed entry is \(describe(c))")
            }
        }
        checks += 1
    }

    /// A node applied a committed entry.
    func applied(_ node: TestNode, _ e: Entry) throws {
        maxCommittedIndex = max(maxCommittedIndex, e.index)
        let term = node.raft.status.hardState.term
        if let known = committed[e.index] {
            if known != e {
                throw InvariantViolation(description: "state machine safety: node \(node.id) applied \(describe(e)) at \(e.index), others applied \(describe(known))")
            }
            commitTerm[e.index] = min(commitTerm[e.index]!, term)
        } else {
            guard e.index == 1 || committed[e.index - 1] != nil else {
                throw InvariantViolation(description: "node \(node.id) applied \(e.index) before anyone applied \(e.index - 1)")
            }
            committed[e.index] = e
            commitTerm[e.index] = term
            var count = valueCount[e.index - 1]!
            if e.kind == .normal && !e.data.isEmpty {
                values.append(e.data)
                count += 1
            }
            valueCount[e.index] = count
            if e.kind == .confChange, let change = ConfChange(encoded: e.data) {
                committedConf = committedConf.applying(change)
                committedConfChanges += 1
            }
        }
        // The node's state machine is the reference prefix.
        if node.values.count != valueCount[e.index]! || (node.values.last.map { $0 != values[node.values.count - 1] } ?? false) {
            throw InvariantViolation(description: "node \(node.id) state machine diverged at index \(e.index)")
        }
        checks += 1
    }

    /// A node installed a snapshot: it must be the applied prefix up to its index.
    func installed(_ node: TestNode, _ snapshot: Snapshot) throws {
        let index = snapshot.metadata.index
        guard let count = valueCount[index] else {
            throw InvariantViolation(description: "node \(node.id) installed a snapshot at \(index), beyond anything applied")
        }
        if TestNode.decode(snapshot.data) != Array(values[0..<count]) {
            throw InvariantViolation(description: "node \(node.id) installed a snapshot at \(index) that differs from the applied prefix")
        }
        if committed[index]?.term != snapshot.metadata.term {
            throw InvariantViolation(description: "snapshot at \(index) has term \(snapshot.metadata.term), committed entry has \(String(describing: committed[index]?.term))")
        }
        checks += 1
    }

    func readIssued(context: [UInt8]) {
        readsIssued[context] = maxCommittedIndex
    }

    func readAnswered(_ node: TestNode, _ state: ReadState) throws {
        guard let floor = readsIssued[state.context] else {
            throw InvariantViolation(description: "node \(node.id) got an answer to a read nobody issued")
        }
        if state.index < floor {
            throw InvariantViolation(description: "linearizability: read index \(state.index) on node \(node.id) is below commit index \(floor) observed when the read was issued")
        }
        checks += 1
    }

    // MARK: After every step

    private var commitCheckedUpTo: UInt64 = 0

    /// Election safety and leader completeness, over the live nodes.
    func afterStep(_ nodes: [TestNode]) throws {
        let newlyCommitted = commitCheckedUpTo < maxCommittedIndex ? (commitCheckedUpTo + 1)...maxCommittedIndex : nil
        for node in nodes where node.role == .leader {
            let term = node.term
            if let other = leaderOfTerm[term] {
                if other != node.id {
                    throw InvariantViolation(description: "election safety: nodes \(other) and \(node.id) both leaders in term \(term)")
                }
                // A sitting leader must also hold entries whose commitment became known only now.
                if let range = newlyCommitted { try checkLeaderCompleteness(node, range: range) }
                continue
            }
            leaderOfTerm[term] = node.id
            try checkLeaderCompleteness(node, range: 1...max(1, maxCommittedIndex))
        }
        commitCheckedUpTo = maxCommittedIndex
        checks += 1
    }

    /// Leader completeness, as a property of the logs right now rather than of the elections that
    /// happened: a node that lacks the latest committed entry must not be able to win any future
    /// election. By the election restriction (paper §5.4.1) a voter grants its vote only to a
    /// candidate whose log is at least as up to date as its own; so, counting every voter of the
    /// candidate's own configuration whose persisted log is not more up to date than the candidate's,
    /// there must not be a majority. In correct Raft the quorum that committed the entry (and, with
    /// single-server changes, every configuration reachable from it) blocks such a candidate (paper
    /// §5.4.3, thesis §3.6.3, §4.1). This catches an unsafe commit as soon as it happens, before
    /// the unlucky election that would overwrite it.
    func checkNoElectableNodeLacksCommitted(_ nodes: [NodeID: TestNode]) throws {
        guard maxCommittedIndex > 0, let entry = committed[maxCommittedIndex] else { return }
        func last(_ node: TestNode) throws -> (term: UInt64, index: UInt64) {
            let index = try node.storage.lastIndex()
            return (try node.storage.term(of: index), index)
        }
        for id in nodes.keys.sorted() {
            let candidate = nodes[id]!
            let storage = candidate.storage
            let snapshotIndex = try storage.firstIndex() - 1
            if snapshotIndex >= entry.index { continue }
            if try storage.lastIndex() >= entry.index, try storage.term(of: entry.index) == entry.term { continue }
            let conf = candidate.status.confState
            guard conf.isVoter(id) else { continue }
            let mine = try last(candidate)
            var grants: [NodeID] = []
            for voter in conf.voters {
                guard let v = nodes[voter] else { continue }
                let theirs = try last(v)
                if mine.term > theirs.term || (mine.term == theirs.term && mine.index >= theirs.index) {
                    grants.append(voter)
                }
            }
            if grants.count > conf.voters.count / 2 {
                throw InvariantViolation(description: "leader completeness: node \(id) lacks committed entry \(describe(entry)) (log ends at \(mine.index)@\(mine.term)) but voters \(grants) of its configuration \(conf.voters) would elect it")
            }
        }
    }

    /// Every entry committed in an earlier term is in the new leader's log (or its snapshot).
    func checkLeaderCompleteness(_ leader: TestNode, range: ClosedRange<UInt64>) throws {
        let term = leader.term
        let storage = leader.storage
        let first = try storage.firstIndex()
        let snapshotIndex = first - 1
        let last = try storage.lastIndex()
        for index in stride(from: range.upperBound, through: range.lowerBound, by: -1) {
            guard let entry = committed[index], commitTerm[index]! < term else { continue }
            if index < snapshotIndex { break }  // covered by the snapshot (checked on install)
            if index > last {
                throw InvariantViolation(description: "leader completeness: leader \(leader.id) of term \(term) lacks committed entry \(index) (its log ends at \(last))")
            }
            let t = try storage.term(of: index)
            if t != entry.term {
                throw InvariantViolation(description: "leader completeness: leader \(leader.id) of term \(term) has term \(t) at committed index \(index), committed term \(entry.term)")
            }
        }
    }

    /// Log matching by direct comparison of every pair of persisted logs: from the highest index where
    /// two logs agree on the term, everything below must be identical.
    func checkLogMatching(_ nodes: [TestNode]) throws {
        let logs = nodes.map { (id: $0.id, first: (try? $0.storage.firstIndex()) ?? 1, entries: $0.persistedEntries) }
        for a in 0..<logs.count {
            for b in (a + 1)..<logs.count {
                let x = logs[a], y = logs[b]
                let lo = max(x.first, y.first)
                let hi = min(x.first + UInt64(x.entries.count), y.first + UInt64(y.entries.count))
                guard lo < hi else { continue }
                var agreed = false
                for i in stride(from: hi - 1, through: lo, by: -1) {
                    let ex = x.entries[Int(i - x.first)], ey = y.entries[Int(i - y.first)]
                    if agreed {
                        if ex != ey {
                            throw InvariantViolation(description: "log matching: nodes \(x.id) and \(y.id) agree on a later entry but differ at \(i): \(describe(ex)) vs \(describe(ey))")
                        }
                    } else if ex.term == ey.term {
                        agreed = true
                        if ex != ey {
                            throw InvariantViolation(description: "log matching: nodes \(x.id) and \(y.id) have different entries at \(i) in term \(ex.term)")
                        }
                    }
                }
            }
        }
        for node in nodes {
            // Entries under a node's commit index are committed: they match the record.
            let commit = node.storage.hardState.commit
            for e in node.persistedEntries where e.index <= commit {
                if let c = committed[e.index], c != e {
                    throw InvariantViolation(description: "node \(node.id) holds \(describe(e)) at committed index \(e.index), committed was \(describe(c))")
                }
            }
        }
        checks += 1
    }
}

func describe(_ e: Entry) -> String {
    let payload: String
    switch e.kind {
    case .normal: payload = e.data.isEmpty ? "empty" : (e.data.count == 8 ? "v\(number(e.data))" : "\(e.data.count) bytes")
    case .confChange: payload = ConfChange(encoded: e.data).map { "\($0.type) \($0.nodeID)" } ?? "bad conf change"
    }
    return "[\(e.index)@\(e.term) \(payload)]"
}
