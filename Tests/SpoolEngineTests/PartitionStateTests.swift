import SpoolCore
import Testing

@testable import SpoolEngine

/// A queued record as the tests see it: a name and a size.
struct TestRecord: QueuedRecord, Equatable {
    var name: String
    var byteCount: Int
}

/// The pure partition state machine, driven directly: no broker, no file, no clock.
@Suite("Partition state machine", .timeLimit(.minutes(1)))
struct PartitionStateTests {
    typealias Machine = PartitionState<TestRecord, String, String, Int>

    static func limits(batchRecords: Int = 10_000, batchBytes: Int = 1 << 24, queuedBytes: Int = 1 << 26, lockWaitMs: Int64 = 1_000)
        -> SpoolLimits
    {
        var limits = SpoolLimits()
        limits.commitBatchRecords = batchRecords
        limits.commitBatchBytes = batchBytes
        limits.queuedBytesPerPartition = queuedBytes
        limits.partitionLockWaitMs = lockWaitMs
        limits.writeRecoveryRetryMs = 1_000
        return limits
    }

    static func record(_ name: String, bytes: Int = 10) -> TestRecord { TestRecord(name: name, byteCount: bytes) }

    /// The batch the writer takes next (fails the test when it is idle).
    static func cut(_ machine: inout Machine) -> Machine.Batch? {
        guard case .write(let batch) = machine.nextBatch().step else { return nil }
        return batch
    }

    static func watermarks(_ machine: Machine) -> [Offset] { [machine.assigned, machine.durable, machine.committed] }

    // MARK: Group commit

    @Test func theFirstAppendStartsTheWriterAndLaterOnesJoinTheSameBatch() throws {
        var machine = Machine(earliest: Offset(0), next: Offset(5), limits: Self.limits())
        #expect(machine.enqueue(Self.record("a")) == .queued(startWriter: true, full: false))
        #expect(machine.enqueue(Self.record("b")) == .queued(startWriter: false, full: false))
        #expect(machine.enqueue(commit: "group-1") == .queued(startWriter: false, full: false))
        let batch = try #require(Self.cut(&machine))
        #expect(batch.first == Offset(5))
        #expect(batch.records.map(\.name) == ["a", "b"])
        #expect(batch.commits == ["group-1"])
        #expect(Self.watermarks(machine) == [Offset(7), Offset(5), Offset(5)], "assigned counts the batch being written")
        // Queued while the batch is written: the next batch, after it.
        #expect(machine.enqueue(Self.record("c")) == .queued(startWriter: false, full: false))
        let written = machine.batchWritten()
        #expect(written.durable.first == Offset(5))
        #expect(written.committed.map(\.first) == [Offset(5)], "one broker: durable is committed")
        #expect(Self.watermarks(machine) == [Offset(7), Offset(7), Offset(7)])
        let next = try #require(Self.cut(&machine))
        #expect(next.first == Offset(7))
        #expect(next.records.map(\.name) == ["c"])
        _ = machine.batchWritten()
        guard case .idle(finishClose: false) = machine.nextBatch().step else {
            Issue.record("an empty queue stops the writer")
            return
        }
        #expect(!machine.writing)
        #expect(machine.enqueue(Self.record("d")) == .queued(startWriter: true, full: false), "a stopped writer is started again")
    }

    @Test func batchesAreCutByRecordsAndBytesButNeverEmpty() throws {
        var machine = Machine(earliest: .zero, next: .zero, limits: Self.limits(batchRecords: 3, batchBytes: 25))
        for name in ["a", "b", "c", "d"] { _ = machine.enqueue(Self.record(name, bytes: 10)) }
        _ = machine.enqueue(Self.record("huge", bytes: 100))
        let first = try #require(Self.cut(&machine))
        #expect(first.records.map(\.name) == ["a", "b"], "a third record would pass 25 bytes")
        _ = machine.batchWritten()
        let second = try #require(Self.cut(&machine))
        #expect(second.records.map(\.name) == ["c", "d"])
        _ = machine.batchWritten()
        let third = try #require(Self.cut(&machine))
        #expect(third.records.map(\.name) == ["huge"], "a record over the byte limit goes alone")
        #expect(third.first == Offset(4))
        var byCount = Machine(earliest: .zero, next: .zero, limits: Self.limits(batchRecords: 3))
        for index in 0..<7 { _ = byCount.enqueue(Self.record("r\(index)")) }
        let counted = try #require(Self.cut(&byCount))
        #expect(counted.records.count == 3)
    }

