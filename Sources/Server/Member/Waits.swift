import EtcdProto
import V2Store
import Foundation
import MVCC
import Synchronization

/// What applying a proposed entry produced, handed to the request that proposed it.
enum ApplyOutcome: Sendable {
    case operation(OperationResult)
    /// A membership change was applied; the members afterwards.
    case members([MemberRecord])
    /// A lease keep-alive was applied: the lease's TTL, 0 if it does not exist.
    case leaseTTL(Int64)
    /// An alarm request was applied: the alarms it raised or cleared.
    case alarms([Etcdserverpb_AlarmMember])
    /// An auth change was applied (nil) or refused.
    case auth(AuthError?)
    /// An Authenticate entry was applied: the token issued, or why none was.
    case token(Result<String, AuthError>)
    /// The entry was not applied: its permissions were checked at an auth revision that has passed.
    case rejected(AuthError)
    /// A v2 keys request was applied: its events, or etcd's v2 error.
    case v2(Result<[V2Event], V2Error>)
}

/// Requests waiting for their entries to be applied, by request id (etcd's `wait.Wait`).
///
/// A request registers before its entry is proposed; the apply thread resolves it. A proposal can be
/// lost (a leader change drops it), so every wait has a deadline; `expire` fails the overdue ones with
/// etcd's timeout. Entries proposed by other members carry ids nobody here waits for.
final class Waits: Sendable {
    private struct Waiter {
        let resume: @Sendable (Result<ApplyOutcome, any Error>) -> Void
        let deadline: ContinuousClock.Instant
    }
    private let waiters = Mutex<[UInt64: Waiter]>([:])
    private let nextID: Atomic<UInt64>

    /// Ids are unique per member and across its restarts: the member id's low 16 bits, then the
    /// start time in milliseconds and a counter (etcd's idutil does the same).
    init(memberID: UInt64) {
        let millis = UInt64(Date().timeIntervalSince1970 * 1000) & 0xFF_FFFF_FFFF
        nextID = Atomic((memberID & 0xFFFF) << 48 | millis << 8)
    }

