import SpoolCore

/// Where a partition whose write failed stands on its way back (issue 10 item 9). After a failed
/// COMMIT or fsync the file's state is unknown, so the partition takes no write until it has
/// reopened its file, checked it and removed what the failed write may have left; while the disk
/// keeps failing it tries again with back-off. Pure: `PartitionLog+Recovery.swift` drives it and
/// owns the timers and the file.
///
/// Attempts are numbered by tickets: a timer carries the ticket of the attempt it was scheduled
/// for, and only the awaited ticket runs, so a close that hurries an attempt (`hurry`) and the
/// timer that fires later never run it twice.
struct WriteRecovery: Sendable, Equatable {
    /// The first offset of the write that failed (the durable watermark when it failed): no record
    /// at or past it was ever acknowledged.
    let failedFirst: Offset
    /// When the partition stopped taking writes (monotonic ns).
    let sinceNs: UInt64
    /// Attempts begun so far.
    private(set) var attempts = 0
    private(set) var ticket = 0
    /// True while an attempt waits for its timer (false while one runs).
    private(set) var waiting = false
    /// Most records at or past `failedFirst` an attempt found in the reopened file: what the
    /// failed write left there (pages of a failed COMMIT that reached the WAL come back when it
    /// is replayed). An attempt whose removal then failed leaves its removal in the WAL too, so
    /// the next attempt may find fewer: the most found is what the failed write left.
    private(set) var recordsLeft: Int64 = 0
    /// True once an attempt found the reopened file sound (`quick_check` reads all of it, so it
    /// runs once per recovery, not on every attempt of a disk that keeps failing).
    private(set) var fileChecked = false

    /// The wait before the first attempt: the failing write's connection gets no second use, and
    /// a disk that failed once is given a moment.
    static let firstDelayMs: Int64 = 10

    init(failedFirst: Offset, sinceNs: UInt64) {
        self.failedFirst = failedFirst
        self.sinceNs = sinceNs
    }

    /// The wait before attempt `attempt` (1, 2, ...): 10 ms, then twice as long each time, at
    /// most `limitMs` (`SpoolLimits.writeRecoveryRetryMs`).
    static func delayMs(beforeAttempt attempt: Int, limitMs: Int64) -> Int64 {
        let doublings = min(max(attempt - 1, 0), 40)
        return min(max(limitMs, 1), firstDelayMs << doublings)
    }

    /// Schedules the next attempt: its ticket and how long to wait for it.
    mutating func scheduleNext(limitMs: Int64) -> (ticket: Int, delayMs: Int64) {
        ticket += 1
        waiting = true
        return (ticket, Self.delayMs(beforeAttempt: attempts + 1, limitMs: limitMs))
    }

    /// True when `ticket` is the attempt awaited now; it is then running.
    mutating func begin(ticket: Int) -> Bool {
        guard waiting, ticket == self.ticket else { return false }
        waiting = false
        attempts += 1
        return true
    }

    /// An attempt found the reopened file sound.
    mutating func checked() {
        fileChecked = true
    }

    /// An attempt found `count` records at or past `failedFirst` in the reopened file.
    mutating func found(_ count: Int64) {
        recordsLeft = max(recordsLeft, count)
    }

    /// The ticket of the waiting attempt, to run at once (the partition closes); nil when none
    /// waits (one runs, and will see the close itself).
    mutating func hurry() -> Int? {
        guard waiting else { return nil }
        ticket += 1
        return ticket
    }
}
