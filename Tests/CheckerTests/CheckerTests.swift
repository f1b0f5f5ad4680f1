import Checker
// Raft's seeded SplitMix64, so that a seed replays exactly.
import Raft
import Testing

typealias Operation = HistoryOperation<EtcdModel.Request, EtcdModel.Response>

/// A KeyValue as etcd answers it.
private func kv(_ value: String, create: Int64, mod: Int64, version: Int64) -> EtcdModel.KeyValue {
    EtcdModel.KeyValue(value: value, createRevision: create, modRevision: mod, version: version)
}

/// The linearizability checker on etcd's model: histories that must pass, and the anomalies etcd's
/// robustness tests and Jepsen look for, which must not.
@Suite struct LinearizabilityTests {
    let model = EtcdModel()

    @Test func sequentialHistoryIsLinearizable() {
        let history: [Operation] = [
            .init(client: 0, input: .put("a", "1"), output: .put(revision: 2), call: 0, returned: 1),
            .init(client: 0, input: .get("a"), output: .get(revision: 2, kv("1", create: 2, mod: 2, version: 1)), call: 2, returned: 3),
            .init(client: 1, input: .put("a", "2"), output: .put(revision: 3), call: 4, returned: 5),
            .init(client: 1, input: .delete("a"), output: .delete(revision: 4, deleted: 1), call: 6, returned: 7),
            .init(client: 0, input: .delete("a"), output: .delete(revision: 4, deleted: 0), call: 8, returned: 9),
            .init(client: 0, input: .get("a"), output: .get(revision: 4, nil), call: 10, returned: 11),
        ]
        #expect(Linearizability.check(history, model: model) == .linearizable)
    }

    /// A read that starts after a write was acknowledged must see it.
    @Test func staleReadIsAViolation() {
        let history: [Operation] = [
            .init(client: 0, input: .put("a", "1"), output: .put(revision: 2), call: 0, returned: 10),
            .init(client: 1, input: .get("a"), output: .get(revision: 1, nil), call: 11, returned: 12),
        ]
        guard case .violation(let explained, let unexplained) = Linearizability.check(history, model: model) else {
            Issue.record("a stale read passed")
            return
        }
        #expect(explained == [0] && unexplained == [1])
    }

    /// Reads concurrent with a write may see either side of it, but two reads cannot go back in time.
    @Test func concurrentReadsSeeEitherSideButNeverGoBack() {
        let put = Operation(client: 0, input: .put("a", "1"), output: .put(revision: 2), call: 0, returned: 100)
        let new = Operation(client: 1, input: .get("a"), output: .get(revision: 2, kv("1", create: 2, mod: 2, version: 1)), call: 10, returned: 20)
        let old = Operation(client: 2, input: .get("a"), output: .get(revision: 1, nil), call: 10, returned: 20)
        #expect(Linearizability.check([put, new], model: model) == .linearizable)
        #expect(Linearizability.check([put, old], model: model) == .linearizable)
        // New then, strictly later, old: time travel.
        var later = old
        later.call = 30
        later.returned = 40
        #expect(Linearizability.check([put, new, later], model: model) != .linearizable)
    }

    /// Header revisions are part of the answer: a put cannot skip a revision.
    @Test func wrongRevisionIsAViolation() {
        let history: [Operation] = [
            .init(client: 0, input: .put("a", "1"), output: .put(revision: 2), call: 0, returned: 1),
            .init(client: 0, input: .put("b", "1"), output: .put(revision: 4), call: 2, returned: 3),
        ]
        #expect(Linearizability.check(history, model: model) != .linearizable)
    }

    /// An operation without an answer may have happened, at any time after its call, or never.
    @Test func unansweredWritesMayOrMayNotHaveHappened() {
        let lost = Operation(client: 0, input: .put("a", "1"), output: nil, call: 0, returned: nil)
        let seen = Operation(client: 1, input: .get("a"), output: .get(revision: 2, kv("1", create: 2, mod: 2, version: 1)), call: 50, returned: 60)
        let notSeen = Operation(client: 1, input: .get("a"), output: .get(revision: 1, nil), call: 50, returned: 60)
        #expect(Linearizability.check([lost, seen], model: model) == .linearizable)
        #expect(Linearizability.check([lost, notSeen], model: model) == .linearizable)
        // But not seen after having been seen.
        var after = notSeen
        after.call = 70
        after.returned = 80
        #expect(Linearizability.check([lost, seen, after], model: model) != .linearizable)
    }

