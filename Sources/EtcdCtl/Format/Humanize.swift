import Foundation

/// dustin/go-humanize's `Bytes`, which etcdctl uses for "db size" and snapshot "total size".
enum Humanize {
    /// SI sizes with one significant decimal below 10: `9 B`, `20 kB`, `1.2 MB`.
    static func bytes(_ size: UInt64) -> String {
        if size < 10 { return "\(size) B" }
        let suffixes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        let exponent = (log(Double(size)) / log(1000)).rounded(.down)
        let value = (Double(size) / pow(1000, exponent) * 10 + 0.5).rounded(.down) / 10
        return format(value) + " " + suffixes[Int(exponent)]
    }

    /// Go's `%.1f` below 10 and `%.0f` from 10 on, for a value already rounded to tenths.
    private static func format(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        let (whole, fraction) = tenths.quotientAndRemainder(dividingBy: 10)
        if value < 10 { return "\(whole).\(fraction)" }
        // %.0f rounds an exact half to even, as Go's strconv does.
        let roundsUp = fraction > 5 || (fraction == 5 && whole % 2 == 1)
        return "\(roundsUp ? whole + 1 : whole)"
    }
}
