@testable import MVCC
import Testing

@Suite struct TxnTests {
    /// k: value "m", version 2, create 2, mod 3, lease 5. Store revision 3.
    private func store() throws -> TestStore {
        let t = try TestStore()
        try t.grant(5)
        try t.put("k", "a", lease: 5)  // 2
        try t.put("k", "m", lease: 5)  // 3
        #expect(try t.get("k") == KeyValue(key: b("k"), createRevision: 2, modRevision: 3, version: 2, value: b("m"), lease: 5))
        return t
    }

    private func holds(_ t: TestStore, _ compare: Compare) throws -> Bool? {
        let before = t.revision
        let result = try t.txn(TxnRequest(compare: [compare]))
        #expect(t.revision == before)
        #expect(result?.revision == before)
        #expect(result?.responses == [])
        return result?.succeeded
    }

    @Test(arguments: [
        // (target below the key's, equal to it, above it)
        (Compare.Target.version(1), Compare.Target.version(2), Compare.Target.version(3)),
        (.create(1), .create(2), .create(3)),
        (.mod(2), .mod(3), .mod(4)),
        (.lease(4), .lease(5), .lease(6)),
        (.value(b("l")), .value(b("m")), .value(b("ma"))),
    ])
    func compareResults(below: Compare.Target, equal: Compare.Target, above: Compare.Target) throws {
        let t = try store()
        func check(_ result: Compare.Result, _ target: Compare.Target) throws -> Bool? {
            try holds(t, Compare(key: b("k"), result: result, target: target))
        }
        // The key's field compared with an operand below it, equal to it, above it.
        #expect(try check(.equal, below) == false)
        #expect(try check(.equal, equal) == true)
        #expect(try check(.equal, above) == false)
        #expect(try check(.notEqual, below) == true)
        #expect(try check(.notEqual, equal) == false)
        #expect(try check(.notEqual, above) == true)
        #expect(try check(.greater, below) == true)
        #expect(try check(.greater, equal) == false)
        #expect(try check(.greater, above) == false)
        #expect(try check(.less, below) == false)
        #expect(try check(.less, equal) == false)
        #expect(try check(.less, above) == true)
    }

    @Test func comparesOnMissingKeys() throws {
        let t = try store()
        // A missing key compares as a zero KeyValue...
        #expect(try holds(t, Compare(key: b("none"), result: .equal, target: .version(0))) == true)
        #expect(try holds(t, Compare(key: b("none"), result: .equal, target: .create(0))) == true)
        #expect(try holds(t, Compare(key: b("none"), result: .equal, target: .mod(0))) == true)
        #expect(try holds(t, Compare(key: b("none"), result: .equal, target: .lease(0))) == true)
        #expect(try holds(t, Compare(key: b("none"), result: .less, target: .mod(1))) == true)
        #expect(try holds(t, Compare(key: b("none"), result: .greater, target: .version(0))) == false)
        // ...except for value, which always fails (etcd 3.4.23: NOT_EQUAL on a missing key fails).
        #expect(try holds(t, Compare(key: b("none"), result: .notEqual, target: .value(b("x")))) == false)
        #expect(try holds(t, Compare(key: b("none"), result: .equal, target: .value([]))) == false)
        #expect(try holds(t, Compare(key: b("none"), result: .greater, target: .value([]))) == false)
        // A deleted key is missing.
        try t.put("gone", "v")
        try t.delete("gone")
        #expect(try holds(t, Compare(key: b("gone"), result: .equal, target: .create(0))) == true)
        #expect(try holds(t, Compare(key: b("gone"), result: .equal, target: .value(b("v")))) == false)
    }

