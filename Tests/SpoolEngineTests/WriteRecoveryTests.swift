import SpoolCore
import Testing

@testable import SpoolEngine

/// The pure part of recovering from a failed write: back-off and attempt tickets.
@Suite("Write recovery", .timeLimit(.minutes(1)))
struct WriteRecoveryTests {
    @Test func attemptsBackOffFromTenMillisecondsToTheLimit() {
        let delays = (1...12).map { WriteRecovery.delayMs(beforeAttempt: $0, limitMs: 5_000) }
        #expect(delays == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5000, 5000, 5000])
        #expect(WriteRecovery.delayMs(beforeAttempt: 1, limitMs: 5) == 5)
        #expect(WriteRecovery.delayMs(beforeAttempt: 10_000, limitMs: 100) == 100)
    }

    @Test func onlyTheAwaitedTicketRunsAndAHurriedAttemptRunsOnce() {
        var recovery = WriteRecovery(failedFirst: Offset(7), sinceNs: 0)
        let first = recovery.scheduleNext(limitMs: 1_000)
        #expect(first.delayMs == 10)
        let wrongTicket = recovery.begin(ticket: first.ticket + 1)
        let awaited = recovery.begin(ticket: first.ticket)
        let again = recovery.begin(ticket: first.ticket)
        let hurriedWhileRunning = recovery.hurry()
        #expect(!wrongTicket)
        #expect(awaited)
        #expect(!again, "an attempt runs once")
        #expect(hurriedWhileRunning == nil, "nothing waits while an attempt runs")
        let second = recovery.scheduleNext(limitMs: 1_000)
        #expect(second.delayMs == 20)
        let hurried = recovery.hurry()
        #expect(hurried != nil)
        let late = recovery.begin(ticket: second.ticket)
        let now = recovery.begin(ticket: hurried ?? -1)
        #expect(!late, "the timer of a hurried attempt does nothing")
        #expect(now)
        #expect(recovery.attempts == 2)
        #expect(recovery.failedFirst == Offset(7))
        #expect(!recovery.fileChecked)
        recovery.checked()
        recovery.found(3)
        recovery.found(1)  // a later attempt finds the earlier attempt's removal replayed
        #expect(recovery.fileChecked)
        #expect(recovery.recordsLeft == 3)
    }
}
