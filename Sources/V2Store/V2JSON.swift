/// etcd's v2 response bodies, byte for byte: Go's `json.Encoder` output (fields in etcd's order, empty
/// ones left out, Go's string escaping, a final newline).
public enum V2JSON {
    /// An event body (`noValue`: etcd's `noValueOnSuccess` for writes, the action alone).
    public static func event(_ event: V2Event, noValue: Bool = false) -> String {
        var out = "{\"action\":" + string(event.action.rawValue)
        let writes: Set<V2Action> = [.set, .compareAndSwap, .create, .update]
        if !(noValue && writes.contains(event.action)) {
            out += ",\"node\":" + node(event.node)
            if let previous = event.prevNode { out += ",\"prevNode\":" + node(previous) }
        }
        return out + "}\n"
    }

    /// An error body.
    public static func error(_ error: V2Error) -> String {
        var out = "{\"errorCode\":\(error.code),\"message\":" + string(error.message)
        if !error.cause.isEmpty { out += ",\"cause\":" + string(error.cause) }
        return out + ",\"index\":\(error.index)}\n"
    }

    static func node(_ node: V2NodeView) -> String {
        var fields: [String] = []
        if !node.key.isEmpty { fields.append("\"key\":" + string(node.key)) }
        if let value = node.value { fields.append("\"value\":" + string(value)) }
        if node.isDirectory { fields.append("\"dir\":true") }
        if let expiration = node.expiration { fields.append("\"expiration\":" + string(rfc3339Nano(expiration))) }
        if let ttl = node.ttl, ttl != 0 { fields.append("\"ttl\":\(ttl)") }
        if let nodes = node.nodes, !nodes.isEmpty { fields.append("\"nodes\":[" + nodes.map(Self.node).joined(separator: ",") + "]") }
        if node.modifiedIndex != 0 { fields.append("\"modifiedIndex\":\(node.modifiedIndex)") }
        if node.createdIndex != 0 { fields.append("\"createdIndex\":\(node.createdIndex)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A JSON string as Go writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped too.
    public static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += "\\u" + hex4(scalar.value)
            default:
                if scalar.value < 0x20 { out += "\\u" + hex4(scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Unix nanoseconds as Go's RFC 3339 with nanoseconds in UTC, trailing zeros of the fraction cut.
    public static func rfc3339Nano(_ nanoseconds: Int64) -> String {
        // Floored divisions, written so that no nanosecond count (Int64.min included) overflows.
        var seconds = nanoseconds / 1_000_000_000
        var fraction = nanoseconds % 1_000_000_000
        if fraction < 0 { seconds -= 1; fraction += 1_000_000_000 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { days -= 1; secondOfDay += 86_400 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var out = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2))"
        if fraction > 0 {
            var digits = pad(fraction, 9)
            while digits.hasSuffix("0") { digits.removeLast() }
            out += "." + digits
        }
        return out + "Z"
    }
}
