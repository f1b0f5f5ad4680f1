@testable import MVCC
import Testing

@Suite struct WatchTests {
    @Test func liveEventsAfterCreate() async throws {
        let t = try TestStore()
        try t.put("a", "before")  // 2: not delivered
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        #expect(t.store.watchHub.streamCount == 1)
        let id = try stream.create(WatchRequest(key: b("a")))
        #expect(await take(stream) == .created(watchID: id, revision: 2))
        expectIdle(stream)
        try t.put("a", "1")   // 3
        try t.put("b", "1")   // 4: other key
        try t.delete("a")     // 5
        try t.delete("a")     // no-op: no event, no revision
        #expect(await take(stream) == .events(watchID: id, events: [
            Event(kind: .put, kv: KeyValue(key: b("a"), createRevision: 2, modRevision: 3, version: 2, value: b("1")), prevKV: nil),
        ], revision: 3))
        #expect(await take(stream) == .events(watchID: id, events: [
            Event(kind: .delete, kv: KeyValue(key: b("a"), modRevision: 5), prevKV: nil),
        ], revision: 5))
        expectIdle(stream)
    }

    @Test func watchIDs() throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let first = try stream.create(WatchRequest(key: b("a")))
        let second = try stream.create(WatchRequest(key: b("a")))
        #expect(first != second)
        var chosen = WatchRequest(key: b("a"))
        chosen.watchID = 100
        #expect(try stream.create(chosen) == 100)
        #expect(throws: WatchCreateError.duplicateID) { try stream.create(chosen) }
        chosen.watchID = second
        #expect(throws: WatchCreateError.duplicateID) { try stream.create(chosen) }
        // Id 0 asks the stream to choose one.
        chosen.watchID = 0
        #expect(try stream.create(chosen) == second + 1)
        // Another stream has its own ids.
        let other = t.store.openWatchStream()
        chosen.watchID = second
        #expect(try other.create(chosen) == second)
        #expect(t.store.watchHub.streamCount == 2)
        other.close()
        #expect(t.store.watchHub.streamCount == 1)
    }

    @Test func closeEndsTheStream() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        _ = try stream.create(WatchRequest(key: b("a")))
        stream.close()
        try t.put("a", "1")
        // Whatever was queued may still come out; then nil.
        var messages = 0
        while await stream.next() != nil { messages += 1 }
        #expect(messages <= 1)
        #expect(await stream.next() == nil)
        #expect(t.store.watchHub.streamCount == 0)
    }

    @Test func closeWakesAWaitingReader() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        let id = try stream.create(WatchRequest(key: b("a")))
        #expect(await take(stream) == .created(watchID: id, revision: 1))
        let waiter = Task { await stream.next() }
        try await Task.sleep(for: .milliseconds(100))
        stream.close()
        #expect(await waiter.value == nil)
        #expect(t.store.watchHub.streamCount == 0)
        // Writes after the close reach no one.
        try t.put("a", "1")
        #expect(stream.queueStatus.messages == 0)
    }

    @Test func nextWaitsForAnEvent() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let id = try stream.create(WatchRequest(key: b("a")))
        #expect(await take(stream) == .created(watchID: id, revision: 1))
        let store = t.store
        let waiter = Task { await stream.next() }
        try await Task.sleep(for: .milliseconds(100))
        _ = try store.apply([(1, .txn(TxnRequest(success: [.put(PutRequest(key: b("a"), value: b("1")))])))])
        let message = await waiter.value
        guard case .events(let watchID, let events, let revision) = message else {
            Issue.record("\(String(describing: message))")
            return
        }
        #expect(watchID == id)
        #expect(revision == 2)
        #expect(events.map(\.kv.value) == [b("1")])
    }

    @Test func historicWatchThenLiveWithoutGapOrDuplicate() async throws {
        let t = try TestStore()
        for i in 0..<10 { try t.put("k\(i)", "v\(i)") }  // 2...11
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        var request = WatchRequest(key: b("k"), rangeEnd: prefixEnd(b("k")))
        request.startRevision = 5
        let id = try stream.create(request)
        #expect(await take(stream) == .created(watchID: id, revision: 11))
        // Writes before the catch-up has run.
        try t.put("k10", "v10")  // 12
        try t.put("x", "other")  // 13
        var events = await takeEvents(stream, watchID: id, count: 8)
        try t.put("k11", "v11")  // 14
        try t.delete("k0")       // 15
        events += await takeEvents(stream, watchID: id, count: 2)
        #expect(events.map(\.kv.modRevision) == [5, 6, 7, 8, 9, 10, 11, 12, 14, 15])
        #expect(events.map { s($0.kv.key) } == ["k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k0"])
        #expect(events.last?.kind == .delete)
        #expect(events.dropLast().allSatisfy { $0.kind == .put && $0.prevKV == nil })
        expectIdle(stream)
        // A watch starting at the current revision + 1 is live right away; at the current revision it
        // delivers that revision.
        var atCurrent = WatchRequest(key: b("k0"))
        atCurrent.startRevision = 15
        let current = try stream.create(atCurrent)
        #expect(await take(stream) == .created(watchID: current, revision: 15))
        let last = await takeEvents(stream, watchID: current, count: 1)
        #expect(last.map(\.kind) == [.delete])
        expectIdle(stream)
    }

    @Test func futureStartRevision() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        var request = WatchRequest(key: b("a"))
        request.startRevision = 4
        let id = try stream.create(request)
        #expect(await take(stream) == .created(watchID: id, revision: 1))
        try t.put("a", "2")  // 2
        try t.put("a", "3")  // 3
        expectIdle(stream)
        try t.put("a", "4")  // 4
        try t.put("a", "5")  // 5
        let events = await takeEvents(stream, watchID: id, count: 2)
        #expect(events.map(\.kv.modRevision) == [4, 5])
        expectIdle(stream)
    }

    @Test func prevKVLiveAndHistoric() async throws {
        let t = try TestStore()
        try t.put("a", "1")  // 2
        try t.put("a", "2")  // 3
        try t.delete("a")    // 4
        try t.put("a", "3")  // 5
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        var request = WatchRequest(key: b("a"))
        request.prevKV = true
        request.startRevision = 2
        let id = try stream.create(request)
        #expect(await take(stream) == .created(watchID: id, revision: 5))
        var events = await takeEvents(stream, watchID: id, count: 4)
        try t.put("a", "4")   // 6
        try t.delete("a")     // 7
        events += await takeEvents(stream, watchID: id, count: 2)
        let a1 = KeyValue(key: b("a"), createRevision: 2, modRevision: 2, version: 1, value: b("1"))
        let a2 = KeyValue(key: b("a"), createRevision: 2, modRevision: 3, version: 2, value: b("2"))
        let a3 = KeyValue(key: b("a"), createRevision: 5, modRevision: 5, version: 1, value: b("3"))
        let a4 = KeyValue(key: b("a"), createRevision: 5, modRevision: 6, version: 2, value: b("4"))
        #expect(events == [
            Event(kind: .put, kv: a1, prevKV: nil),
            Event(kind: .put, kv: a2, prevKV: a1),
            Event(kind: .delete, kv: KeyValue(key: b("a"), modRevision: 4), prevKV: a2),
            Event(kind: .put, kv: a3, prevKV: nil),
            Event(kind: .put, kv: a4, prevKV: a3),
            Event(kind: .delete, kv: KeyValue(key: b("a"), modRevision: 7), prevKV: a4),
        ])
        // Without prev_kv, live events carry none.
        let plain = try stream.create(WatchRequest(key: b("a")))
        #expect(await take(stream) == .created(watchID: plain, revision: 7))
        try t.put("a", "5")  // 8
        let both = [await take(stream), await take(stream)]
        for message in both {
            guard case .events(let watchID, let events, _) = message else {
                Issue.record("\(String(describing: message))")
                continue
            }
            #expect(events.map(\.kv.modRevision) == [8])
            #expect(events.first?.prevKV == nil)  // a was deleted before: no previous
            #expect(watchID == id || watchID == plain)
        }
        #expect(Set(both.compactMap { if case .events(let w, _, _) = $0 { w } else { nil } }) == [id, plain])
        // After a put, the watcher without prev_kv still gets none, the other does.
        try t.put("a", "6")  // 9
        for _ in 0..<2 {
            guard case .events(let watchID, let events, _) = await take(stream) else { Issue.record("expected events"); continue }
            #expect(events.first?.prevKV == (watchID == id ? KeyValue(key: b("a"), createRevision: 8, modRevision: 8, version: 1, value: b("5")) : nil))
        }
        expectIdle(stream)
    }

    @Test func noPutAndNoDeleteFilters() async throws {
        let t = try TestStore()
        try t.put("a", "1")  // 2
        try t.delete("a")    // 3
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        var noPut = WatchRequest(key: b("a"))
        noPut.noPut = true
        noPut.startRevision = 2
        var noDelete = WatchRequest(key: b("a"))
        noDelete.noDelete = true
        noDelete.startRevision = 2
        let deletesOnly = try stream.create(noPut)
        #expect(await take(stream) == .created(watchID: deletesOnly, revision: 3))
        let historicDeletes = await takeEvents(stream, watchID: deletesOnly, count: 1)
        #expect(historicDeletes.map(\.kind) == [.delete])
        #expect(historicDeletes.map(\.kv.modRevision) == [3])
        expectIdle(stream)
        let putsOnly = try stream.create(noDelete)
        #expect(await take(stream) == .created(watchID: putsOnly, revision: 3))
        let historicPuts = await takeEvents(stream, watchID: putsOnly, count: 1)
        #expect(historicPuts.map(\.kind) == [.put])
        #expect(historicPuts.map(\.kv.modRevision) == [2])
        expectIdle(stream)
        // Live.
        try t.put("a", "2")  // 4
        #expect(await takeEvents(stream, watchID: putsOnly, count: 1).map(\.kv.modRevision) == [4])
        expectIdle(stream)
        try t.delete("a")    // 5
        #expect(await takeEvents(stream, watchID: deletesOnly, count: 1).map(\.kv.modRevision) == [5])
        expectIdle(stream)
    }

    @Test func prefixFromKeyAndAllKeysWatches() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let prefix = try stream.create(WatchRequest(key: b("p/"), rangeEnd: prefixEnd(b("p/"))))
        let fromKey = try stream.create(WatchRequest(key: b("p/b"), rangeEnd: [0]))
        let all = try stream.create(WatchRequest(key: [0], rangeEnd: [0]))
        let halfOpen = try stream.create(WatchRequest(key: b("p/a"), rangeEnd: b("p/c")))
        for _ in 0..<4 {
            guard case .created = await take(stream) else { Issue.record("expected created"); return }
        }
        for k in ["p/a", "p/b", "p/c", "p", "q", "p0", "a"] { try t.put(k, "v") }  // 2...8
        var seen: [Int64: [String]] = [:]
        while stream.queueStatus.messages > 0 {
            guard case .events(let id, let events, _) = await take(stream) else { Issue.record("expected events"); return }
            seen[id, default: []] += events.map { s($0.kv.key) }
        }
        #expect(seen[prefix] == ["p/a", "p/b", "p/c"])
        #expect(seen[fromKey] == ["p/b", "p/c", "q", "p0"])
        #expect(seen[all] == ["p/a", "p/b", "p/c", "p", "q", "p0", "a"])
        #expect(seen[halfOpen] == ["p/a", "p/b"])
    }

    @Test func oneTxnRevisionIsOneMessage() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let id = try stream.create(WatchRequest(key: [0], rangeEnd: [0]))
        #expect(await take(stream) == .created(watchID: id, revision: 1))
        try t.put("z", "0")  // 2
        #expect(await takeEvents(stream, watchID: id, count: 1).count == 1)
        try t.txn(TxnRequest(success: [
            .put(PutRequest(key: b("c"), value: b("1"))),
            .put(PutRequest(key: b("a"), value: b("1"))),
            .deleteRange(DeleteRangeRequest(key: b("z"))),
            .put(PutRequest(key: b("b"), value: b("1"))),
        ]))  // 3
        let message = await take(stream)
        guard case .events(let watchID, let events, let revision) = message else {
            Issue.record("\(String(describing: message))")
            return
        }
        #expect(watchID == id)
        #expect(revision == 3)
        // In the order the txn made them (sub-revision order).
        #expect(events.map { s($0.kv.key) } == ["c", "a", "z", "b"])
        #expect(events.map(\.kind) == [.put, .put, .delete, .put])
        #expect(events.allSatisfy { $0.kv.modRevision == 3 })
        expectIdle(stream)
    }

    @Test func catchUpNeverSplitsARevision() async throws {
        let t = try TestStore()
        // 30 revisions of 3 puts each: 2...31.
        for r in 0..<30 {
            try t.txn(TxnRequest(success: (0..<3).map { .put(PutRequest(key: b("k\(r)-\($0)"), value: [])) }))
        }
        var limits = WatchStream.Limits()
        limits.catchUpEvents = 4
        let stream = t.store.openWatchStream(limits: limits)
        defer { stream.close() }
        var request = WatchRequest(key: [0], rangeEnd: [0])
        request.startRevision = 2
        let id = try stream.create(request)
        #expect(await take(stream) == .created(watchID: id, revision: 31))
        var all: [Event] = []
        var messages = 0
        while all.count < 90 {
            guard case .events(let watchID, let events, _) = await take(stream), watchID == id else {
                Issue.record("expected events")
                return
            }
            messages += 1
            // Each message holds whole revisions.
            let counts = Dictionary(grouping: events, by: \.kv.modRevision).mapValues(\.count)
            #expect(counts.values.allSatisfy { $0 == 3 }, "message \(messages): \(counts)")
            #expect(events.count <= 6)
            all += events
        }
        #expect(messages > 1)
        #expect(all.count == 90)
        #expect(all.map(\.kv.modRevision) == (2...31).flatMap { [Int64]([$0, $0, $0]) })
        #expect(all.map { s($0.kv.key) } == (0..<30).flatMap { r in (0..<3).map { "k\(r)-\($0)" } })
        expectIdle(stream)
    }

    @Test func cancel() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let a = try stream.create(WatchRequest(key: b("a")))
        let keep = try stream.create(WatchRequest(key: b("a")))
        #expect(await take(stream) == .created(watchID: a, revision: 1))
        #expect(await take(stream) == .created(watchID: keep, revision: 1))
        try t.put("a", "1")  // 2
        #expect(stream.cancel(a))
        #expect(stream.cancel(a) == false)
        #expect(stream.cancel(12345) == false)
        // The event queued before the cancel still comes, then the cancel.
        var messages: [WatchMessage] = []
        while stream.queueStatus.messages > 0 { if let m = await take(stream) { messages.append(m) } }
        #expect(messages.count == 3)
        #expect(messages.last == .canceled(watchID: a, revision: 2))
        try t.put("a", "2")  // 3
        #expect(await take(stream) == .events(watchID: keep, events: [
            Event(kind: .put, kv: KeyValue(key: b("a"), createRevision: 2, modRevision: 3, version: 2, value: b("2")), prevKV: nil),
        ], revision: 3))
        expectIdle(stream)
        // An unsynced (historic) watch can be cancelled before it catches up.
        var historic = WatchRequest(key: b("a"))
        historic.startRevision = 2
        let h = try stream.create(historic)
        #expect(stream.cancel(h))
        #expect(await take(stream) == .created(watchID: h, revision: 3))
        #expect(await take(stream) == .canceled(watchID: h, revision: 3))
        expectIdle(stream)
        // Its id can be reused.
        var reuse = WatchRequest(key: b("b"))
        reuse.watchID = h
        #expect(try stream.create(reuse) == h)
    }

    @Test func progress() async throws {
        let t = try TestStore()
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let id = try stream.create(WatchRequest(key: b("a")))
        #expect(await take(stream) == .created(watchID: id, revision: 1))
        try t.put("b", "1")  // 2
        try t.put("b", "2")  // 3
        stream.requestProgress()
        #expect(await take(stream) == .progress(revision: 3))
        expectIdle(stream)
        // While a watcher is unsynced, progress is deferred until it has caught up (as etcd 3.5), so
        // the progress revision never runs ahead of events still to come.
        var historic = WatchRequest(key: b("b"))
        historic.startRevision = 2
        let h = try stream.create(historic)
        stream.requestProgress()
        stream.requestProgress()
        #expect(stream.queueStatus.messages == 1)
        #expect(await take(stream) == .created(watchID: h, revision: 3))
        #expect(await takeEvents(stream, watchID: h, count: 2).map(\.kv.modRevision) == [2, 3])
        #expect(await take(stream) == .progress(revision: 3))
        expectIdle(stream)
        stream.requestProgress()
        #expect(await take(stream) == .progress(revision: 3))
        expectIdle(stream)
    }

    @Test func deferredProgressIsNotLost() async throws {
        // A progress request deferred because of an unsynced watcher is answered once no unsynced
        // watcher remains, also when that watcher ends by compaction or cancellation.
        let t = try TestStore()
        for i in 0..<4 { try t.put("a", "\(i)") }  // 2...5
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        let live = try stream.create(WatchRequest(key: b("b")))
        #expect(await take(stream) == .created(watchID: live, revision: 5))
        // Compaction ends the unsynced watcher.
        var old = WatchRequest(key: b("a"))
        old.startRevision = 2
        let compacted = try stream.create(old)
        stream.requestProgress()
        try t.apply(.compact(revision: 4))
        #expect(await take(stream) == .created(watchID: compacted, revision: 5))
        #expect(await take(stream) == .compacted(watchID: compacted, compactRevision: 4, revision: 5))
        #expect(await take(stream) == .progress(revision: 5))
        expectIdle(stream)
        // Cancellation ends the unsynced watcher.
        var historic = WatchRequest(key: b("a"))
        historic.startRevision = 4
        let cancelled = try stream.create(historic)
        stream.requestProgress()
        #expect(stream.cancel(cancelled))
        #expect(await take(stream) == .created(watchID: cancelled, revision: 5))
        #expect(await take(stream) == .canceled(watchID: cancelled, revision: 5))
        #expect(await take(stream) == .progress(revision: 5))
        expectIdle(stream)
    }

    @Test func compactedStartRevision() async throws {
        let t = try TestStore()
        try t.put("a", "1")   // 2
        try t.put("c", "1")   // 3
        try t.delete("c")     // 4
        try t.put("a", "2")   // 5
        try t.put("a", "3")   // 6
        try t.apply(.compact(revision: 4))
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        // Below the compact revision: created, then compacted (etcd 3.4.23 cancels it with the compact revision).
        var below = WatchRequest(key: [0], rangeEnd: [0])
        below.startRevision = 3
        let id = try stream.create(below)
        #expect(await take(stream) == .created(watchID: id, revision: 6))
        #expect(await take(stream) == .compacted(watchID: id, compactRevision: 4, revision: 6))
        expectIdle(stream)
        // The watch is gone: its id is free and no events come for it.
        try t.put("a", "4")  // 7
        expectIdle(stream)
        // At the compact revision: works; the delete at the compact revision itself was compacted away
        // (etcd 3.4.23 does the same: a watch from the compact revision does not see a delete at it).
        var at = WatchRequest(key: [0], rangeEnd: [0])
        at.startRevision = 4
        let ok = try stream.create(at)
        #expect(await take(stream) == .created(watchID: ok, revision: 7))
        let events = await takeEvents(stream, watchID: ok, count: 3)
        #expect(events.map(\.kv.modRevision) == [5, 6, 7])
        expectIdle(stream)
    }

    @Test func compactionWhileUnsynced() async throws {
        let t = try TestStore()
        for i in 0..<5 { try t.put("a", "\(i)") }  // 2...6
        let stream = t.store.openWatchStream()
        defer { stream.close() }
        var request = WatchRequest(key: b("a"))
        request.startRevision = 2
        let id = try stream.create(request)
        try t.apply(.compact(revision: 5))
        #expect(await take(stream) == .created(watchID: id, revision: 6))
        #expect(await take(stream) == .compacted(watchID: id, compactRevision: 5, revision: 6))
        expectIdle(stream)
    }

    @Test func slowConsumerStaysBoundedAndGetsEverything() async throws {
        let t = try TestStore()
        var limits = WatchStream.Limits()
        limits.pendingEvents = 10
        let slow = t.store.openWatchStream(limits: limits)
        defer { slow.close() }
        let fast = t.store.openWatchStream()
        defer { fast.close() }
        var request = WatchRequest(key: b("k"), rangeEnd: prefixEnd(b("k")))
        request.prevKV = true
        let id = try slow.create(request)
        let fastID = try fast.create(request)
        var maxQueued = 0
        for i in 0..<1000 {
            try t.put("k\(i % 37)", "\(i)")
            maxQueued = max(maxQueued, slow.queueStatus.events)
        }
        #expect(t.revision == 1001)
        #expect(maxQueued <= 10)
        #expect(maxQueued > 0)
        #expect(slow.queueStatus.unsynced == 1)
        // The other stream, with room, queued everything and is not affected.
        #expect(fast.queueStatus.events == 1000)
        #expect(fast.queueStatus.unsynced == 0)

        #expect(await take(slow) == .created(watchID: id, revision: 1))
        let events = await takeEvents(slow, watchID: id, count: 1000)
        #expect(events.count == 1000)
        #expect(events.map(\.kv.modRevision) == Array(2...1001))
        #expect(events.map { s($0.kv.key) } == (0..<1000).map { "k\($0 % 37)" })
        #expect(events.map { s($0.kv.value) } == (0..<1000).map { "\($0)" })
        #expect(events.map { $0.prevKV.map { s($0.value) } } == (0..<1000).map { $0 < 37 ? nil : "\($0 - 37)" })
        expectIdle(slow)
        // Synced again: live events are queued directly.
        try t.put("k1", "live")
        #expect(slow.queueStatus.events == 1)
        #expect(await takeEvents(slow, watchID: id, count: 1).map(\.kv.modRevision) == [1002])
        expectIdle(slow)

        #expect(await take(fast) == .created(watchID: fastID, revision: 1))
        let fastEvents = await takeEvents(fast, watchID: fastID, count: 1001)
        #expect(fastEvents.map(\.kv.modRevision) == Array(2...1002))
    }

    @Test func oneRevisionLargerThanThePendingLimit() async throws {
        let t = try TestStore()
        var limits = WatchStream.Limits()
        limits.pendingEvents = 10
        limits.catchUpEvents = 5
        let stream = t.store.openWatchStream(limits: limits)
        defer { stream.close() }
        let id = try stream.create(WatchRequest(key: [0], rangeEnd: [0]))
        #expect(await take(stream) == .created(watchID: id, revision: 1))
        try t.txn(TxnRequest(success: (0..<25).map { .put(PutRequest(key: b("k\($0)"), value: [])) }))  // 2
        #expect(stream.queueStatus.events <= 10)
        let message = await take(stream)
        guard case .events(_, let events, _) = message else {
            Issue.record("\(String(describing: message))")
            return
        }
        #expect(events.count == 25)
        #expect(events.allSatisfy { $0.kv.modRevision == 2 })
        expectIdle(stream)
    }

    @Test(arguments: 0..<4)
    func concurrentWritesWhileCatchingUp(run: Int) async throws {
        let t = try TestStore()
        // 50 revisions of 2 puts each before the watch.
        for r in 0..<50 {
            try t.txn(TxnRequest(success: [.put(PutRequest(key: b("a\(r)"), value: [])), .put(PutRequest(key: b("b\(r)"), value: []))]))
        }
        var limits = WatchStream.Limits()
        limits.pendingEvents = 16
        limits.catchUpEvents = 7
        let stream = t.store.openWatchStream(limits: limits)
        defer { stream.close() }
        var request = WatchRequest(key: [0], rangeEnd: [0])
        request.startRevision = 2
        let id = try stream.create(request)
        let store = t.store
        let firstIndex = t.index + 1
        let writer = Task.detached {
            for r in 0..<300 {
                let op = MVCC.Operation.txn(TxnRequest(success: [
                    .put(PutRequest(key: b("c\(r)"), value: [])), .put(PutRequest(key: b("d\(r)"), value: [])),
                ]))
                _ = try store.apply([(firstIndex + UInt64(r), op)])
                if r % 16 == 0 { await Task.yield() }
            }
        }
        #expect(await take(stream) == .created(watchID: id, revision: 51))
        var events: [Event] = []
        var n = 0
        while events.count < 700 {
            guard case .events(let watchID, let batch, _) = await take(stream), watchID == id else {
                Issue.record("expected events")
                break
            }
            let counts = Dictionary(grouping: batch, by: \.kv.modRevision).mapValues(\.count)
            #expect(counts.values.allSatisfy { $0 == 2 })
            events += batch
            n += 1
            if n % 3 == 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        try await writer.value
        #expect(events.count == 700)
        #expect(events.map(\.kv.modRevision) == (2...351).flatMap { [Int64]([$0, $0]) })
        let expectedKeys = (0..<50).flatMap { ["a\($0)", "b\($0)"] } + (0..<300).flatMap { ["c\($0)", "d\($0)"] }
        #expect(events.map { s($0.kv.key) } == expectedKeys)
        expectIdle(stream)
    }
}