    @Test func aBatchOfOnlyOffsetCommitsTakesNoOffsets() throws {
        var machine = Machine(earliest: .zero, next: Offset(3), limits: Self.limits())
        _ = machine.enqueue(commit: "g")
        let batch = try #require(Self.cut(&machine))
        #expect(batch.records.isEmpty && batch.first == Offset(3) && batch.next == Offset(3))
        let written = machine.batchWritten()
        #expect(written.committed.first?.commits == ["g"])
        #expect(Self.watermarks(machine) == [Offset(3), Offset(3), Offset(3)])
    }

    // MARK: Watermarks and the second completion point

    @Test func readersAndWaitersSeeOnlyCommittedRecordsWhenCommitLagsDurable() throws {
        var machine = Machine(earliest: .zero, next: .zero, limits: Self.limits(), commitFollowsDurable: false)
        #expect(machine.waitForRecords(after: .zero, "poll-0") != nil)
        _ = machine.enqueue(Self.record("a"))
        _ = machine.enqueue(Self.record("b"))
        _ = try #require(Self.cut(&machine))
        let written = machine.batchWritten()
        #expect(written.durable.records.count == 2)
        #expect(written.committed.isEmpty && written.woken.isEmpty, "durable is not committed yet")
        #expect(Self.watermarks(machine) == [Offset(2), Offset(2), Offset(0)])
        #expect(machine.waitForRecords(after: .zero, "poll-1") != nil, "nothing committed at 0 yet")
        _ = machine.enqueue(Self.record("c"))
        _ = try #require(Self.cut(&machine))
        _ = machine.batchWritten()
        let partial = machine.commitAdvanced(to: Offset(2))
        #expect(partial.committed.map(\.first) == [Offset(0)], "only whole batches below the commit index")
        #expect(partial.woken == ["poll-0", "poll-1"], "in the order they began")
        // (A commit index past `durable` is records another leader wrote: PartitionStatePlacementTests.)
        let rest = machine.commitAdvanced(to: Offset(3))
        #expect(rest.committed.map(\.first) == [Offset(2)])
        #expect(machine.committed == Offset(3))
        #expect(machine.commitAdvanced(to: Offset(1)).committed.isEmpty, "never backwards")
        #expect(machine.committed == Offset(3))
    }

    // MARK: Long polls

    @Test func longPollsWakeWhenARecordAtTheirOffsetCommitsAndCanBeCancelled() throws {
        var machine = Machine(earliest: .zero, next: Offset(10), limits: Self.limits())
        #expect(machine.waitForRecords(after: Offset(9), "behind") == nil, "a committed record answers at once")
        let atHighMaybe = machine.waitForRecords(after: Offset(10), "at-high")
        let atHigh = try #require(atHighMaybe)
        let aheadMaybe = machine.waitForRecords(after: Offset(11), "ahead")
        let ahead = try #require(aheadMaybe)
        let cancelledMaybe = machine.waitForRecords(after: Offset(10), "cancelled")
        let cancelled = try #require(cancelledMaybe)
        #expect(machine.cancelWait(cancelled) == "cancelled")
        #expect(machine.cancelWait(cancelled) == nil, "a wait is cancelled once")
        _ = machine.enqueue(Self.record("a"))
        _ = try #require(Self.cut(&machine))
        #expect(machine.batchWritten().woken == ["at-high"])
        #expect(machine.waiters.keys.sorted() == [ahead])
        _ = atHigh
    }

    // MARK: Backpressure

    @Test func producersWaitForRoomUntilTheQueueIsCutBelowItsBound() throws {
        var machine = Machine(earliest: .zero, next: .zero, limits: Self.limits(batchRecords: 1, queuedBytes: 20))
        #expect(machine.waitForRoom(1) == false, "room at once")
        _ = machine.enqueue(Self.record("a", bytes: 10))
        #expect(machine.enqueue(Self.record("b", bytes: 10)) == .queued(startWriter: false, full: true))
        #expect(machine.enqueue(Self.record("c", bytes: 10)) == .queued(startWriter: false, full: true), "queued all the same")
        let waits7 = machine.waitForRoom(7)
        #expect(waits7)
        let waits8 = machine.waitForRoom(8)
        #expect(waits8)
        let first = machine.nextBatch()
        #expect(first.room.isEmpty, "20 bytes are still queued")
        _ = machine.batchWritten()
        let second = machine.nextBatch()
        #expect(second.room == [7, 8], "10 bytes queued: below the bound")
        #expect(machine.queuedBytes == 10)
        _ = machine.batchWritten()
        #expect(machine.waitForRoom(9) == false)
    }

