/// Key-range arithmetic shared by etcd's clients and servers.
public enum KeyRanges {
    /// The end of the range of keys that start with `prefix` (etcd's `GetPrefixRangeEnd`): the prefix
    /// with its last byte below 0xff incremented and what follows it dropped, or `[0]` (every key from
    /// the start) when there is no such byte.
    public static func prefixEnd(of prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
