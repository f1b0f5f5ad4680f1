import Foundation
import Synchronization

/// A one-line progress bar (`  123 / 1000 [====    ] 12%`), drawn only when its output is a
/// terminal, so piped output stays clean for scripts. etcdctl and etcd's benchmark draw theirs on
/// stdout.
public final class ProgressBar: Sendable {
    private let total: Int
    private let done = Atomic<Int>(0)
    private let descriptor: Int32
    private let enabled: Bool

    /// A bar of `total` steps on `descriptor` (stdout unless told otherwise).
    public init(total: Int, descriptor: Int32 = STDOUT_FILENO) {
        self.total = max(total, 1)
        self.descriptor = descriptor
        enabled = isatty(descriptor) == 1
        draw(0)
    }

    /// One step done.
    public func advance() {
        let now = done.add(1, ordering: .relaxed).newValue
        // Redraw at each whole percent.
        if now * 100 / total != (now - 1) * 100 / total { draw(now) }
    }

    /// Moves the bar to `count` (of the total).
    public func set(_ count: Int) {
        let before = done.exchange(count, ordering: .relaxed)
        if count * 100 / total != before * 100 / total { draw(count) }
    }

    /// Draws the full bar and ends its line.
    public func finish() {
        draw(total)
        if enabled { write("\n") }
    }

    private func draw(_ count: Int) {
        guard enabled else { return }
        let width = 40
        let filled = min(width, count * width / total)
        write("\r \(min(count, total)) / \(total) [" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            + "] \(min(100, count * 100 / total))%")
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
    }
}