    @Test func aFailedWriteStopsWritesUntilRecoveryAndGivesItsOffsetsAgain() throws {
        var machine = Machine(earliest: Offset(2), next: Offset(8), limits: Self.limits())
        _ = machine.enqueue(Self.record("a"))
        _ = try #require(Self.cut(&machine))
        _ = machine.enqueue(Self.record("b"))
        _ = machine.enqueue(commit: "g")
        #expect(machine.waitForRoom(3) == false)
        let stopped = machine.writeFailed(nowNs: 42)
        #expect(stopped.batch.records.map(\.name) == ["a"])
        #expect(stopped.queued.records.map(\.name) == ["b"] && stopped.queued.commits == ["g"])
        #expect(stopped.failedFirst == Offset(8))
        #expect(stopped.next.delayMs == WriteRecovery.firstDelayMs)
        #expect(machine.writing, "the recovery owns the store")
        #expect(machine.enqueue(Self.record("refused")) == .refused(.recovering))
        #expect(machine.enqueue(commit: "refused") == .refused(.recovering))
        // The first attempt finds the disk still failing.
        #expect(machine.beginRecovery(ticket: stopped.next.ticket + 1) == nil, "only the awaited ticket runs")
        let begunMaybe = machine.beginRecovery(ticket: stopped.next.ticket)
        let begun = try #require(begunMaybe)
        #expect(begun.failedFirst == Offset(8) && begun.closing == nil)
        guard case .retry(let ticket, let delayMs, let attempts) = machine.recoveryAttemptFailed() else {
            Issue.record("a failed attempt retries")
            return
        }
        #expect(delayMs == 20 && attempts == 1)
        let resumedMaybe = machine.beginRecovery(ticket: ticket)
        _ = try #require(resumedMaybe)
        #expect(!machine.recoveryFileChecked)
        machine.recoveryChecked()
        machine.recoveryFound(1)
        let ended = machine.recovered(earliest: Offset(2), next: Offset(8))
        #expect(ended.recordsLeft == 1 && ended.attempts == 2)
        #expect(machine.recovery == nil)
        #expect(Self.watermarks(machine) == [Offset(8), Offset(8), Offset(8)])
        guard case .idle(finishClose: false) = machine.nextBatch().step else {
            Issue.record("nothing was queued while writes were stopped")
            return
        }
        #expect(machine.enqueue(Self.record("c")) == .queued(startWriter: true, full: false))
        #expect(try #require(Self.cut(&machine)).first == Offset(8))
    }

    @Test func aRejectedBatchFailsAloneAndTheWriterGoesOn() throws {
        var machine = Machine(earliest: .zero, next: Offset(1), limits: Self.limits(batchRecords: 1))
        _ = machine.enqueue(Self.record("a"))
        _ = machine.enqueue(Self.record("b"))
        _ = try #require(Self.cut(&machine))
        #expect(machine.batchRejected().records.map(\.name) == ["a"])
        #expect(machine.assigned == Offset(1))
        let next = try #require(Self.cut(&machine))
        #expect(next.first == Offset(1) && next.records.map(\.name) == ["b"])
    }

    @Test func goingOfflineWakesEveryWaiterOnce() throws {
        var machine = Machine(earliest: .zero, next: .zero, limits: Self.limits())
        _ = machine.waitForRecords(after: .zero, "w1")
        _ = machine.waitForRecords(after: Offset(5), "w2")
        let taken = machine.takeOffline(.damaged)
        #expect(taken.first && taken.woken == ["w1", "w2"])
        #expect(machine.takeOffline(.damaged).first == false)
        #expect(machine.offline == .damaged)
        #expect(Machine(offline: .lost, limits: Self.limits()).offline == .lost)
    }

