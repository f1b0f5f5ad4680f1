import Foundation

/// The few pieces of Go's `fmt` and `strconv` that etcdctl's printers rely on, reproduced byte for byte:
/// `%q`, `%x` with widths, `%v` of string slices, and UTF-8 decoding with Go's rules for invalid bytes.
enum GoFormat {
    /// Go's `%x` of an unsigned integer, left-padded to `width` with `pad` (`%016x` uses "0", `%16x` " ").
    static func hex(_ value: UInt64, width: Int = 0, pad: Character = "0") -> String {
        let digits = String(value, radix: 16)
        return String(repeating: pad, count: max(0, width - digits.count)) + digits
    }

    /// Go's `%0<width>x` of a signed integer: the sign counts towards the width, as in Go's `fmt`.
    static func hex(_ value: Int64, width: Int) -> String {
        guard value < 0 else { return hex(UInt64(value), width: width) }
        return "-" + hex(value.magnitude, width: width - 1)
    }

    /// Go's `%v` of a `[]string`: `[a b c]`.
    static func list(_ items: [String]) -> String {
        "[" + items.joined(separator: " ") + "]"
    }

    /// `strconv.Quote` (Go's `%q`) of a Go string holding arbitrary bytes: printable runes as they are,
    /// control characters and invalid UTF-8 as escapes.
    static func quote<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        var out = "\""
        for rune in runes(of: Array(bytes)) {
            guard let scalar = rune.scalar else {
                out += "\\x" + hex(UInt64(rune.bytes[rune.bytes.startIndex]), width: 2)
                continue
            }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where isPrint(scalar): out.unicodeScalars.append(scalar)
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + hex(UInt64(scalar.value), width: 2)
            case _ where scalar.value < 0x10000:
                out += "\\u" + hex(UInt64(scalar.value), width: 4)
            default:
                out += "\\U" + hex(UInt64(scalar.value), width: 8)
            }
        }
        return out + "\""
    }

    /// `strconv.Quote` of a Swift string.
    static func quote(_ string: String) -> String {
        quote(Array(string.utf8))
    }

    /// Go's `string(b)` printed as is: the bytes, with invalid UTF-8 replaced by U+FFFD (a Swift `String`
    /// cannot hold invalid UTF-8; a terminal shows the same replacement character).
    static func string<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 0x20 && scalar.value < 0x7F }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
            .spaceSeparator, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return true
        }
    }

    /// One rune of a Go string: a valid scalar and its bytes, or `nil` for one byte of invalid UTF-8
    /// (Go's `utf8.RuneError` of width 1).
    struct Rune {
        var scalar: Unicode.Scalar?
        var bytes: ArraySlice<UInt8>
    }

    /// Splits bytes into runes exactly as Go's `for range` over a string does (`utf8.DecodeRune`).
    static func runes(of bytes: [UInt8]) -> [Rune] {
        var result: [Rune] = []
        var i = 0
        while i < bytes.count {
            let width = validSequenceLength(bytes, at: i)
            guard width > 0 else {
                result.append(Rune(scalar: nil, bytes: bytes[i..<i + 1]))
                i += 1
                continue
            }
            let slice = bytes[i..<i + width]
            var value = width == 1 ? UInt32(slice.first!) : UInt32(slice.first!) & (0x7F >> width)
            for byte in slice.dropFirst() { value = value << 6 | UInt32(byte & 0x3F) }
            result.append(Rune(scalar: Unicode.Scalar(value), bytes: slice))
            i += width
        }
        return result
    }

    /// Length of the well-formed UTF-8 sequence starting at `i`, or 0 if it is not one (overlong forms,
    /// surrogates and values past U+10FFFF are invalid, as in Go).
    private static func validSequenceLength(_ bytes: [UInt8], at i: Int) -> Int {
        let lead = bytes[i]
        let width: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: width = 2
        case 0xE0: width = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: width = 3
        case 0xED: width = 3; high = 0x9F
        case 0xF0: width = 4; low = 0x90
        case 0xF1...0xF3: width = 4
        case 0xF4: width = 4; high = 0x8F
        default: return 0
        }
        guard i + width <= bytes.count else { return 0 }
        guard (low...high).contains(bytes[i + 1]) else { return 0 }
        for k in 2..<width where !(0x80...0xBF).contains(bytes[i + k]) { return 0 }
        return width
    }
}
