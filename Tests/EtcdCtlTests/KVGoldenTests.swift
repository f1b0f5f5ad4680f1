import EtcdCtl
import EtcdProto
import Foundation
import Testing

/// get, put, del and txn: each printer's text against the real etcdctl's stdout for the same response.
@Suite struct KVGoldenTests {
    @Test func getOneKeyPrefixAndOptions() throws {
        try withEtcd { etcd in
            for (key, value) in [("k1", "v1"), ("k2", "two words"), ("k3", "<&> \"q\" ключ\ttab")] {
                _ = try etcd.etcdctl(["put", key, value])
            }
            let variants: [[String]] = [
                ["get", "k1"],
                ["get", "k", "--prefix"],
                ["get", "k", "--prefix", "--keys-only"],
                ["get", "k", "--prefix", "--limit", "2"],
                ["get", "k", "--from-key"],
                ["get", "k1", "--rev", "2"],
                ["get", "k", "--prefix", "--sort-by", "MODIFY", "--order", "DESCEND"],
                ["get", "missing"],
            ]
            for arguments in variants {
                let response = try etcd.protobuf(Etcdserverpb_RangeResponse.self, arguments)
                try etcd.expectGolden(arguments) { try $0.get(response) }
                try etcd.expectGolden(arguments, hex: true) { try $0.get(response) }
            }
            #expect(try etcd.protobuf(Etcdserverpb_RangeResponse.self, ["get", "k", "--prefix", "--limit", "2"]).more)
        }
    }

