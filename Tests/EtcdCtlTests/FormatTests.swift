@testable import EtcdCtl
import EtcdProto
import Testing

/// The Go formatting helpers, against values printed by Go itself (from the Go documentation and
/// etcdctl output).
@Suite struct FormatTests {
    @Test(arguments: [
        (Int64(0), "0s"), (150, "150ns"), (989_806, "989.806µs"), (1_395_786, "1.395786ms"),
        (1_000_000, "1ms"), (2_500_000_000, "2.5s"), (60_500_000_000, "1m0.5s"), (7_200_000_000_000, "2h0m0s"),
        (-1_500_000, "-1.5ms"),
    ])
    func goDuration(nanoseconds: Int64, expected: String) {
        #expect(GoDuration.string(nanoseconds: nanoseconds) == expected)
    }

    @Test(arguments: [
        (UInt64(0), "0 B"), (9, "9 B"), (10, "10 B"), (999, "999 B"), (1000, "1.0 kB"), (1500, "1.5 kB"),
        (20480, "20 kB"), (82_854_982, "83 MB"), (2_147_483_648, "2.1 GB"),
    ])
    func humanizeBytes(size: UInt64, expected: String) {
        #expect(Humanize.bytes(size) == expected)
    }

    @Test func goQuote() {
        #expect(GoFormat.quote("a\"b\\c\n\t") == #""a\"b\\c\n\t""#)
        #expect(GoFormat.quote([0x61, 0xFF, 0x01, 0x7F]) == #""a\xff\x01\x7f""#)
        #expect(GoFormat.quote("ключ ☺") == "\"ключ ☺\"")
        #expect(GoFormat.quote("\u{A0}\u{200B}\u{1F600}") == #""\u00a0\u200b😀""#)
    }

    @Test func goJSONEscapes() {
        let value = GoJSON.string("<a&b>\u{2028}\n\u{01}é\"")
        #expect(value.encoded == #""\u003ca\u0026b\u003e\u2028\n\u0001é\"""#)
    }

    @Test func leaseIDsKeepTheirSign() {
        #expect(GoFormat.hex(Int64(0x1f), width: 16) == "000000000000001f")
        #expect(GoFormat.hex(Int64(-1), width: 16) == "-000000000000001")
    }

    @Test func memberSimpleLines() {
        var response = Etcdserverpb_MemberPromoteResponse()
        response.header.clusterID = 0x4824_3fa8_e1e3_dd87
        #expect(
            SimplePrinter().memberPromote(id: 0xabc, response)
                == "Member              abc promoted in cluster 48243fa8e1e3dd87\n")
        #expect(
            SimplePrinter().moveLeader(from: 0x8e9e05c52164694d, to: 0xabc, Etcdserverpb_MoveLeaderResponse())
                == "Leadership transferred from 8e9e05c52164694d to abc\n")
        #expect(throws: PrinterError.unsupportedFormat(.table)) {
            try TablePrinter().memberPromote(id: 1, response)
        }
    }

    @Test func commandTexts() {
        #expect(CommandText.progressNotify(revision: 7) == "progress notify: 7\n")
        #expect(CommandText.error("table not supported as output format") == "Error: table not supported as output format\n")
    }
}