    // MARK: Closing

    @Test func shutdownWritesWhatIsQueuedThenFinishesTheClose() throws {
        var machine = Machine(earliest: .zero, next: .zero, limits: Self.limits())
        _ = machine.waitForRecords(after: .zero, "poll")
        _ = machine.enqueue(Self.record("a"))
        guard case .started(let woken, _, let finishNow, let recoverNow) = machine.close(.shutdown) else {
            Issue.record("the first close starts")
            return
        }
        #expect(woken == ["poll"] && !finishNow && recoverNow == nil, "the running writer finishes the close")
        guard case .already = machine.close(.dropped) else {
            Issue.record("a second close joins the first")
            return
        }
        #expect(machine.enqueue(Self.record("late")) == .refused(.closing(.shutdown)))
        #expect(machine.waitForRecords(after: Offset(9), "late") == nil)
        #expect(try #require(Self.cut(&machine)).records.map(\.name) == ["a"], "queued work is written at shutdown")
        _ = machine.batchWritten()
        guard case .idle(finishClose: true) = machine.nextBatch().step else {
            Issue.record("the writer finishes the close")
            return
        }
    }

    @Test func dropFailsTheQueueOnceTheBatchInFlightIsDone() throws {
        var machine = Machine(earliest: .zero, next: .zero, limits: Self.limits(queuedBytes: 10))
        _ = machine.enqueue(Self.record("a"))
        _ = try #require(Self.cut(&machine))
        #expect(machine.enqueue(Self.record("b")) == .queued(startWriter: false, full: true))
        _ = machine.enqueue(commit: "g")
        let waits5 = machine.waitForRoom(5)
        #expect(waits5)
        guard case .started(_, let room, false, nil) = machine.close(.dropped) else {
            Issue.record("the close waits for the writer")
            return
        }
        #expect(room == [5], "producers waiting for room are let go")
        // The batch in flight is the replica's: it completes (or fails) first.
        _ = machine.batchWritten()
        let taken = machine.nextBatch()
        guard case .idle(finishClose: true) = taken.step else {
            Issue.record("a drop ends the writer")
            return
        }
        #expect(taken.dropped.records.map(\.name) == ["b"] && taken.dropped.commits == ["g"])
        #expect(!machine.writing)
    }

    @Test func aCloseWithNoWriterHoldsTheStoreAndHurriesAWaitingRecovery() throws {
        var idle = Machine(earliest: .zero, next: .zero, limits: Self.limits())
        guard case .started(_, _, true, nil) = idle.close(.shutdown) else {
            Issue.record("no writer: the close closes the files now")
            return
        }
        #expect(idle.writing, "the close owns the store")
        var recovering = Machine(earliest: .zero, next: .zero, limits: Self.limits())
        _ = recovering.enqueue(Self.record("a"))
        _ = try #require(Self.cut(&recovering))
        let stopped = recovering.writeFailed(nowNs: 0)
        guard case .started(_, _, false, let recoverNow?) = recovering.close(.shutdown) else {
            Issue.record("a waiting recovery is hurried")
            return
        }
        #expect(recovering.beginRecovery(ticket: stopped.next.ticket) == nil, "the timer's ticket no longer runs")
        let hurried = recovering.beginRecovery(ticket: recoverNow)
        #expect(try #require(hurried).closing == .shutdown)
        guard case .closing = recovering.recoveryAttemptFailed() else {
            Issue.record("a failed attempt while closing lets the close go on")
            return
        }
        guard case .idle(finishClose: true) = recovering.nextBatch().step else {
            Issue.record("the writer finishes the close")
            return
        }
    }
}

/// What a replica tells the partition after a change of leader: where its batch really goes, and
/// records other leaders wrote into its file.
@Suite("Partition state machine under Raft: placement and followed records", .timeLimit(.minutes(1)))
struct PartitionStatePlacementTests {
    typealias Machine = PartitionStateTests.Machine

    @Test func aBatchPlacedWhereItWasCutChangesNothing() throws {
        var machine = Machine(earliest: .zero, next: Offset(5), limits: PartitionStateTests.limits(), commitFollowsDurable: false)
        _ = machine.enqueue(PartitionStateTests.record("a"))
        _ = try #require(PartitionStateTests.cut(&machine))
        #expect(machine.placed(at: Offset(5)).isEmpty)
        let written = machine.batchWritten()
        #expect(written.durable.first == Offset(5) && PartitionStateTests.watermarks(machine) == [Offset(6), Offset(6), Offset(5)])
    }

