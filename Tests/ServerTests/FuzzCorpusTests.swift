import Foundation
import Raft
@testable import Server
import Testing
import WAL

/// The fuzz targets' committed corpora (Tests/FuzzCorpora, grown by tools/fuzz) replay without a
/// crash: every input a fuzzer ever found interesting, crashes it found included once fixed, stays a
/// regression test. The seeds are what setcd itself writes, so they must decode.
@Suite struct FuzzCorpusTests {
    static let corpora = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("FuzzCorpora").path

    @Test(arguments: FuzzTarget.allCases)
    func corpusReplays(_ target: FuzzTarget) throws {
        let directory = Self.corpora + "/" + target.rawValue
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(files.count >= 2, "the \(target.rawValue) corpus is missing")
        for file in files {
            target.run(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))))
        }
    }

    @Test func seedsAreValidInputs() throws {
        let wal = try FuzzTarget.wal.seeds()[0]
        let contents = try WriteAheadLog.readSegment(Array(wal.dropFirst()), isLast: true)
        #expect(contents.entries.map(\.index) == [3])
        #expect(contents.snapshot?.index == 2)
        let peer = try FuzzTarget.peer.seeds()
        #expect(try RaftWire.decode(peer[1]).entries.count == 2)
        #expect(try RaftWire.decode(peer[2]).snapshot?.metadata.index == 9)
        let v2 = try FuzzTarget.v2.seeds()[0]
        let request = try V2HTTPRequest.parse(method: "GET", uri: String(decoding: v2.dropFirst(), as: UTF8.self), contentType: nil, body: [], now: 0)
        #expect(request.path == "/foo")
    }
}
