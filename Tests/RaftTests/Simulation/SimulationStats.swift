/// Counts of what a simulated run exercised, summed over a batch and printed, so that a change
/// that silently stops a fault or feature from happening is noticed.
struct SimulationStats {
    var steps = 0
    var checks = 0
    var leaders = 0
    var committed = 0
    var messagesDelivered = 0
    var messagesLost = 0
    var messagesDuplicated = 0
    var messagesBlocked = 0
    var crashes = 0
    var partitions = 0
    var snapshotsInstalled = 0
    var readsAnswered = 0
    var transfersRequested = 0
    var transfersCompleted = 0
    var confChangesProposed = 0
    var confChangesRefused = 0
    var confChangesCommitted = 0

    static func + (a: SimulationStats, b: SimulationStats) -> SimulationStats {
        var r = SimulationStats()
        r.steps = a.steps + b.steps
        r.checks = a.checks + b.checks
        r.leaders = a.leaders + b.leaders
        r.committed = a.committed + b.committed
        r.messagesDelivered = a.messagesDelivered + b.messagesDelivered
        r.messagesLost = a.messagesLost + b.messagesLost
        r.messagesDuplicated = a.messagesDuplicated + b.messagesDuplicated
        r.messagesBlocked = a.messagesBlocked + b.messagesBlocked
        r.crashes = a.crashes + b.crashes
        r.partitions = a.partitions + b.partitions
        r.snapshotsInstalled = a.snapshotsInstalled + b.snapshotsInstalled
        r.readsAnswered = a.readsAnswered + b.readsAnswered
        r.transfersRequested = a.transfersRequested + b.transfersRequested
        r.transfersCompleted = a.transfersCompleted + b.transfersCompleted
        r.confChangesProposed = a.confChangesProposed + b.confChangesProposed
        r.confChangesRefused = a.confChangesRefused + b.confChangesRefused
        r.confChangesCommitted = a.confChangesCommitted + b.confChangesCommitted
        return r
    }

    var summary: String {
        "\(steps) steps, \(checks) checks; \(leaders) leaders elected, \(committed) entries committed, "
            + "\(messagesDelivered) messages delivered (\(messagesLost) lost, \(messagesDuplicated) duplicated, \(messagesBlocked) blocked), "
            + "\(crashes) crashes, \(partitions) partitions, \(snapshotsInstalled) snapshots installed, \(readsAnswered) reads answered, "
            + "transfers \(transfersCompleted)/\(transfersRequested), conf changes \(confChangesCommitted) committed of \(confChangesProposed) proposed (\(confChangesRefused) refused)"
    }
}
