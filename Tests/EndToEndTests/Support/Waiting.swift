import Foundation

/// Polls `condition` every `interval` seconds until it holds; false if it still does not after `seconds`.
///
/// Waiting for a condition, not a fixed time: the deadline only keeps a broken server from hanging the test
/// and is generous on purpose; how soon the condition comes true is never what a test checks.
@discardableResult
func waitUntil(seconds: Double, interval: Double = 0.05, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if condition() { return true }
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: interval)
    }
}

/// `waitUntil` for async code: polls `condition` every `interval` seconds (sleeping the task, not the
/// thread) until it holds; false if it still does not after `seconds`.
func waitUntilAsync(seconds: Double, interval: Double = 0.05, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try await condition() { return true }
        if Date() > deadline { return false }
        try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
    }
}

/// The commands (`comm`, as in /proc/<pid>/stat) of every process descended from `pid`: its children, their
/// children, and so on. Empty where /proc cannot be read.
func descendantCommands(of pid: Int32) -> [String] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var processes: [(pid: Int32, parent: Int32, command: String)] = []
    for entry in entries where !entry.isEmpty && entry.allSatisfy(\.isNumber) {
        // "<pid> (<comm>) <state> <ppid> ...": comm may hold spaces and parentheses, so split after its last ')'.
        guard let child = Int32(entry),
              let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"), open < close
        else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let parent = Int32(fields[1]) else { continue }
        processes.append((child, parent, String(stat[stat.index(after: open)..<close])))
    }
    var found: [String] = []
    var parents: Set<Int32> = [pid]
    while true {
        let next = processes.filter { parents.contains($0.parent) && !parents.contains($0.pid) }
        if next.isEmpty { return found }
        found += next.map(\.command)
        parents.formUnion(next.map(\.pid))
    }
}

/// How many keys start with `prefix` on the session's server: an unrecorded read, which changes nothing the
/// scenario records (a sign that a locker or candidate has queued, say).
func keyCount(_ s: Session, under prefix: String) -> Int {
    s.ctlUnrecorded(["get", prefix, "--prefix", "--keys-only"]).stdout.split(separator: "\n").filter { $0.hasPrefix(prefix) }.count
}