    /// A new request id.
    func newID() -> UInt64 { nextID.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Registers `id`, runs `propose`, and waits for the outcome or the deadline.
    func wait(for id: UInt64, timeout: Duration, propose: () throws -> Void) async throws -> ApplyOutcome {
        try await withCheckedThrowingContinuation { continuation in
            register(id, deadline: .now + timeout) { continuation.resume(with: $0) }
            do {
                try propose()
            } catch {
                fail(id, with: error)
            }
        }
    }

    /// Registers `id`: `resume` is called once, with the outcome or the failure (a simulation waits
    /// this way, without a task).
    func register(_ id: UInt64, deadline: ContinuousClock.Instant, resume: @escaping @Sendable (Result<ApplyOutcome, any Error>) -> Void) {
        waiters.withLock { $0[id] = Waiter(resume: resume, deadline: deadline) }
    }

    /// Hands an applied entry's outcome to its waiting request, if one waits here.
    func resolve(_ id: UInt64, with outcome: ApplyOutcome) {
        waiters.withLock { $0.removeValue(forKey: id) }?.resume(.success(outcome))
    }

    func fail(_ id: UInt64, with error: any Error) {
        waiters.withLock { $0.removeValue(forKey: id) }?.resume(.failure(error))
    }

    /// Fails every request whose deadline has passed with `error`.
    func expire(now: ContinuousClock.Instant = .now, with error: any Error) {
        let overdue = waiters.withLock { waiters in
            let ids = waiters.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { waiters.removeValue(forKey: $0) }
        }
        for waiter in overdue { waiter.resume(.failure(error)) }
    }

    /// Fails every waiting request (the member is stopping).
    func failAll(with error: any Error) {
        let all = waiters.withLock { waiters in
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for waiter in all { waiter.resume(.failure(error)) }
    }
}

/// Linearizable reads waiting for a read index (thesis §6.4), batched: every read that arrives while
/// one ReadIndex round is in flight joins the next round, so a burst of reads costs one heartbeat
/// round. Once the round's index is known, each read waits until the applied index reaches it.
final class ReadBarrier: Sendable {
    private struct Reader {
        let resume: @Sendable (Result<Void, any Error>) -> Void
        let deadline: ContinuousClock.Instant
    }
    private struct State {
        /// Reads not yet part of a round.
        var queued: [Reader] = []
        /// The round in flight: its context and readers.
        var inFlight: (context: UInt64, readers: [Reader], issued: ContinuousClock.Instant)?
        var nextContext: UInt64 = 1
        /// Reads whose index is known, waiting for the applied index.
        var waitingApply: [(index: UInt64, reader: Reader)] = []
        var applied: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Waits until a read at this moment would be linearizable; `wake` nudges the raft thread.
    func wait(timeout: Duration, wake: () -> Void) async throws {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(deadline: .now + timeout) { continuation.resume(with: $0) }
            wake()
        }
    }

    /// Queues a read for the next round: `resume` is called once, when the read may proceed or with
    /// the failure (a simulation waits this way, without a task; it then wakes the raft loop itself).
    func enqueue(deadline: ContinuousClock.Instant, resume: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        state.withLock { $0.queued.append(Reader(resume: resume, deadline: deadline)) }
    }

    /// Called on the raft thread: the context of a new round to ask Raft for, if reads are queued and
    /// no round is in flight (or the one in flight is older than `retryAfter`, its answer lost).
    func nextRound(now: ContinuousClock.Instant, retryAfter: Duration) -> [UInt8]? {
        state.withLock { state in
            if let inFlight = state.inFlight {
                guard now - inFlight.issued >= retryAfter else { return nil }
                state.queued = inFlight.readers + state.queued
                state.inFlight = nil
            }
            guard !state.queued.isEmpty else { return nil }
            let context = state.nextContext
            state.nextContext += 1
            state.inFlight = (context, state.queued, now)
            state.queued = []
            return withUnsafeBytes(of: context.bigEndian, Array.init)
        }
    }

    /// Called on the raft thread with a `ReadState`: the round's reads may proceed once `index` is applied.
    func indexKnown(context: [UInt8], index: UInt64) {
        guard context.count == 8 else { return }
        let id = context.reduce(0) { $0 << 8 | UInt64($1) }
        let ready: [Reader] = state.withLock { state in
            guard let inFlight = state.inFlight, inFlight.context == id else { return [] }
            state.inFlight = nil
            if index <= state.applied { return inFlight.readers }
            state.waitingApply += inFlight.readers.map { (index, $0) }
            return []
        }
        for reader in ready { reader.resume(.success(())) }
    }

    /// Called by the apply thread after each batch.
    func applied(upTo index: UInt64) {
        let ready: [Reader] = state.withLock { state in
            state.applied = index
            guard !state.waitingApply.isEmpty else { return [] }
            let done = state.waitingApply.filter { $0.index <= index }.map(\.reader)
            state.waitingApply.removeAll { $0.index <= index }
            return done
        }
        for reader in ready { reader.resume(.success(())) }
    }

    /// Fails the reads whose deadline passed.
    func expire(now: ContinuousClock.Instant, with error: any Error) {
        let overdue: [Reader] = state.withLock { state in
            var overdue = state.queued.filter { $0.deadline <= now }
            state.queued.removeAll { $0.deadline <= now }
            if var inFlight = state.inFlight {
                overdue += inFlight.readers.filter { $0.deadline <= now }
                inFlight.readers.removeAll { $0.deadline <= now }
                state.inFlight = inFlight.readers.isEmpty ? nil : inFlight
            }
            overdue += state.waitingApply.filter { $0.reader.deadline <= now }.map(\.reader)
            state.waitingApply.removeAll { $0.reader.deadline <= now }
            return overdue
        }
        for reader in overdue { reader.resume(.failure(error)) }
    }

    /// Fails every read (the member is stopping).
    func failAll(with error: any Error) {
        let all: [Reader] = state.withLock { state in
            defer { state = State(applied: state.applied) }
            return state.queued + (state.inFlight?.readers ?? []) + state.waitingApply.map(\.reader)
        }
        for reader in all { reader.resume(.failure(error)) }
    }
}