    /// An acknowledged write that a later read does not find is lost.
    @Test func lostAcknowledgedWriteIsAViolation() {
        let history: [Operation] = [
            .init(client: 0, input: .put("a", "1"), output: .put(revision: 2), call: 0, returned: 1),
            .init(client: 0, input: .put("b", "1"), output: .put(revision: 3), call: 2, returned: 3),
            .init(client: 1, input: .get("a"), output: .get(revision: 3, nil), call: 4, returned: 5),
        ]
        #expect(Linearizability.check(history, model: model) != .linearizable)
    }

    /// Two compare-and-swaps from the same version cannot both succeed (a lost update).
    @Test func doubleCompareAndSwapIsAViolation() {
        let setup = Operation(client: 0, input: .put("counter", "0"), output: .put(revision: 2), call: 0, returned: 1)
        func swap(_ client: Int, to value: String, revision: Int64, succeeded: Bool) -> Operation {
            Operation(client: client, input: .txn(compares: [.init(key: "counter", target: .version(1), result: .equal)],
                                                  success: [.put("counter", value)], failure: [.get("counter")]),
                      output: .txn(revision: revision, succeeded: succeeded,
                                   results: succeeded ? [.put] : [.get(kv("1", create: 2, mod: 3, version: 2))]),
                      call: 10, returned: 20)
        }
        #expect(Linearizability.check([setup, swap(1, to: "1", revision: 3, succeeded: true), swap(2, to: "2", revision: 3, succeeded: false)],
                                      model: model) == .linearizable)
        #expect(Linearizability.check([setup, swap(1, to: "1", revision: 3, succeeded: true), swap(2, to: "2", revision: 4, succeeded: true)],
                                      model: model) != .linearizable)
    }

    /// Unanswered writes are settled from the store's changes: one whose value is there happened at
    /// that revision; one whose value is not never did.
    @Test func unansweredWritesAreSettledFromTheStoresChanges() {
        let history: [Operation] = [
            .init(client: 0, input: .put("a", "made"), output: nil, call: 0, returned: nil),
            .init(client: 1, input: .put("a", "lost"), output: nil, call: 1, returned: nil),
            .init(client: 2, input: .txn(compares: [], success: [.put("b", "cas")], failure: []), output: nil, call: 2, returned: nil),
            .init(client: 3, input: .delete("a"), output: nil, call: 3, returned: nil),
            .init(client: 4, input: .get("a"), output: .get(revision: 2, kv("made", create: 2, mod: 2, version: 1)), call: 4, returned: 5),
        ]
        let settled = EtcdModel.settleUnanswered(history, changes: [.init(kind: .put, key: "a", value: "made", revision: 2)])
        #expect(settled.count == 3 && settled[0].output == .put(revision: 2) && settled[1].input == .delete("a") && settled[1].output == nil)
        #expect(Linearizability.check(settled, model: model) == .linearizable)
    }

    /// Compares on a missing key: version 0 holds, any value compare fails (etcd's rule).
    @Test func comparesOnAMissingKey() {
        let state = model.initialState
        let missingVersion = EtcdModel.Request.txn(compares: [.init(key: "x", target: .version(0), result: .equal)], success: [.put("x", "1")], failure: [])
        let missingValue = EtcdModel.Request.txn(compares: [.init(key: "x", target: .value(""), result: .equal)], success: [], failure: [.get("x")])
        #expect(EtcdModel.apply(missingVersion, to: state).1 == .txn(revision: 2, succeeded: true, results: [.put]))
        #expect(EtcdModel.apply(missingValue, to: state).1 == .txn(revision: 1, succeeded: false, results: [.get(nil)]))
    }

    /// Random concurrent histories made by a real execution (each operation takes effect at a
    /// point inside its interval) always pass; the same history with one read's answer altered fails.
    @Test(arguments: 1...20) func randomExecutionsPassAndTamperedOnesFail(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var state = model.initialState
        var history: [Operation] = []
        // Effects happen in order at times 10, 20, 30…; each operation's interval straddles its time.
        for index in 0..<300 {
            let key = ["a", "b", "c"][Int(random.next() % 3)]
            let request: EtcdModel.Request
            switch random.next() % 4 {
            case 0: request = .put(key, String(index))
            case 1: request = .delete(key)
            case 2: request = .txn(compares: [.init(key: key, target: .version(Int64(random.next() % 3)), result: .equal)],
                                   success: [.put(key, "t\(index)")], failure: [.get(key)])
            default: request = .get(key)
            }
            let (after, answer) = EtcdModel.apply(request, to: state)
            state = after
            let point = Int64(index * 10 + 5)
            history.append(Operation(client: index % 5, input: request, output: answer,
                                     call: point - Int64(random.next() % 25), returned: point + Int64(random.next() % 25)))
        }
        #expect(Linearizability.check(history, model: model) == .linearizable)
        guard let read = history.lastIndex(where: { if case .get = $0.input { true } else { false } }),
              case .get(let revision, let value)? = history[read].output else { return }
        history[read].output = .get(revision: revision + 1000, value)
        #expect(Linearizability.check(history, model: model) != .linearizable)
    }
}