    @Test func getPrintValueOnly() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["put", "k1", "v1"])
            _ = try etcd.etcdctl(["put", "k2", "v2"])
            let response = try etcd.protobuf(Etcdserverpb_RangeResponse.self, ["get", "k", "--prefix"])
            for hex in [false, true] {
                let result = try etcd.etcdctl((hex ? ["--hex"] : []) + ["get", "k", "--prefix", "--print-value-only"])
                #expect(SimplePrinter(hex: hex, valueOnly: true).get(response) == result.text)
            }
        }
    }

    /// Bytes that are not UTF-8: fields quotes them with `\x` escapes, json writes base64, hex escapes all.
    @Test func getBinaryValue() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["put", "bin", "a\u{01}\u{7F}é"])
            let response = try etcd.protobuf(Etcdserverpb_RangeResponse.self, ["get", "bin"])
            try etcd.expectGolden(["get", "bin"]) { try $0.get(response) }
            try etcd.expectGolden(["get", "bin"], hex: true) { try $0.get(response) }
        }
    }

    /// A put is a write, so every run makes a new revision: run i answers like the protobuf run with
    /// revisions moved on by i and the previous value one version further.
    @Test func putWithPrevKV() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["put", "k", "v"])
            let arguments = ["put", "k", "v", "--prev-kv"]
            let first = try etcd.protobuf(Etcdserverpb_PutResponse.self, arguments)
            for (index, format) in OutputFormat.allCases.enumerated() {
                var expected = first
                let step = Int64(index + 1)
                expected.header.revision += step
                expected.prevKv.modRevision += step
                expected.prevKv.version += step
                let result = try etcd.etcdctl(["-w", format.rawValue] + arguments)
                try expectSame(result, format: format) { try $0.put(expected) }
            }
            let plain = try etcd.etcdctl(["put", "other", "x"])
            #expect(plain.text == SimplePrinter().put(Etcdserverpb_PutResponse()))
        }
    }

    /// Each run recreates the two keys (two revisions) and deletes them (a third).
    @Test func deleteWithPrevKV() throws {
        try withEtcd { etcd in
            func recreate() throws {
                _ = try etcd.etcdctl(["put", "d1", "x"])
                _ = try etcd.etcdctl(["put", "d2", "y"])
            }
            let arguments = ["del", "d", "--prefix", "--prev-kv"]
            try recreate()
            let first = try etcd.protobuf(Etcdserverpb_DeleteRangeResponse.self, arguments)
            #expect(first.deleted == 2)
            for (index, format) in OutputFormat.allCases.enumerated() {
                try recreate()
                var expected = first
                let step = Int64(3 * (index + 1))
                expected.header.revision += step
                for i in expected.prevKvs.indices {
                    expected.prevKvs[i].createRevision += step
                    expected.prevKvs[i].modRevision += step
                }
                let result = try etcd.etcdctl(["-w", format.rawValue] + arguments)
                try expectSame(result, format: format) { try $0.delete(expected) }
            }
            let nothing = try etcd.protobuf(Etcdserverpb_DeleteRangeResponse.self, ["del", "nothing"])
            try etcd.expectGolden(["del", "nothing"]) { try $0.delete(nothing) }
        }
    }

    /// Reads and a delete of a missing key change nothing, so every run gets the same response.
    @Test func txnWithoutWrites() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["put", "a", "1"])
            _ = try etcd.etcdctl(["put", "k1", "v1"])
            _ = try etcd.etcdctl(["put", "k2", "v2"])
            for compare in ["value(\"a\") = \"1\"", "value(\"a\") = \"2\""] {
                let input = "\(compare)\n\nget a\ndel zz\nget k --prefix\n\nget k1\n\n"
                let result = try etcd.etcdctl(["-w", "protobuf", "txn"], stdin: input)
                let response = try Etcdserverpb_TxnResponse(serializedBytes: result.stdout)
                try etcd.expectGolden(["txn"], stdin: input) { try $0.txn(response) }
                try etcd.expectGolden(["txn"], hex: true, stdin: input) { try $0.txn(response) }
            }
        }
    }

    /// A txn that writes once per run: the revisions of the protobuf run move on by one each time.
    @Test func txnWithPut() throws {
        try withEtcd { etcd in
            let input = "\nput t v\nget other\n\n\n"
            _ = try etcd.etcdctl(["put", "other", "o"])
            let result = try etcd.etcdctl(["-w", "protobuf", "txn"], stdin: input)
            let first = try Etcdserverpb_TxnResponse(serializedBytes: result.stdout)
            for (index, format) in OutputFormat.allCases.enumerated() {
                var expected = first
                let step = Int64(index + 1)
                expected.header.revision += step
                for i in expected.responses.indices {
                    switch expected.responses[i].response {
                    case .responsePut(var put):
                        put.header.revision += step
                        expected.responses[i].response = .responsePut(put)
                    case .responseRange(var range):
                        range.header.revision += step
                        expected.responses[i].response = .responseRange(range)
                    default: break
                    }
                }
                let run = try etcd.etcdctl(["-w", format.rawValue, "txn"], stdin: input)
                try expectSame(run, format: format) { try $0.txn(expected) }
            }
        }
    }

    @Test func watchEvents() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["put", "w1", "a"])
            _ = try etcd.etcdctl(["put", "w2", "b"])
            _ = try etcd.etcdctl(["put", "w1", "c"])
            _ = try etcd.etcdctl(["del", "w2"])
            let arguments = ["watch", "w", "--prefix", "--rev", "2", "--prev-kv"]
            let raw = try etcd.etcdctlUntilQuiet(["-w", "protobuf"] + arguments)
            let response = try Etcdserverpb_WatchResponse(serializedBytes: raw.stdout)
            #expect(response.events.count == 4)
            for hex in [false, true] {
                for format in OutputFormat.allCases {
                    let result = try etcd.etcdctlUntilQuiet(
                        ["-w", format.rawValue] + (hex ? ["--hex"] : []) + arguments)
                    try expectSame(result, format: format, hex: hex) { try $0.watch(response) }
                }
            }
        }
    }

    @Test func compactionDefragAndSnapshotSave() throws {
        try withEtcd { etcd in
            _ = try etcd.etcdctl(["put", "a", "1"])
            _ = try etcd.etcdctl(["put", "a", "2"])
            #expect(try etcd.etcdctl(["compaction", "2"]).text == CommandText.compacted(revision: 2))
            #expect(
                try etcd.etcdctl(["defrag"]).text == CommandText.defragmented(endpoint: etcd.clientURL))
            let path = etcd.directory.appendingPathComponent("snap.db").path
            #expect(try etcd.etcdctl(["snapshot", "save", path]).text == CommandText.snapshotSaved(path: path))
        }
    }
}
