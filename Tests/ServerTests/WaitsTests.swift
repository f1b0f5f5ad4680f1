import Synchronization
import Testing
@testable import Server

/// Requests waiting for their entries, and linearizable reads waiting for a read index.
@Suite struct WaitsTests {
    struct Stop: Error, Equatable {}

    /// A count shared with the reading tasks.
    final class Counter: Sendable {
        private let count = Mutex(0)
        func add() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    /// Polls (every 5 ms) until `counter` reaches `n`: the tasks have registered their waits (each counts
    /// once registered). False after 10 s, a deadline that only keeps a broken wait from hanging the test.
    static func reach(_ counter: Counter, _ n: Int) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while counter.value < n {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    @Test func requestIDsAreUniqueAndCarryTheMember() {
        let waits = Waits(memberID: 0xABCD_1234)
        let ids = (0..<1000).map { _ in waits.newID() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0 >> 48 == 0x1234 })
    }

    @Test func aWaitEndsWithItsOutcomeItsErrorOrItsDeadline() async throws {
        let waits = Waits(memberID: 1)
        let registered = Counter()
        // `propose` runs once the wait is registered: counting there shows it is in place.
        let resolved = Task { try await waits.wait(for: 7, timeout: .seconds(60)) { registered.add() } }
        /// Waits until the wait is registered (resolving an id nobody waits for yet does nothing).
        let inPlace = try await Self.reach(registered, 1)
        try #require(inPlace, "the wait never registered")
        waits.resolve(7, with: .leaseTTL(42))
        guard case .leaseTTL(42) = try await resolved.value else { Issue.record("wrong outcome"); return }

        // A proposal that cannot be handed over fails its wait at once.
        await #expect(throws: Stop.self) { try await waits.wait(for: 8, timeout: .seconds(60)) { throw Stop() } }

        // Nothing resolves this one: the deadline sweep fails it, and only it.
        let overdue = Task { try await waits.wait(for: 9, timeout: .milliseconds(10)) { registered.add() } }
        let patient = Task { try await waits.wait(for: 10, timeout: .seconds(60)) { registered.add() } }
        /// Waits until both waits are registered.
        let bothInPlace = try await Self.reach(registered, 3)
        try #require(bothInPlace, "the waits never registered")
        // The sweep runs as if 1 s had passed: past the 10 ms deadline, well before the 60 s one, without
        // sleeping until the first passes.
        waits.expire(now: .now + .seconds(1), with: Stop())
        await #expect(throws: Stop.self) { try await overdue.value }
        waits.resolve(9, with: .leaseTTL(1))  // too late: nobody waits any more
        waits.resolve(10, with: .leaseTTL(2))
        guard case .leaseTTL(2) = try await patient.value else { Issue.record("wrong outcome"); return }
    }

    /// Reads arriving while a round is in flight share the next round; a round's reads proceed once
    /// the applied index reaches the round's index.
    @Test func readsAreBatchedIntoRoundsAndWaitForTheAppliedIndex() async throws {
        let barrier = ReadBarrier()
        barrier.applied(upTo: 10)
        let queued = Counter()
        func read() -> Task<Void, any Error> {
            Task { try await barrier.wait(timeout: .seconds(60)) { queued.add() } }
        }
        /// Waits until `n` reads have queued (each counts as it wakes the raft thread, once queued).
        func waitQueued(_ n: Int) async throws {
            let reached = try await Self.reach(queued, n)
            try #require(reached, "only \(queued.value) of \(n) reads queued")
        }
        let first = [read(), read()]
        try await waitQueued(2)
        let now = ContinuousClock.now
        let round1 = try #require(barrier.nextRound(now: now, retryAfter: .seconds(1)))
        #expect(barrier.nextRound(now: now, retryAfter: .seconds(1)) == nil, "a second round while one is in flight")
        // The second batch queues through `enqueue` (what `wait` does underneath) with a `resume` that counts:
        // `indexKnown` and `applied` call it before they return, so whether a read was let through is known
        // as soon as they return, with no sleep to give a wrongly released read time to show.
        let finished = Counter()
        let failed = Counter()
        for _ in 0..<3 {
            barrier.enqueue(deadline: .now + .seconds(60)) { result in
                if case .success = result { finished.add() } else { failed.add() }
            }
        }
        // The first round's index is already applied: its reads proceed at once.
        barrier.indexKnown(context: round1, index: 9)
        for task in first { try await task.value }
        let round2 = try #require(barrier.nextRound(now: now, retryAfter: .seconds(1)))
        #expect(round2 != round1)
        barrier.indexKnown(context: round1, index: 100)  // a stale answer changes nothing
        barrier.indexKnown(context: round2, index: 12)
        #expect(finished.value == 0, "reads proceeded before the applied index reached their read index")
        barrier.applied(upTo: 11)
        #expect(finished.value == 0, "reads proceeded before the applied index reached their read index")
        barrier.applied(upTo: 12)
        #expect(finished.value == 3 && failed.value == 0)
    }

    /// A round whose answer never comes is asked again with a new context; reads past their deadline fail.
    @Test func lostRoundsAreRetriedAndOverdueReadsFail() async throws {
        let barrier = ReadBarrier()
        let queued = Counter()
        let patient = Task { try await barrier.wait(timeout: .seconds(60)) { queued.add() } }
        let hasty = Task { try await barrier.wait(timeout: .milliseconds(1)) { queued.add() } }
        /// Waits until both reads have queued.
        let bothQueued = try await Self.reach(queued, 2)
        try #require(bothQueued, "the reads never queued")
        let start = ContinuousClock.now
        let lost = try #require(barrier.nextRound(now: start, retryAfter: .seconds(1)))
        #expect(barrier.nextRound(now: start + .milliseconds(500), retryAfter: .seconds(1)) == nil)
        let retried = try #require(barrier.nextRound(now: start + .seconds(2), retryAfter: .seconds(1)))
        #expect(retried != lost)
        barrier.expire(now: .now + .milliseconds(10), with: Stop())
        await #expect(throws: Stop.self) { try await hasty.value }
        barrier.indexKnown(context: retried, index: 0)
        try await patient.value
    }
}
