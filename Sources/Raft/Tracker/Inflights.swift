/// The sliding window of MsgApp messages sent to a follower in replicate state and not yet
/// acknowledged, identified by the last index each carried (thesis §10.2.2, pipelining). When the
/// window is full, the leader stops sending until acknowledgements free space: flow control.
struct Inflights: Sendable {
    /// Capacity: `maxInflightMsgs`.
    let capacity: Int
    /// Ring buffer of last indices, oldest at `start`.
    private var buffer: [UInt64]
    private var start = 0
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0, "inflight capacity must be positive")
        self.capacity = capacity
        buffer = []
    }

    var isFull: Bool { count == capacity }

    /// Records a message whose last entry is `index`; indices must increase.
    mutating func add(_ index: UInt64) {
        precondition(!isFull, "inflights full")
        if buffer.count < capacity {
            // Grow lazily: most followers never use the whole window.
            let newSize = min(capacity, max(4, buffer.count * 2))
            var grown = [UInt64](repeating: 0, count: newSize)
            for i in 0..<count { grown[i] = buffer[(start + i) % buffer.count] }
            buffer = grown
            start = 0
        }
        buffer[(start + count) % buffer.count] = index
        count += 1
    }

    /// Frees every message whose last index is `<= index` (acknowledged).
    mutating func freeLE(_ index: UInt64) {
        while count > 0 && buffer[start] <= index {
            start = (start + 1) % buffer.count
            count -= 1
        }
        if count == 0 { start = 0 }
    }

    /// Frees the oldest message (a heartbeat response shows the follower is alive, so a message
    /// lost on the way must not block replication forever).
    mutating func freeFirstOne() {
        guard count > 0 else { return }
        start = (start + 1) % buffer.count
        count -= 1
    }

    mutating func reset() {
        start = 0
        count = 0
    }
}
