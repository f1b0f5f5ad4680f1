/// A point in the store's history: `main` is the revision of a write request, `sub` numbers the changes
/// inside it. An empty store is at main revision 1; each write request adds exactly 1.
public struct Revision: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var main: Int64
    public var sub: Int64

    public init(main: Int64, sub: Int64 = 0) {
        self.main = main
        self.sub = sub
    }

    public static func < (lhs: Revision, rhs: Revision) -> Bool {
        (lhs.main, lhs.sub) < (rhs.main, rhs.sub)
    }

    public var description: String { "\(main)_\(sub)" }

    /// 16 bytes, big-endian main then sub: byte order equals revision order.
    var encoded: [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(17)
        bytes.appendBigEndian(UInt64(bitPattern: main))
        bytes.appendBigEndian(UInt64(bitPattern: sub))
        return bytes
    }

    /// Decodes the first 16 bytes written by `encoded`.
    init(encoded bytes: [UInt8]) {
        main = Int64(bitPattern: bytes.readBigEndian(at: 0))
        sub = Int64(bitPattern: bytes.readBigEndian(at: 8))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func appendBigEndian32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    func readBigEndian32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(self[offset + i]) }
        return value
    }

    func readBigEndian(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(self[offset + i]) }
        return value
    }
}