    /// A replica that followed another leader holds records this partition never cut: the
    /// commit brings `durable` up to them, and the next batch goes after them.
    @Test func recordsAnotherLeaderWroteMoveTheWatermarksAndTheNextBatchFollowsThem() throws {
        var machine = Machine(earliest: .zero, next: Offset(2), limits: PartitionStateTests.limits(), commitFollowsDurable: false)
        let woken = machine.waitForRecords(after: Offset(3), "poll")
        #expect(woken != nil)
        let followed = machine.commitAdvanced(to: Offset(10))
        #expect(followed.woken == ["poll"] && PartitionStateTests.watermarks(machine) == [Offset(10), Offset(10), Offset(10)])
        _ = machine.enqueue(PartitionStateTests.record("a"))
        _ = machine.enqueue(PartitionStateTests.record("b"))
        let batch = try #require(PartitionStateTests.cut(&machine))
        #expect(batch.first == Offset(10))
        // It became leader of a log that had grown further meanwhile (uncommitted records of the
        // previous leader): the batch goes after them.
        #expect(machine.placed(at: Offset(12)).isEmpty)
        let written = machine.batchWritten()
        #expect(written.durable.first == Offset(12) && written.durable.next == Offset(14))
        #expect(PartitionStateTests.watermarks(machine) == [Offset(14), Offset(14), Offset(10)])
        let committed = machine.commitAdvanced(to: Offset(14))
        #expect(committed.committed.map(\.first) == [Offset(12)])
    }

    /// A batch whose records entry committed before its offset-commit entry was durable (two
    /// cycles): the commit waits at `durable` instead of moving it under the batch in flight.
    @Test func aCommitOfTheBatchInFlightWaitsUntilTheBatchIsWritten() throws {
        var machine = Machine(earliest: .zero, next: Offset(2), limits: PartitionStateTests.limits(), commitFollowsDurable: false)
        _ = machine.enqueue(PartitionStateTests.record("a"))
        _ = machine.enqueue(commit: "g")
        let batch = try #require(PartitionStateTests.cut(&machine))
        #expect(batch.first == Offset(2) && machine.placed(at: Offset(2)).isEmpty)
        let early = machine.commitAdvanced(to: Offset(3))
        #expect(early.committed.isEmpty && PartitionStateTests.watermarks(machine) == [Offset(3), Offset(2), Offset(2)])
        let written = machine.batchWritten()
        #expect(written.durable.first == Offset(2))
        let committed = machine.commitAdvanced(to: Offset(3))
        #expect(committed.committed.map(\.commits) == [["g"]] && machine.committed == Offset(3))
    }

    /// Batches this replica made durable as leader but never committed are replaced when a new
    /// leader's log is shorter: they come back to fail, and the batch in flight moves down.
    @Test func durableBatchesPastTheNewLogEndAreReplaced() throws {
        var machine = Machine(earliest: .zero, next: .zero, limits: PartitionStateTests.limits(), commitFollowsDurable: false)
        for name in ["a", "b", "c"] {
            _ = machine.enqueue(PartitionStateTests.record(name))
            _ = try #require(PartitionStateTests.cut(&machine))
            _ = machine.batchWritten()
        }
        _ = machine.commitAdvanced(to: Offset(1))
        #expect(PartitionStateTests.watermarks(machine) == [Offset(3), Offset(3), Offset(1)])
        _ = machine.enqueue(PartitionStateTests.record("d"))
        let batch = try #require(PartitionStateTests.cut(&machine))
        #expect(batch.first == Offset(3))
        let replaced = machine.placed(at: Offset(1))
        #expect(replaced.map { $0.records.map(\.name) } == [["b"], ["c"]])
        let written = machine.batchWritten()
        #expect(written.durable.first == Offset(1) && written.durable.records.map(\.name) == ["d"])
        #expect(PartitionStateTests.watermarks(machine) == [Offset(2), Offset(2), Offset(1)])
        #expect(machine.commitAdvanced(to: Offset(2)).committed.map { $0.records.map(\.name) } == [["d"]])
    }
}
