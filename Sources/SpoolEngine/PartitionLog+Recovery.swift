import Logging
import NIOCore
import NIOPosix
import Raft
import SpoolCore
import SpoolReplication
import SpoolStorage

/// A failed write is never acknowledged and never continued past (issue 10 item 9).
///
/// When a write transaction of the partition's replica fails (a failed COMMIT or fsync, a failed
/// write, a full disk, or another connection's lock held past `partitionLockWaitMs`), the file's
/// state is unknown: after a failed fsync not even the kernel's
/// copy can be trusted. So the partition stops taking writes at once: the failed batch hears
/// `ERR STORAGE`, everything queued behind it and every write until it has recovered
/// `ERR PARTITION_OFFLINE ... is recovering from a failed write`, and nothing is written on top.
/// Its committed records stay readable (readers see the last commit that succeeded).
///
/// Then it recovers from its own file, on a storage thread, one attempt at a time from a timer
/// (no thread waits): the failed replica's connection is closed without a checkpoint, the idle
/// readers too, and the file is reopened (SQLite replays the WAL from the disk and drops what was
/// never committed), checked (`quick_check`, once per recovery: it reads the whole file), and
/// every Raft entry after the last one a successful write left, with its records, is removed in
/// one fsynced transaction (`RaftLogStore.discardEntries`); then a new replica opens on the file:
/// a failed COMMIT whose pages reached the WAL comes back on replay, and an `ERR STORAGE` for a
/// write must mean it is not stored, with offsets staying gap-free. That commit also proves the disk takes writes again. While the disk
/// keeps failing, attempts repeat with back-off up to `writeRecoveryRetryMs`. A damaged file, or
/// one that lost acknowledged records, takes the partition offline as `damaged`. A close hurries
/// the waiting attempt: at shutdown it is one last try (then the close goes on regardless), for a
/// dropped topic none.
///
/// The decisions (who fails with what, tickets, when writes resume) are `PartitionState`'s; this
/// extension owns the file and the timers. The machine's writer stays set from the failure to
/// the end of the recovery, so the recovery is the store's one serial owner, as the loop was.
extension PartitionLog {
    /// What a write to a recovering partition fails with.
    func recoveringError() -> SpoolError {
        SpoolError(.partitionOffline, "partition \(id) of \(topic) is recovering from a failed write (the broker's log says why)")
    }

    /// The batch in flight met a failed write (`description` for the log, `clientError` for its
    /// producers): fails it and everything queued, stops taking writes and schedules the first
    /// recovery attempt. Storage thread, as the flush loop's owner.
    func stopWrites(after description: String, clientError: SpoolError) {
        let now = WallClock.monotonicNs()
        let stopped = state.withLockedValue { state -> Machine.Stopped in
            if let failed = state.driver.take() { state.failedDriver = failed }
            return state.machine.writeFailed(nowNs: now)
        }
        stopTakingWrites(stopped, after: description, clientError: clientError)
    }

    /// The replica's write failed with no batch of this partition in flight (a follower
    /// appending its leader's entries, a leader's no-op; `ReplicaConfig.onStorageFailure`): the
    /// partition stops and recovers as after a failed produce write. Nothing happens when a
    /// batch's own failure stops it (or already did).
    func replicaWriteFailed(_ description: String) {
        let now = WallClock.monotonicNs()
        let stopped = state.withLockedValue { state -> Machine.Stopped? in
            guard let driver = state.driver, driver.status.storageFailure != nil, let stopped = state.machine.replicaWriteFailed(nowNs: now)
            else { return nil }
            state.failedDriver = state.driver.take()
            return stopped
        }
        guard let stopped else { return }
        stopTakingWrites(stopped, after: description, clientError: storageFailedError(description))
    }

    private func stopTakingWrites(_ stopped: Machine.Stopped, after description: String, clientError: SpoolError) {
        writesStopped.store(true, ordering: .releasing)
        logger.error(
            "a write of the partition failed; it stopped taking writes and recovers from its file",
            metadata: [
                "topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "error": "\(description)",
                "offset.first": "\(stopped.failedFirst)", "records.failed": "\(stopped.batch.records.count + stopped.queued.records.count)",
                "commits.failed": "\(stopped.batch.commits.count + stopped.queued.commits.count)",
            ])
        Self.fail(stopped.batch, clientError)
        Self.fail(stopped.queued, recoveringError())
        for waiter in stopped.room { waiter.succeed() }
        scheduleRecovery(ticket: stopped.next.ticket, afterMs: stopped.next.delayMs)
    }

