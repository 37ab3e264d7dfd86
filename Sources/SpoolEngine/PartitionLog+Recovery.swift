import Logging
import NIOCore
import NIOPosix
import SpoolCore
import SpoolStorage

/// A failed write is never acknowledged and never continued past (issue 10 item 9).
///
/// When a write transaction fails for any reason but a lock (a failed COMMIT or fsync, a failed
/// write, a full disk), the file's state is unknown: after a failed fsync not even the kernel's
/// copy can be trusted. So the partition stops taking writes at once: the failed batch hears
/// `ERR STORAGE`, everything queued behind it and every write until it has recovered
/// `ERR PARTITION_OFFLINE ... is recovering from a failed write`, and nothing is written on top.
/// Its committed records stay readable (readers see the last commit that succeeded).
///
/// Then it recovers from its own file, on a storage thread, one attempt at a time from a timer
/// (no thread waits): the failed connection is closed without a checkpoint, the idle readers
/// too, and the file is reopened (SQLite replays the WAL from the disk and drops what was never
/// committed), checked (`quick_check`, once per recovery: it reads the whole file), and every
/// record at or past the first offset of the failed write is removed in one fsynced transaction:
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

    /// The flush loop met a failed write: fails it and everything queued, stops taking writes and
    /// schedules the first recovery attempt. Storage thread, as the flush loop's owner.
    func stopWrites(after error: StorageError) {
        let now = WallClock.monotonicNs()
        let stopped = state.withLockedValue { $0.machine.writeFailed(nowNs: now) }
        writesStopped.store(true, ordering: .releasing)
        logger.error(
            "a write of the partition failed; it stopped taking writes and recovers from its file",
            metadata: [
                "topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "error": "\(error)",
                "offset.first": "\(stopped.failedFirst)", "records.failed": "\(stopped.batch.records.count + stopped.queued.records.count)",
                "commits.failed": "\(stopped.batch.commits.count + stopped.queued.commits.count)",
            ])
        let failed = SpoolError(
            .storage,
            "writing partition \(id) of \(topic) failed: \(error.summary); the partition stopped taking writes and is recovering")
        Self.fail(stopped.batch, failed)
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
        let begun: (failedFirst: Offset, closing: CloseReason?, failedStore: PartitionStore?)? = state.withLockedValue { state in
            guard let begun = state.machine.beginRecovery(ticket: ticket) else { return nil }
            let failedStore = state.store
            state.store = nil
            return (begun.failedFirst, begun.closing, failedStore)
        }
        guard let begun else { return }
        begun.failedStore?.abandon()
        if begun.closing == .dropped {
            // Its files are deleted next: nothing is queued (writes were refused), so the loop
            // ends at once and finishes the close.
            flushLoop()
            return
        }
        // At shutdown too, one attempt: the next start could not tell the failed write's records
        // (if they reached the disk) from acknowledged ones.
        readers.closeIdle()
        let store: PartitionStore
        do {
            store = try PartitionStore(path: path)
        } catch {
            failedAttempt(error)
            return
        }
        do {
            if !state.withLockedValue({ $0.machine.recoveryFileChecked }) {
                let check = try store.quickCheck()
                guard check == "ok" else {
                    store.abandon()
                    giveUp(StorageError.damaged("\(path): quick_check after a failed write: \(check)"))
                    return
                }
                state.withLockedValue { $0.machine.recoveryChecked() }
            }
            let left = max(0, store.nextOffset - begun.failedFirst)
            state.withLockedValue { $0.machine.recoveryFound(left) }
            try store.discardUnacknowledged(from: begun.failedFirst)
            guard store.nextOffset == begun.failedFirst else {
                // Records below the failed write were acknowledged: a file without them is not
                // this partition any more, and its offsets must not be handed out again.
                store.abandon()
                giveUp(
                    StorageError.damaged(
                        "\(path): after a failed write the file ends at offset \(store.nextOffset), "
                            + "but offsets below \(begun.failedFirst) were acknowledged"))
                return
            }
            recovered(store)
        } catch {
            store.abandon()
            failedAttempt(error)
        }
    }

    /// The partition takes writes again, on `store`.
    private func recovered(_ store: PartitionStore) {
        let now = WallClock.monotonicNs()
        let recovery: WriteRecovery? = state.withLockedValue { state in
            state.store = store
            return state.machine.recovered(earliest: store.earliestOffset, next: store.nextOffset)
        }
        writesStopped.store(false, ordering: .releasing)
        logger.info(
            "partition recovered from its failed write; it takes writes again",
            metadata: [
                "topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "records.removed": "\(recovery?.recordsLeft ?? 0)",
                "offset.next": "\(store.nextOffset)", "attempts": "\(recovery?.attempts ?? 0)",
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
