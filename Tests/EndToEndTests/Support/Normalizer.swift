import Foundation

/// Rewrites one server's transcript so that what differs between two servers by nature disappears, and
/// nothing else does.
///
/// Normalised: the server's own ports and temp paths; cluster ids, member ids (decimal and hex) and lease
/// ids (decimal, `%016x` and `%x`, including lease ids inside lock / election keys) — each distinct id becomes
/// a placeholder numbered by order of first appearance, so "the same lease twice" still has to hold; raft
/// terms, raft indexes, db sizes, server versions, hashes, `took` timings, and a lease's remaining TTL when it
/// is within 3 s of its granted TTL.
///
/// Not normalised: revisions, compact revisions, keys, values, key versions, create / mod revisions, counts,
/// lease TTLs as granted, error texts and exit codes.
struct Normalizer {
    /// Literal, server-specific strings and their placeholders (longest first).
    var literals: [(String, String)]

    init(server: ServerProcess) {
        literals = [
            (server.root, "<TMP>"),
            (server.clientAddress, "<CLIENT>"),
            (server.peerAddress, "<PEER>"),
        ]
    }

    init(literals: [(String, String)]) { self.literals = literals }

    private enum Kind: String { case cluster = "CLUSTER", member = "MEMBER", lease = "LEASE" }

    private struct Context {
        let kind: Kind
        let pattern: NSRegularExpression
        let hex: Bool
    }

    private static func re(_ pattern: String) -> NSRegularExpression {
        try! NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
    }