    /// Runs attempt `ticket` after `afterMs`, from a timer: no thread waits meanwhile.
    private func scheduleRecovery(ticket: Int, afterMs: Int64) {
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .milliseconds(afterMs)) {
            self.pool.submit { _ in self.recover(ticket: ticket) }
        }
    }

    /// One recovery attempt, on a storage thread (see the extension's comment). Does nothing
    /// unless `ticket` is the attempt awaited.
    func recover(ticket: Int) {
        let begun = state.withLockedValue { state -> (failedFirst: Offset, closing: CloseReason?, failed: ReplicaDriver?)? in
            guard let begun = state.machine.beginRecovery(ticket: ticket) else { return nil }
            return (begun.failedFirst, begun.closing, state.failedDriver)
        }
        guard let begun else { return }
        if let failed = begun.failed {
            // The failed replica's last cycle may still be finishing: then this attempt waits.
            guard let index = failed.closeAfterFailure() else {
                failedAttempt(StorageError(code: -1, message: "the failed replica has not finished its last cycle"))
                return
            }
            state.withLockedValue { state in
                state.failedDriver = nil
                state.recoveryIndex = index
            }
        }
        if begun.closing == .dropped {
            // Its files are deleted next: nothing is queued (writes were refused), so the loop
            // ends at once and finishes the close.
            flushLoop()
            return
        }
        guard let keep = state.withLockedValue({ $0.recoveryIndex }) else {
            preconditionFailure("\(group): a recovery without the failed replica's last index")
        }
        // At shutdown too, one attempt: the next start could not tell the failed write's records
        // (if they reached the disk) from acknowledged ones.
        readers.closeIdle()
        let connection: SQLiteConnection
        do {
            connection = try RaftLogStore.openPartitionConnection(path: path)
        } catch {
            failedAttempt(error)
            return
        }
        do {
            if !state.withLockedValue({ $0.machine.recoveryFileChecked }) {
                let check = try connection.scalarText("PRAGMA quick_check") ?? ""
                guard check == "ok" else {
                    connection.abandon()
                    giveUp(StorageError.damaged("\(path): quick_check after a failed write: \(check)"))
                    return
                }
                state.withLockedValue { $0.machine.recoveryChecked() }
            }
            let left = try connection.scalarInt("SELECT count(*) FROM records WHERE offset >= \(begun.failedFirst.rawValue)") ?? 0
            state.withLockedValue { $0.machine.recoveryFound(left) }
            try RaftLogStore.discardEntries(after: keep, on: connection)
            let store = try RaftLogStore(connection: connection, voters: voters)
            store.busyWaitMs = 0
            let next = store.nextOffset ?? .zero
            // With other replicas the file ends where this one's last good write left it, which
            // Raft reconciles with the leader; alone, that is where the failed write began.
            guard next == begun.failedFirst || voters.count > 1 else {
                // Records below the failed write were acknowledged: a file without them is not
                // this partition any more, and its offsets must not be handed out again.
                connection.abandon()
                giveUp(
                    StorageError.damaged(
                        "\(path): after a failed write the file ends at offset \(next), "
                            + "but offsets below \(begun.failedFirst) were acknowledged"))
                return
            }
            let earliest = store.earliestOffset()
            let driver = try ReplicaDriver.openNow(
                store: store, group: group, config: replicaConfig(), pool: pool, ticker: replication.ticker,
                sender: replication.sender, onApply: applier())
            recovered(driver, earliest: earliest ?? next, next: next)
        } catch {
            connection.abandon()
            failedAttempt(error as? StorageError ?? StorageError(code: -1, message: "\(error)"))
        }
    }

    /// The partition takes writes again, on `driver`.
    private func recovered(_ driver: ReplicaDriver, earliest: Offset, next: Offset) {
        let now = WallClock.monotonicNs()
        let recovery: WriteRecovery? = state.withLockedValue { state in
            state.driver = driver
            state.recoveryIndex = nil
            return state.machine.recovered(earliest: earliest, next: next, replicated: voters.count > 1)
        }
        if voters.count > 1 { replication.router?.replace(driver) }
        writesStopped.store(false, ordering: .releasing)
        logger.info(
            "partition recovered from its failed write; it takes writes again",
            metadata: [
                "topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "records.removed": "\(recovery?.recordsLeft ?? 0)",
                "offset.next": "\(next)", "attempts": "\(recovery?.attempts ?? 0)",
                "stopped.ms": "\(recovery.map { (now - $0.sinceNs) / 1_000_000 } ?? 0)",
            ])
        flushLoop()  // nothing is queued: ends the loop, or finishes a close that came meanwhile
    }
    /// The file could not be reopened, checked or cleaned (the disk still fails): try again later,
    /// or, when the partition closes meanwhile, let the close go on.
    private func failedAttempt(_ error: StorageError) {
        if error.isDamaged {
            giveUp(error)
            return
        }
        switch state.withLockedValue({ $0.machine.recoveryAttemptFailed() }) {
        case .closing:
            // The broker stops (or the topic goes) with the disk still failing: the close goes on.
            logger.warning(
                "closing a partition that has not recovered from its failed write; its file is opened as it is at the next start",
                metadata: ["topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "error": "\(error)"])
            flushLoop()
        case .none:
            return
        case .retry(let ticket, let delayMs, let attempts):
            if attempts == 1 {
                logger.warning(
                    "the partition's file still fails after its failed write; recovery retries",
                    metadata: [
                        "topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "error": "\(error)",
                        "retry.max.ms": "\(limits.writeRecoveryRetryMs)",
                    ])
            }
            scheduleRecovery(ticket: ticket, afterMs: delayMs)
        }
    }

    /// The file is damaged: the partition goes offline as `damaged`, as a damaged file met
    /// anywhere else does.
    private func giveUp(_ error: StorageError) {
        takeOffline(error)
        state.withLockedValue { $0.machine.recoveryAbandoned() }
        writesStopped.store(false, ordering: .releasing)
        flushLoop()  // ends the loop (and finishes a close that came meanwhile)
    }
}
