/// A sequential specification the checker replays a history against.
///
/// `step` says whether the operation, applied to `state`, could have answered `output`, and if so the
/// state after it. An operation whose outcome the client never learned (a timeout, a lost
/// connection) has no output: it may have taken effect or not, so the checker treats it as still
/// pending at the end of the history, free to take effect at any point after its call or never.
public protocol SequentialModel {
    associatedtype State: Hashable
    associatedtype Input
    associatedtype Output

    var initialState: State { get }

    /// The state after `input`, if applying it to `state` could have answered `output` (nil output:
    /// any answer); nil if it could not.
    func step(_ state: State, _ input: Input, _ output: Output?) -> State?
}

/// One client operation of a recorded history: when it was called and when it returned (nil: no
/// answer came), what it asked and what it got.
public struct HistoryOperation<Input, Output> {
    public var client: Int
    public var input: Input
    /// nil if the client never learned the outcome.
    public var output: Output?
    public var call: Int64
    /// nil if no answer came (the operation is concurrent with everything after its call).
    public var returned: Int64?

    public init(client: Int, input: Input, output: Output?, call: Int64, returned: Int64?) {
        self.client = client
        self.input = input
        self.output = output
        self.call = call
        self.returned = returned
    }
}

/// The verdict on a history.
public enum LinearizabilityResult: Equatable, Sendable {
    /// Some order of the operations, each between its call and its return, explains every output.
    case linearizable
    /// None does. `explained` is the longest prefix of operations (indexes into the history, in
    /// linearization order) the search managed to order; `unexplained` are the others, by call time.
    case violation(explained: [Int], unexplained: [Int])
    /// The search gave up after `steps` steps without a verdict.
    case undecided(steps: Int)
}

/// Wing & Gong's linearizability check with Lowe's memoization (as in Porcupine): a depth-first
/// search over the operations that may come next, remembering (operations done, state) pairs
/// already explored so that no configuration is searched twice.
public enum Linearizability {
    /// Checks `history` against `model`; gives up after `maxSteps` search steps.
    public static func check<Model: SequentialModel>(
        _ history: [HistoryOperation<Model.Input, Model.Output>], model: Model, maxSteps: Int = 10_000_000
    ) -> LinearizabilityResult {
        let count = history.count
        guard count > 0 else { return .linearizable }
        // Events: a call and a return per operation, in time order; at equal times calls come first
        // (such operations overlap). Operations that never returned return after everything.
        var events: [HistoryEvent] = []
        events.reserveCapacity(2 * count)
        for (index, operation) in history.enumerated() {
            events.append(HistoryEvent(time: operation.call, isCall: true, operation: index))
            events.append(HistoryEvent(time: operation.returned ?? Int64.max, isCall: false, operation: index))
        }
        events.sort { ($0.time, $0.isCall ? 0 : 1, $0.operation) < ($1.time, $1.isCall ? 0 : 1, $1.operation) }
        // Each operation's rank in call order: the set of placed operations is kept as "every rank
        // below a watermark, and these few above it", small however long the history.
        var rank = [Int](repeating: 0, count: count)
        for (order, event) in events.filter(\.isCall).enumerated() { rank[event.operation] = order }

        // A doubly linked list over the events (index events.count is the head sentinel), from which
        // an operation's call and return are lifted while it is linearized.
        let head = events.count
        var next = [Int](repeating: -1, count: events.count + 1)
        var previous = [Int](repeating: -1, count: events.count + 1)
        var returnOf = [Int](repeating: -1, count: count)
        var last = head
        for (position, event) in events.enumerated() {
            next[last] = position
            previous[position] = last
            last = position
            if !event.isCall { returnOf[event.operation] = position }
        }
        func lift(_ call: Int) {
            for position in [call, returnOf[events[call].operation]] {
                next[previous[position]] = next[position]
                if next[position] >= 0 { previous[next[position]] = previous[position] }
            }
        }
        func unlift(_ call: Int) {
            for position in [returnOf[events[call].operation], call] {
                next[previous[position]] = position
                if next[position] >= 0 { previous[next[position]] = position }
            }
        }

        var seen = Set<SearchConfiguration<Model.State>>()
        var done = DoneSet()
        var state = model.initialState
        var stack: [(call: Int, state: Model.State)] = []
        // The placed operations in order (beside the stack, so that keeping the longest run costs
        // copies of integers only, and only when a search branch fails deeper than any before).
        var placed: [Int] = []
        var longest: [Int] = []
        var position = next[head]
        var steps = 0
        while next[head] >= 0 {
            steps += 1
            if steps > maxSteps { return .undecided(steps: steps) }
            let event = events[position]
            if event.isCall {
                let operation = history[event.operation]
                if let after = model.step(state, operation.input, operation.output) {
                    var doneAfter = done
                    doneAfter.insert(rank[event.operation])
                    if seen.insert(SearchConfiguration(done: doneAfter, state: after)).inserted {
                        stack.append((position, state))
                        state = after
                        done = doneAfter
                        lift(position)
                        placed.append(event.operation)
                        position = next[head]
                        continue
                    }
                }
                position = next[position]
            } else {
                // An operation returned before every pending one could be placed: undo the last choice.
                if placed.count > longest.count { longest = placed }
                guard let (call, before) = stack.popLast() else {
                    let explained = Set(longest)
                    let unexplained = history.indices.filter { !explained.contains($0) }.sorted { history[$0].call < history[$1].call }
                    return .violation(explained: longest, unexplained: unexplained)
                }
                done.remove(rank[events[call].operation])
                placed.removeLast()
                state = before
                unlift(call)
                position = next[call]
            }
        }
        return .linearizable
    }
}

/// An operation's call or return, at its time.
private struct HistoryEvent {
    let time: Int64
    let isCall: Bool
    let operation: Int
}

/// A point of the search: which operations are placed and the state they led to.
private struct SearchConfiguration<State: Hashable>: Hashable {
    let done: DoneSet
    let state: State
}

/// The placed operations, by rank in call order: all ranks below `watermark`, plus `above` (sorted).
/// Operations are placed roughly in call order, so `above` stays short and a configuration costs
/// a few words rather than a bit per operation of the history.
private struct DoneSet: Hashable {
    private var watermark = 0
    private var above: [Int] = []

    mutating func insert(_ rank: Int) {
        guard rank >= watermark else { return }
        if rank == watermark {
            watermark += 1
            while let first = above.first, first == watermark {
                above.removeFirst()
                watermark += 1
            }
        } else {
            let position = above.firstIndex { $0 > rank } ?? above.count
            above.insert(rank, at: position)
        }
    }

    mutating func remove(_ rank: Int) {
        if rank >= watermark {
            above.removeAll { $0 == rank }
        } else {
            // Everything between it and the watermark stays placed.
            above = Array(rank + 1..<watermark) + above
            watermark = rank
        }
    }
}

extension HistoryOperation: Sendable where Input: Sendable, Output: Sendable {}