    /// Where ids appear; group 1 is the id. Member and cluster ids are collected before lease ids, and a
    /// value known as a member id is never taken for a lease id (both print as `"ID"`).
    private static let contexts: [Context] = [
        Context(kind: .cluster, pattern: re(#""cluster_id":(\d+)"#), hex: false),
        Context(kind: .cluster, pattern: re(#""ClusterID" : (\d+)"#), hex: false),
        Context(kind: .member, pattern: re(#""member_id":(\d+)"#), hex: false),
        Context(kind: .member, pattern: re(#""MemberID" : (\d+)"#), hex: false),
        Context(kind: .member, pattern: re(#""leader":(\d+)"#), hex: false),
        Context(kind: .member, pattern: re(#""Leader" : (\d+)"#), hex: false),
        Context(kind: .member, pattern: re(#"\{"ID":(\d+),"name""#), hex: false),
        Context(kind: .member, pattern: re(#""ID" : (\d+)\n"Name""#), hex: false),
        Context(kind: .member, pattern: re(#"^([0-9a-f]+), (?:started|unstarted), "#), hex: true),
        Context(kind: .member, pattern: re(#"^<CLIENT>, ([0-9a-f]+), \d+\.\d+"#), hex: true),
        Context(kind: .lease, pattern: re(#"\blease ([0-9a-f]+) (?:granted|revoked|keepalived|already expired)"#), hex: true),
        Context(kind: .lease, pattern: re(#"^([0-9a-f]{16})$"#), hex: true),
        Context(kind: .lease, pattern: re(#"^[A-Za-z0-9_.-]*(?:lock|elect)[A-Za-z0-9_.-]*/([0-9a-f]+)$"#), hex: true),
        Context(kind: .lease, pattern: re(#""ID":(\d+)"#), hex: false),
        Context(kind: .lease, pattern: re(#""ID" : (\d+)"#), hex: false),
        Context(kind: .lease, pattern: re(#""id":(\d+)"#), hex: false),
        Context(kind: .lease, pattern: re(#""lease":(\d+)"#), hex: false),
        Context(kind: .lease, pattern: re(#""Lease" : (\d+)"#), hex: false),
    ]

    /// (pattern, template) rewrites applied after ids.
    private static let rewrites: [(NSRegularExpression, String)] = [
        (re(#""(raft_term|raftTerm)":\d+"#), #""$1":<TERM>"#),
        (re(#""RaftTerm" : \d+"#), #""RaftTerm" : <TERM>"#),
        (re(#""(raftIndex|raftAppliedIndex)":\d+"#), #""$1":<INDEX>"#),
        (re(#""(RaftIndex|RaftAppliedIndex)" : \d+"#), #""$1" : <INDEX>"#),
        (re(#""(dbSize|dbSizeInUse)":\d+"#), #""$1":<SIZE>"#),
        (re(#""(DBSize|DBSizeInUse)" : \d+"#), #""$1" : <SIZE>"#),
        (re(#""version":"[^"]*""#), #""version":"<VERSION>""#),
        (re(#""Version" : "[^"]*""#), #""Version" : "<VERSION>""#),
        (re(#""hash":\d+"#), #""hash":<HASH>"#),
        (re(#""Hash" : \d+"#), #""Hash" : <HASH>"#),
        (re(#"^((?:http://)?<CLIENT>), \d+$"#), "$1, <HASH>"),
        // endpoint status (simple): endpoint, id, version, db size, leader, learner, term, index, applied, errors
        (re(#"^((?:http://)?<CLIENT>), ([^,]+), [^,]+, [^,]+, (true|false), (true|false), \d+, \d+, \d+, "#),
         "$1, $2, <VERSION>, <SIZE>, $3, $4, <TERM>, <INDEX>, <INDEX>, "),
        (re(#"took = \S+"#), "took = <TIME>"),
        (re(#""took":"[^"]*""#), #""took":"<TIME>""#),
    ]

    func normalize(_ texts: [String]) -> [String] {
        var texts = texts.map { text in
            var text = text
            for (literal, placeholder) in literals.sorted(by: { $0.0.count > $1.0.count }) where !literal.isEmpty {
                text = text.replacingOccurrences(of: literal, with: placeholder)
            }
            return text
        }

        // Collect ids in order of first appearance.
        let joined = texts.joined(separator: "\n\u{1}\n")
        var found: [(position: Int, kind: Kind, value: UInt64)] = []
        var members: Set<UInt64> = []
        for context in Self.contexts {
            let ns = joined as NSString
            for match in context.pattern.matches(in: joined, range: NSRange(location: 0, length: ns.length)) {
                let token = ns.substring(with: match.range(at: 1))
                guard let value = context.hex ? UInt64(token, radix: 16) : UInt64(token), value != 0 else { continue }
                if context.kind != .lease { members.insert(value) }
                if context.kind == .lease && members.contains(value) { continue }
                found.append((match.range(at: 1).location, context.kind, value))
            }
        }
        found.sort { $0.position < $1.position }
        var placeholders: [UInt64: String] = [:]
        var counters: [Kind: Int] = [:]
        for (_, kind, value) in found where placeholders[value] == nil {
            counters[kind, default: 0] += 1
            placeholders[value] = "<\(kind.rawValue)-\(counters[kind]!)>"
        }

        var idRewrites: [(NSRegularExpression, String)] = []
        for (value, placeholder) in placeholders {
            var forms = Set([String(value), String(value, radix: 16)])
            let hex = String(value, radix: 16)
            forms.insert(String(repeating: "0", count: max(0, 16 - hex.count)) + hex)
            for form in forms {
                idRewrites.append((Self.re("(?<![0-9A-Za-z])\(form)(?![0-9A-Za-z])"),
                                   NSRegularExpression.escapedTemplate(for: placeholder)))
            }
        }

        texts = texts.map { text in
            var text = text
            for (pattern, template) in idRewrites + Self.rewrites {
                text = pattern.stringByReplacingMatches(
                    in: text, range: NSRange(location: 0, length: (text as NSString).length), withTemplate: template)
            }
            return Self.sortAttachedKeys(Self.normalizeRemainingTTL(text))
        }
        return texts
    }

    /// etcd lists a lease's attached keys in Go map order (random); sort them.
    private static func sortAttachedKeys(_ text: String) -> String {
        let patterns: [(NSRegularExpression, String)] = [
            (re(#"attached keys\(\[([^\]]*)\]\)"#), " "),
            (re(#""keys":\[([^\]]*)\]"#), ","),
        ]
        var text = text
        for (pattern, separator) in patterns {
            let ns = text as NSString
            var result = ""
            var last = 0
            for match in pattern.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                let inner = match.range(at: 1)
                let sorted = ns.substring(with: inner).components(separatedBy: separator).sorted()
                    .joined(separator: separator)
                result += ns.substring(with: NSRange(location: last, length: inner.location - last)) + sorted
                last = inner.location + inner.length
            }
            result += ns.substring(from: last)
            text = result
        }
        return text
    }

    /// A lease's remaining TTL within 3 s below its granted TTL becomes `≈granted` (it ticks while we look).
    private static func normalizeRemainingTTL(_ text: String) -> String {
        let patterns: [(NSRegularExpression, remainingFirst: Bool, format: (String, String) -> String)] = [
            (re(#"TTL\((\d+)s\), remaining\((\d+)s\)"#), false, { g, r in "TTL(\(g)s), remaining(\(r)s)" }),
            (re(#""ttl":(\d+),"granted-ttl":(\d+)"#), true, { g, r in #""ttl":\#(r),"granted-ttl":\#(g)"# }),
            (re(#""TTL" : (\d+)\n"GrantedTTL" : (\d+)"#), true, { g, r in "\"TTL\" : \(r)\n\"GrantedTTL\" : \(g)" }),
        ]
        var text = text
        for (pattern, remainingFirst, format) in patterns {
            let ns = text as NSString
            var result = ""
            var last = 0
            for match in pattern.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                let a = ns.substring(with: match.range(at: 1)), b = ns.substring(with: match.range(at: 2))
                let (granted, remaining) = remainingFirst ? (b, a) : (a, b)
                result += ns.substring(with: NSRange(location: last, length: match.range.location - last))
                if let g = Int(granted), let r = Int(remaining), r <= g, r >= g - 3 {
                    result += format(granted, "≈\(granted)")
                } else {
                    result += ns.substring(with: match.range)
                }
                last = match.range.location + match.range.length
            }
            result += ns.substring(from: last)
            text = result
        }
        return text
    }
}
