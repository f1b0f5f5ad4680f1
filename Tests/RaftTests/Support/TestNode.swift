@testable import Raft

/// A Raft node with the application around it, as the server will have it: a ``MemoryStorage``
/// standing for what is on disk, and a trivial state machine (the list of applied command values).
/// Handles each ``Ready`` exactly as the contract on ``Ready`` says.
final class TestNode {
    let id: NodeID
    let config: RaftConfig
    let storage: MemoryStorage
    private(set) var raft: RaftNode

    /// The state machine: data of every applied non-empty normal entry, in order.
    private(set) var values: [[UInt8]] = []
    /// The last index applied to the state machine (entries or snapshot).
    private(set) var appliedIndex: UInt64 = 0
    /// The configuration as of `appliedIndex`.
    private(set) var appliedConf = ConfState()
    /// ReadIndex answers received.
    var readStates: [ReadState] = []
    /// Every entry applied since start (or restart), with its index and term.
    private(set) var appliedEntries: [Entry] = []
    /// Called for each entry applied, in order, and each snapshot installed.
    var onApply: ((TestNode, Entry) -> Void)?
    var onInstallSnapshot: ((TestNode, Snapshot) -> Void)?
    var onPersist: ((TestNode, Ready) -> Void)?

    init(id: NodeID, storage: MemoryStorage, configure: (inout RaftConfig) -> Void = { _ in }) {
        var config = RaftConfig(id: id)
        configure(&config)
        self.id = id
        self.storage = storage
        let snapshot = try! storage.snapshot()
        config.applied = snapshot.metadata.index
        self.config = config
        raft = try! RaftNode(config: config, storage: storage)
        restoreStateMachine(from: snapshot)
    }

    private func restoreStateMachine(from snapshot: Snapshot) {
        values = TestNode.decode(snapshot.data)
        appliedIndex = snapshot.metadata.index
        appliedConf = snapshot.metadata.confState
    }

    /// Loses everything not persisted (unstable entries, the state machine, messages not yet taken)
    /// and starts again from storage, as after kill -9.
    func restart() {
        let snapshot = try! storage.snapshot()
        var config = self.config
        config.applied = snapshot.metadata.index
        raft = try! RaftNode(config: config, storage: storage)
        restoreStateMachine(from: snapshot)
        appliedEntries = []
        readStates = []
    }

    /// Handles one Ready if there is one: persist, (return messages to send), apply, advance.
    /// Returns the messages to send, or nil if there was no Ready.
    @discardableResult
    func handleReady() -> [Message]? {
        guard raft.hasReady else { return nil }
        let rd = raft.ready()
        // 1. Persist.
        if let snapshot = rd.snapshot { try! storage.applySnapshot(snapshot) }
        try! storage.append(rd.entries)
        if let hs = rd.hardState { storage.setHardState(hs) }
        onPersist?(self, rd)
        // 3. Apply (messages are returned to the caller, which sends them: step 2).
        if let snapshot = rd.snapshot {
            restoreStateMachine(from: snapshot)
            onInstallSnapshot?(self, snapshot)
        }
        for entry in rd.committedEntries {
            precondition(entry.index == appliedIndex + 1, "node \(id) applying \(entry.index) after \(appliedIndex)")
            switch entry.kind {
            case .normal:
                if !entry.data.isEmpty { values.append(entry.data) }
            case .confChange:
                if let change = ConfChange(encoded: entry.data) {
                    appliedConf = raft.applyConfChange(change)
                }
            }
            appliedIndex = entry.index
            appliedEntries.append(entry)
            onApply?(self, entry)
        }
        readStates.append(contentsOf: rd.readStates)
        // 4. Advance.
        raft.advance(rd)
        return rd.messages
    }

    /// Takes a snapshot at the applied index and compacts the log, keeping `keep` entries before it.
    func snapshotAndCompact(keep: UInt64) {
        guard appliedIndex > (try! storage.snapshot()).metadata.index else { return }
        try! storage.createSnapshot(index: appliedIndex, confState: appliedConf, data: TestNode.encode(values))
        let first = try! storage.firstIndex()
        if appliedIndex > keep, appliedIndex - keep >= first {
            try! storage.compact(upTo: appliedIndex - keep)
        }
    }

    /// All entries in storage (the persisted log).
    var persistedEntries: [Entry] {
        let first = try! storage.firstIndex()
        let last = try! storage.lastIndex()
        guard first <= last else { return [] }
        return try! storage.entries(first, last + 1, maxSize: .max)
    }

    var status: Status { raft.status }
    var role: StateRole { raft.status.softState.role }
    var term: UInt64 { raft.status.hardState.term }
    var leader: NodeID { raft.status.softState.leader }
    var commit: UInt64 { raft.status.hardState.commit }

    static func encode(_ values: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for v in values {
            out.append(UInt8(v.count))
            out.append(contentsOf: v)
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> [[UInt8]] {
        var values: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            let n = Int(bytes[i])
            values.append(Array(bytes[(i + 1)..<(i + 1 + n)]))
            i += 1 + n
        }
        return values
    }
}

/// Test values: 8-byte big-endian encodings of integers.
func value(_ n: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64($0))) }
}

func number(_ bytes: [UInt8]) -> UInt64 {
    bytes.reduce(0) { $0 << 8 | UInt64($1) }
}

extension TestNode {
    /// Takes the pending Ready and crashes while handling it: with `persist` true after writing it
    /// to storage (its messages are never sent), with `persist` false before anything reached the
    /// disk. Then restarts from storage.
    func crashMidReady(persist: Bool) {
        if raft.hasReady {
            let rd = raft.ready()
            if persist {
                if let snapshot = rd.snapshot { try! storage.applySnapshot(snapshot) }
                try! storage.append(rd.entries)
                if let hs = rd.hardState { storage.setHardState(hs) }
                onPersist?(self, rd)
            }
        }
        restart()
    }
}
