import Foundation

/// A JSON value as Go's `encoding/json` writes it for the gogo-generated etcd structs: objects keep the Go
/// struct's field order, 64-bit integers are plain numbers, `[]byte` is standard base64.
enum GoJSON {
    case object(Object)
    case array([GoJSON])
    case string(String)
    case bytes(Data)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case null

    /// The fields of a Go struct in declaration order. `omitEmpty` methods follow the `omitempty` tag:
    /// zero numbers, `false`, empty strings, empty slices and nil pointers are left out.
    struct Object {
        private(set) var fields: [(String, GoJSON)] = []

        mutating func add(_ key: String, _ value: GoJSON) {
            fields.append((key, value))
        }

        mutating func omitEmpty(_ key: String, _ value: Int64) {
            if value != 0 { add(key, .int(value)) }
        }

        mutating func omitEmpty(_ key: String, _ value: UInt64) {
            if value != 0 { add(key, .uint(value)) }
        }

        mutating func omitEmpty(_ key: String, _ value: Bool) {
            if value { add(key, .bool(value)) }
        }

        mutating func omitEmpty(_ key: String, _ value: String) {
            if !value.isEmpty { add(key, .string(value)) }
        }

        mutating func omitEmpty(_ key: String, _ value: Data) {
            if !value.isEmpty { add(key, .bytes(value)) }
        }

        mutating func omitEmpty(_ key: String, _ values: [GoJSON]) {
            if !values.isEmpty { add(key, .array(values)) }
        }

        /// A pointer field: present (possibly as `{}`) only when set.
        mutating func omitEmpty(_ key: String, _ value: GoJSON?) {
            if let value { add(key, value) }
        }

        /// Appends the fields of an embedded struct, as Go promotes them into the outer object.
        mutating func embed(_ other: Object?) {
            fields += other?.fields ?? []
        }
    }

    /// The encoded text, without a trailing newline (`json.Marshal`).
    var encoded: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .object(let object):
            out += "{"
            for (index, (key, value)) in object.fields.enumerated() {
                if index > 0 { out += "," }
                GoJSON.writeString(Array(key.utf8), to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .string(let string): GoJSON.writeString(Array(string.utf8), to: &out)
        case .bytes(let data): out += "\"" + data.base64EncodedString() + "\""
        case .int(let value): out += String(value)
        case .uint(let value): out += String(value)
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// Go 1.19's string encoding with HTML escaping: `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`,
    /// control characters as `\n`, `\r`, `\t` or `\u00XX`, invalid UTF-8 as `\ufffd`.
    private static func writeString(_ bytes: [UInt8], to out: inout String) {
        out += "\""
        for rune in GoFormat.runes(of: bytes) {
            guard let scalar = rune.scalar else {
                out += "\\ufffd"
                continue
            }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += "\\u" + GoFormat.hex(UInt64(scalar.value), width: 4)
            case _ where scalar.value < 0x20:
                out += "\\u" + GoFormat.hex(UInt64(scalar.value), width: 4)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
