@testable import MVCC
import Testing

@Suite struct NoSpaceTests {
    @Test func fullMapFailsWritesAndKeepsReads() throws {
        var options = StoreOptions()
        options.noSync = true
        options.quotaBytes = 1 << 20   // the map may reach quota + 64 MiB of slack
        let t = try TestStore(options: options)
        try t.grant(1)
        try t.put("small", "v", lease: 1)
        let big = [UInt8](repeating: 0x42, count: 1 << 20)
        var written = 0
        var failure: OperationResult?
        for i in 0..<200 {
            let before = (t.revision, t.store.consistentIndex)
            let result = try t.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("big\(i)"), value: big))])))
            if case .failure = result {
                failure = result
                // Nothing of the failed write is visible; the entry counts as applied.
                #expect(t.revision == before.0)
                #expect(t.store.consistentIndex == before.1 + 1)
                #expect(try t.get("big\(i)") == nil)
                break
            }
            written += 1
        }
        #expect(failure == .failure(.noSpace))
        #expect(written >= 60)
        #expect(written < 80)
        // Reads keep working.
        #expect(try t.get("small")?.value == b("v"))
        #expect(try t.get("big0")?.value == big)
        #expect(try t.store.range(RangeRequest(key: b("big"), rangeEnd: prefixEnd(b("big")))).count == Int64(written))
        // A batch with a write that does not fit: the other entries still apply.
        let index = t.index
        let results = try t.store.apply([
            (index + 1, .txn(TxnRequest(success: [.put(PutRequest(key: b("small2"), value: b("x")))]))),
            (index + 2, .txn(TxnRequest(success: [.put(PutRequest(key: b("huge"), value: big + big))]))),
            (index + 3, .noop),
        ])
        t.index = index + 3
        #expect(results.count == 3)
        if case .txn = results[0] {} else { Issue.record("\(String(describing: results[0]))") }
        #expect(results[1] == .failure(.noSpace))
        #expect(results[2] == .noop(revision: t.revision))
        #expect(try t.get("small2")?.value == b("x"))
        #expect(try t.get("huge") == nil)
        #expect(t.store.consistentIndex == index + 3)
        // Deletes and compaction free room for new writes.
        try t.delete("big", s(prefixEnd(b("big"))))
        try t.apply(.compact(revision: t.revision))
        #expect(try t.put("after", "1") != nil)
        let result = try t.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("big-again"), value: big))])))
        if case .txn = result {} else { Issue.record("\(result)") }
        // Revoking works and the state survives a reopen.
        try t.apply(.leaseRevoke(id: 1))
        let revision = t.revision
        try t.reopen()
        #expect(t.revision == revision)
        #expect(try t.get("small") == nil)
        #expect(try t.get("big-again")?.value == big)
    }
}