    @Test func comparesWithRangeEnd() throws {
        let t = try TestStore()
        try t.put("r/a", "1")  // 2
        try t.put("r/b", "2")  // 3
        try t.put("r/c", "3")  // 4
        try t.put("s", "9")    // 5
        let end = prefixEnd(b("r/"))
        // Every key in the range must satisfy the compare.
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: end, result: .greater, target: .mod(1))) == true)
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: end, result: .greater, target: .mod(2))) == false)
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: end, result: .less, target: .mod(5))) == true)
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: end, result: .equal, target: .version(1))) == true)
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: end, result: .notEqual, target: .value(b("2")))) == false)
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: end, result: .less, target: .value(b("4")))) == true)
        // The range end is exclusive: s (mod 5) is not included.
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: b("s"), result: .less, target: .mod(5))) == true)
        #expect(try holds(t, Compare(key: b("r/"), rangeEnd: b("s\u{0}"), result: .less, target: .mod(5))) == false)
        // From-key and all-keys compares.
        #expect(try holds(t, Compare(key: b("r/b"), rangeEnd: [0], result: .greater, target: .mod(2))) == true)
        #expect(try holds(t, Compare(key: [0], rangeEnd: [0], result: .greater, target: .mod(2))) == false)
        // An empty range compares as one missing key (etcd 3.4.23: create == 0 over an empty range holds).
        #expect(try holds(t, Compare(key: b("q1"), rangeEnd: b("q9"), result: .equal, target: .create(0))) == true)
        #expect(try holds(t, Compare(key: b("q1"), rangeEnd: b("q9"), result: .equal, target: .value([]))) == false)
        // Several compares: all must hold.
        let both = try t.txn(TxnRequest(compare: [
            Compare(key: b("r/a"), result: .equal, target: .value(b("1"))),
            Compare(key: b("s"), result: .equal, target: .value(b("8"))),
        ]))
        #expect(both?.succeeded == false)
    }

    @Test func successAndFailureBranches() throws {
        let t = try store()
        // Compare holds: success branch runs.
        let ok = try t.txn(TxnRequest(
            compare: [Compare(key: b("k"), result: .equal, target: .value(b("m")))],
            success: [.put(PutRequest(key: b("s"), value: b("yes")))],
            failure: [.put(PutRequest(key: b("f"), value: b("no")))]
        ))
        #expect(ok?.succeeded == true)
        #expect(ok?.revision == 4)
        #expect(try t.get("s")?.value == b("yes"))
        #expect(try t.get("f") == nil)
        // Compare fails: failure branch runs (as kube-apiserver's create: mod_revision == 0, else range).
        let failed = try t.txn(TxnRequest(
            compare: [Compare(key: b("k"), result: .equal, target: .mod(0))],
            success: [.put(PutRequest(key: b("k"), value: b("overwritten")))],
            failure: [.range(RangeRequest(key: b("k")))]
        ))
        #expect(failed?.succeeded == false)
        #expect(failed?.revision == 4)
        #expect(t.revision == 4)
        #expect(failed?.responses == [.range(RangeResult(
            kvs: [KeyValue(key: b("k"), createRevision: 2, modRevision: 3, version: 2, value: b("m"), lease: 5)],
            more: false, count: 1, revision: 4))])
        #expect(try t.get("k")?.value == b("m"))
        // A failure branch that writes bumps the revision.
        let failWrite = try t.txn(TxnRequest(
            compare: [Compare(key: b("k"), result: .equal, target: .version(99))],
            success: [.put(PutRequest(key: b("s"), value: b("again")))],
            failure: [.deleteRange(DeleteRangeRequest(key: b("s"))), .put(PutRequest(key: b("f"), value: b("no")))]
        ))
        #expect(failWrite?.succeeded == false)
        #expect(failWrite?.revision == 5)
        #expect(try t.get("s") == nil)
        #expect(try t.get("f")?.modRevision == 5)
        // Empty txn: succeeds, no revision.
        let empty = try t.txn(TxnRequest())
        #expect(empty?.succeeded == true)
        #expect(empty?.revision == 5)
        #expect(t.revision == 5)
    }

    @Test func oneTxnIsOneRevisionWithSubRevisions() throws {
        let t = try TestStore()
        try t.put("x", "old")  // 2
        let result = try t.txn(TxnRequest(success: [
            .put(PutRequest(key: b("a"), value: b("1"))),
            .put(PutRequest(key: b("b"), value: b("2"))),
            .deleteRange(DeleteRangeRequest(key: b("x"))),
            .put(PutRequest(key: b("c"), value: b("3"))),
        ]))
        #expect(result?.revision == 3)
        #expect(t.revision == 3)
        guard let responses = result?.responses, responses.count == 4 else {
            Issue.record("responses: \(String(describing: result))")
            return
        }
        #expect(responses[0] == .put(PutResult(revision: 3, prevKV: nil)))
        #expect(responses[1] == .put(PutResult(revision: 3, prevKV: nil)))
        #expect(responses[2] == .deleteRange(DeleteRangeResult(revision: 3, deleted: 1, prevKVs: [])))
        #expect(responses[3] == .put(PutResult(revision: 3, prevKV: nil)))
        for key in ["a", "b", "c"] {
            #expect(try t.get(key)?.modRevision == 3)
            #expect(try t.get(key)?.createRevision == 3)
        }
        #expect(try t.get("x") == nil)
        #expect(try t.get("x", revision: 2)?.value == b("old"))
        // History records: main revision 3, sub revisions 0...3 in request order.
        let records = try t.store.read { reader in
            var records: [(Revision, String, Bool)] = []
            let cursor = try reader.txn.cursor(reader.schema.history)
            var entry = try cursor.seek(atLeast: Revision(main: 3).encoded)
            while let e = entry {
                let revision = Revision(encoded: e.key)
                let (kv, tombstone) = HistoryRecord.decode(e.value, revision: revision)
                records.append((revision, s(kv.key), tombstone))
                entry = try cursor.next()
            }
            return records
        }
        #expect(records.map(\.0) == [Revision(main: 3, sub: 0), Revision(main: 3, sub: 1), Revision(main: 3, sub: 2), Revision(main: 3, sub: 3)])
        #expect(records.map(\.1) == ["a", "b", "x", "c"])
        #expect(records.map(\.2) == [false, false, true, false])
    }

    @Test func readsInsideATxnSeeEarlierWrites() throws {
        let t = try TestStore()
        try t.put("a", "1")  // 2
        let result = try t.txn(TxnRequest(success: [
            .range(RangeRequest(key: b("a"))),
            .put(PutRequest(key: b("a"), value: b("2"))),
            .range(RangeRequest(key: b("a"))),
            .deleteRange(DeleteRangeRequest(key: b("a"))),
            .range(RangeRequest(key: b("a"), rangeEnd: b("z"))),
            .put(PutRequest(key: b("b"), value: b("3"), lease: 0)),
            .range(RangeRequest(key: b("a"), rangeEnd: b("z"))),
        ]))
        guard let responses = result?.responses, responses.count == 7 else {
            Issue.record("responses: \(String(describing: result))")
            return
        }
        // Before any write: the old state, at the old revision.
        #expect(responses[0] == .range(RangeResult(kvs: [KeyValue(key: b("a"), createRevision: 2, modRevision: 2, version: 1, value: b("1"))], more: false, count: 1, revision: 2)))
        // After the put: the new value, at the txn's revision.
        #expect(responses[2] == .range(RangeResult(kvs: [KeyValue(key: b("a"), createRevision: 2, modRevision: 3, version: 2, value: b("2"))], more: false, count: 1, revision: 3)))
        #expect(responses[4] == .range(RangeResult(kvs: [], more: false, count: 0, revision: 3)))
        #expect(responses[6] == .range(RangeResult(kvs: [KeyValue(key: b("b"), createRevision: 3, modRevision: 3, version: 1, value: b("3"))], more: false, count: 1, revision: 3)))
        #expect(t.revision == 3)
        // The delete's prev state was the txn's own put.
        if case .deleteRange(let delete) = responses[3] {
            #expect(delete.deleted == 1)
            #expect(delete.revision == 3)
        } else {
            Issue.record("\(responses[3])")
        }
        #expect(try t.get("a") == nil)
        #expect(try t.get("a", revision: 2)?.value == b("1"))
    }

    @Test func deleteOfNothingAfterAWriteReportsTheTxnRevision() throws {
        // etcd: a delete that deletes nothing reports beginRev+1 once the txn has changed something.
        let t = try TestStore()
        let result = try t.txn(TxnRequest(success: [
            .deleteRange(DeleteRangeRequest(key: b("none"))),
            .put(PutRequest(key: b("a"), value: b("1"))),
            .deleteRange(DeleteRangeRequest(key: b("none"))),
        ]))
        #expect(result?.responses == [
            .deleteRange(DeleteRangeResult(revision: 1, deleted: 0, prevKVs: [])),
            .put(PutResult(revision: 2, prevKV: nil)),
            .deleteRange(DeleteRangeResult(revision: 2, deleted: 0, prevKVs: [])),
        ])
        #expect(t.revision == 2)
    }

    @Test func nestedTxns() throws {
        let t = try TestStore()
        try t.put("n0", "x")  // 2
        // Checked against etcd 3.4.23: nested compares are evaluated against the state before the
        // whole transaction, reads see the transaction's earlier writes.
        let result = try t.txn(TxnRequest(success: [
            .put(PutRequest(key: b("n"), value: b("1"))),
            .txn(TxnRequest(
                compare: [Compare(key: b("n"), result: .equal, target: .version(0))],
                success: [
                    .range(RangeRequest(key: b("n"))),
                    .put(PutRequest(key: b("m"), value: b("2"))),
                    .txn(TxnRequest(
                        compare: [Compare(key: b("n0"), result: .equal, target: .value(b("nope")))],
                        success: [.put(PutRequest(key: b("deep-success"), value: []))],
                        failure: [.put(PutRequest(key: b("deep-failure"), value: []))]
                    )),
                ],
                failure: [.range(RangeRequest(key: b("zzz")))]
            )),
            .deleteRange(DeleteRangeRequest(key: b("n0"))),
        ]))
        #expect(result?.succeeded == true)
        #expect(result?.revision == 3)
        #expect(t.revision == 3)
        guard let responses = result?.responses, responses.count == 3, case .txn(let inner) = responses[1] else {
            Issue.record("responses: \(String(describing: result))")
            return
        }
        #expect(inner.succeeded == true)
        #expect(inner.responses.count == 3)
        if inner.responses.count == 3 {
            #expect(inner.responses[0] == .range(RangeResult(kvs: [KeyValue(key: b("n"), createRevision: 3, modRevision: 3, version: 1, value: b("1"))], more: false, count: 1, revision: 3)))
            #expect(inner.responses[1] == .put(PutResult(revision: 3, prevKV: nil)))
            if case .txn(let deep) = inner.responses[2] {
                #expect(deep.succeeded == false)
                #expect(deep.responses == [.put(PutResult(revision: 3, prevKV: nil))])
            } else {
                Issue.record("\(inner.responses[2])")
            }
        }
        #expect(responses[2] == .deleteRange(DeleteRangeResult(revision: 3, deleted: 1, prevKVs: [])))
        #expect(try t.keys("a", "z") == ["deep-failure", "m", "n"])
        #expect(try t.get("m")?.modRevision == 3)

        // The nested failure branch, chosen on the pre-transaction state too.
        let second = try t.txn(TxnRequest(
            compare: [Compare(key: b("m"), result: .equal, target: .version(1))],
            success: [
                .deleteRange(DeleteRangeRequest(key: b("m"))),
                .txn(TxnRequest(
                    compare: [Compare(key: b("m"), result: .equal, target: .version(0))],
                    success: [.put(PutRequest(key: b("wrong"), value: []))],
                    failure: [.range(RangeRequest(key: b("m")))]
                )),
            ]
        ))
        #expect(second?.succeeded == true)
        guard let secondResponses = second?.responses, secondResponses.count == 2, case .txn(let secondInner) = secondResponses[1] else {
            Issue.record("responses: \(String(describing: second))")
            return
        }
        #expect(secondInner.succeeded == false)
        #expect(secondInner.responses == [.range(RangeResult(kvs: [], more: false, count: 0, revision: 4))])
        #expect(try t.get("wrong") == nil)
        #expect(t.revision == 4)
    }

    @Test func readOnlyTxn() throws {
        let t = try store()
        let result = try t.store.readOnlyTxn(TxnRequest(
            compare: [Compare(key: b("k"), result: .greater, target: .version(1))],
            success: [.range(RangeRequest(key: b("k"))), .txn(TxnRequest(success: [.range(RangeRequest(key: b("none")))]))],
            failure: []
        ))
        #expect(result.succeeded == true)
        #expect(result.revision == 3)
        #expect(result.responses.count == 2)
        if case .range(let range) = result.responses.first {
            #expect(range.kvs.map(\.value) == [b("m")])
        } else {
            Issue.record("\(result.responses)")
        }
        let failed = try t.store.readOnlyTxn(TxnRequest(
            compare: [Compare(key: b("k"), result: .less, target: .version(1))],
            success: [.range(RangeRequest(key: b("k")))],
            failure: [.range(RangeRequest(key: b("none")))]
        ))
        #expect(failed.succeeded == false)
        #expect(failed.responses == [.range(RangeResult(kvs: [], more: false, count: 0, revision: 3))])
    }

    @Test func txnRangeAtBadRevisionsFailsWholeTxn() throws {
        let t = try TestStore()
        try t.put("a", "1")  // 2
        try t.put("a", "2")  // 3
        try t.put("a", "3")  // 4
        var future = RangeRequest(key: b("a"))
        future.revision = 5
        let r1 = try t.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("b"), value: [])), .range(future)])))
        #expect(r1 == .failure(.futureRevision))
        #expect(t.revision == 4)
        #expect(try t.get("b") == nil)
        try t.apply(.compact(revision: 3))
        var old = RangeRequest(key: b("a"))
        old.revision = 2
        let r2 = try t.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("b"), value: [])), .range(old)])))
        #expect(r2 == .failure(.compacted))
        #expect(t.revision == 4)
        #expect(try t.get("b") == nil)
        // At the compact revision it works; the result carries the txn's revision (etcd 3.4.23: a range
        // at an old revision inside a txn has the current revision in its header).
        old.revision = 3
        let r3 = try t.txn(TxnRequest(success: [.range(old)]))
        #expect(r3?.responses == [.range(RangeResult(kvs: [KeyValue(key: b("a"), createRevision: 2, modRevision: 3, version: 2, value: b("2"))], more: false, count: 1, revision: 4))])
    }

    @Test func ignoreValueAndIgnoreLease() throws {
        let t = try TestStore()
        try t.grant(1)
        try t.grant(2)
        try t.put("k", "v1", lease: 1)  // 2
        // ignore_value: keeps the value, takes the new lease.
        var request = PutRequest(key: b("k"), value: [], lease: 2)
        request.ignoreValue = true
        request.prevKV = true
        let result = try t.txn(TxnRequest(success: [.put(request)]))
        #expect(result?.revision == 3)
        #expect(result?.responses == [.put(PutResult(revision: 3, prevKV: KeyValue(key: b("k"), createRevision: 2, modRevision: 2, version: 1, value: b("v1"), lease: 1)))])
        #expect(try t.get("k") == KeyValue(key: b("k"), createRevision: 2, modRevision: 3, version: 2, value: b("v1"), lease: 2))
        #expect(try t.store.keys(ofLease: 1) == [])
        #expect(try t.store.keys(ofLease: 2) == [b("k")])
        // ignore_lease: keeps the lease, takes the new value.
        request = PutRequest(key: b("k"), value: b("v2"))
        request.ignoreLease = true
        try t.txn(TxnRequest(success: [.put(request)]))
        #expect(try t.get("k") == KeyValue(key: b("k"), createRevision: 2, modRevision: 4, version: 3, value: b("v2"), lease: 2))
        #expect(try t.store.keys(ofLease: 2) == [b("k")])
        // Both.
        request = PutRequest(key: b("k"), value: [])
        request.ignoreLease = true
        request.ignoreValue = true
        try t.txn(TxnRequest(success: [.put(request)]))
        #expect(try t.get("k") == KeyValue(key: b("k"), createRevision: 2, modRevision: 5, version: 4, value: b("v2"), lease: 2))
        // On a missing key: keyNotFound, nothing changes (etcd: "etcdserver: key not found").
        for (ignoreValue, ignoreLease) in [(true, false), (false, true)] {
            var missing = PutRequest(key: b("missing"), value: ignoreValue ? [] : b("x"))
            missing.ignoreValue = ignoreValue
            missing.ignoreLease = ignoreLease
            #expect(try t.apply(.txn(TxnRequest(success: [.put(PutRequest(key: b("other"), value: [])), .put(missing)]))) == .failure(.keyNotFound))
            #expect(t.revision == 5)
            #expect(try t.get("other") == nil)
            #expect(try t.get("missing") == nil)
        }
        // A deleted key is missing too.
        try t.delete("k")  // 6
        var deleted = PutRequest(key: b("k"), value: [])
        deleted.ignoreValue = true
        #expect(try t.apply(.txn(TxnRequest(success: [.put(deleted)]))) == .failure(.keyNotFound))
        #expect(t.revision == 6)
    }
}