/// The watch validators: a faithful watch passes, and each broken guarantee is named.
@Suite struct WatchValidationTests {
    /// The store's changes: a=1 @2, b=1 @3, delete a @4, a txn putting a=2 and b=2 @5.
    let truth: [WatchEvent] = [
        .init(kind: .put, key: "a", value: "1", revision: 2), .init(kind: .put, key: "b", value: "1", revision: 3),
        .init(kind: .delete, key: "a", revision: 4), .init(kind: .put, key: "a", value: "2", revision: 5),
        .init(kind: .put, key: "b", value: "2", revision: 5),
    ]
    let everything = WatchRequestSpec(key: "", rangeEnd: "\0", startRevision: 2)

    @Test func aFaithfulWatchPasses() {
        let responses = [[truth[0]], [truth[1], truth[2]], [truth[3], truth[4]]]
        #expect(WatchValidation.validate(responses, spec: everything, truth: truth).isEmpty)
        // One key only, with its previous values.
        var withPrevious = truth.filter { $0.key == "a" }
        withPrevious[1].previousValue = "1"
        withPrevious[2].previousValue = nil
        #expect(WatchValidation.validate(withPrevious.map { [$0] }, spec: .init(key: "a", startRevision: 1, prevKV: true), truth: truth).isEmpty)
    }

    @Test func eachBrokenGuaranteeIsNamed() {
        #expect(WatchValidation.validate([[truth[0]], [truth[2]], [truth[3], truth[4]]], spec: everything, truth: truth) == [.missing(truth[1])])
        #expect(WatchValidation.validate([[truth[0], truth[1], truth[1]], [truth[2]], [truth[3], truth[4]]], spec: everything, truth: truth)
            == [.duplicate(revision: 3, key: "b")])
        #expect(WatchValidation.validate([[truth[0], truth[1], truth[2]], [truth[3]], [truth[4]]], spec: everything, truth: truth) == [.split(revision: 5)])
        #expect(WatchValidation.validate([[truth[1]], [truth[0]], [truth[2]], [truth[3], truth[4]]], spec: everything, truth: truth)
            == [.unordered(revision: 2, after: 3)])
        var wrongValue = truth[3]
        wrongValue.value = "9"
        #expect(WatchValidation.validate([[truth[0]], [truth[1]], [truth[2]], [wrongValue, truth[4]]], spec: everything, truth: truth)
            == [.phantom(wrongValue)])
    }

    @Test func resumedWatchesFiltersAndPreviousValues() {
        // From revision 4: revision 3 is too early, and 4 must be there.
        let resumed = WatchRequestSpec(key: "", rangeEnd: "\0", startRevision: 4)
        #expect(WatchValidation.validate([[truth[1]], [truth[3], truth[4]]], spec: resumed, truth: truth) == [.beforeStart(truth[1]), .missing(truth[2])])
        // No deletes asked for: a delete is not asked for; puts only is complete.
        let putsOnly = WatchRequestSpec(key: "", rangeEnd: "\0", startRevision: 2, noDelete: true)
        #expect(WatchValidation.validate([[truth[0]], [truth[1]], [truth[3], truth[4]]], spec: putsOnly, truth: truth).isEmpty)
        #expect(WatchValidation.validate([[truth[0]], [truth[1]], [truth[2]], [truth[3], truth[4]]], spec: putsOnly, truth: truth)
            == [.notAskedFor(truth[2])])
        // prev_kv: the delete of a must carry a's value 1.
        let previous = WatchRequestSpec(key: "a", startRevision: 2, prevKV: true)
        var put = truth[0]
        put.previousValue = nil
        var delete = truth[2]
        delete.previousValue = "2"
        #expect(WatchValidation.validate([[put], [delete]], spec: previous, truth: truth, through: 4) == [.wrongPreviousValue(delete, expected: "1")])
    }
}
