/// Leader side of log replication (Raft §5.3, §5.4.2; etcd-io/raft's flow control).
extension RaftNode {
    /// Appends proposals to the leader's own log with the current term.
    mutating func appendEntries(_ proposals: [Proposal]) {
        var index = log.lastIndex()
        var entries: [Entry] = []
        entries.reserveCapacity(proposals.count)
        for proposal in proposals {
            index = index + 1
            entries.append(Entry(index: index, term: term, kind: proposal.kind, payload: proposal.payload))
        }
        log.append(entries)
        // The leader's own progress moves when the entries are persisted (see advance(_:)).
    }

    mutating func handleAppendResponse(_ message: Message) {
        let peer = message.from
        progress[peer]!.recentActive = true
        if message.reject {
            var nextProbe = message.rejectHint
            if message.logTerm > .zero {
                nextProbe = log.findConflictByTerm(index: message.rejectHint, term: message.logTerm).index
            }
            if progress[peer]!.maybeDecrTo(rejected: message.index, matchHint: nextProbe) {
                if progress[peer]!.state == .replicate { progress[peer]!.becomeProbe() }
                sendAppend(to: peer)
            }
            return
        }
        let wasPaused = progress[peer]!.isPaused
        let updated = progress[peer]!.maybeUpdate(message.index)
        guard updated || (progress[peer]!.match == message.index && progress[peer]!.state == .probe) else { return }
        switch progress[peer]!.state {
        case .probe:
            progress[peer]!.becomeReplicate()
        case .snapshot:
            if progress[peer]!.match + 1 >= log.firstIndex() {
                progress[peer]!.becomeProbe()
                progress[peer]!.becomeReplicate()
            }
        case .replicate:
            progress[peer]!.inflights.freeLE(message.index)
        }
        if maybeCommit() {
            broadcastAppend()
        } else if wasPaused {
            sendAppend(to: peer)
        }
        // Keep the pipe full up to the inflight limit.
        while maybeSendAppend(to: peer, sendIfEmpty: false) {}
        if peer == leadTransferee && progress[peer]!.match == log.lastIndex() {
            sendTimeoutNow(to: peer)
        }
    }

    /// Raft §5.3/§5.4.2: the highest index held by a majority is committed if it is of this term.
    mutating func maybeCommit() -> Bool {
        let matches = config.voters.map { progress[$0]!.match }.sorted(by: >)
        return log.maybeCommit(index: matches[config.quorumSize - 1], term: term)
    }

    mutating func broadcastAppend() {
        for voter in config.voters where voter != id { sendAppend(to: voter) }
    }

    mutating func broadcastHeartbeat() {
        for voter in config.voters where voter != id {
            // Never tell a follower to commit beyond what it is known to hold.
            let commit = min(progress[voter]!.match, log.committed)
            send(Message(kind: .heartbeat, from: id, to: voter, commit: commit))
        }
    }

    mutating func sendAppend(to peer: NodeID) {
        _ = maybeSendAppend(to: peer, sendIfEmpty: true)
    }

    /// Sends the next batch of entries to `peer` (at most `maxEntriesPerAppend` entries and
    /// `maxBytesPerAppend` bytes), or a snapshot when the entries it needs were compacted away.
    /// In the replicate state with a full inflight window the append is empty (a probe, see
    /// `Progress.msgAppFlowPaused`). Returns true if a message was sent.
    mutating func maybeSendAppend(to peer: NodeID, sendIfEmpty: Bool) -> Bool {
        var state = progress[peer]!
        if state.isPaused { return false }
        let previousIndex = state.next - 1
        // Raft §7: the entry before `next` was compacted (retention): only a snapshot can catch the
        // follower up. This holds for the empty probe too, or a follower whose window filled up
        // before the compaction would never be sent anything it can use (etcd-io/raft's
        // slow_follower_after_compaction).
        guard let previousTerm = try? log.term(at: previousIndex) else { return sendSnapshot(to: peer) }
        var entries: [Entry] = []
        if state.state != .replicate || !state.inflights.isFull {
            let upTo = min(log.lastIndex() + 1, state.next + config.maxEntriesPerAppend)
            guard let batch = try? log.slice(from: state.next, upTo: upTo, maxBytes: config.maxBytesPerAppend)
            else { return sendSnapshot(to: peer) }
            entries = batch
        }
        if entries.isEmpty && !sendIfEmpty { return false }
        send(Message(kind: .append, from: id, to: peer, logTerm: previousTerm, index: previousIndex,
                     entries: entries, commit: log.committed))
        state.sentEntries(count: entries.count, lastIndex: entries.last?.index ?? previousIndex)
        progress[peer] = state
        return true
    }

    /// Sends the storage's snapshot to `peer` (Raft §7) if it was heard from recently (a snapshot is
    /// large: don't send one into the void). Returns true if a message was sent.
    mutating func sendSnapshot(to peer: NodeID) -> Bool {
        guard progress[peer]!.recentActive else { return false }
        guard let snapshot = try? log.snapshot(), !snapshot.isEmpty else { return false }
        progress[peer]!.becomeSnapshot(snapshot.index)
        send(Message(kind: .snapshot, from: id, to: peer, snapshot: snapshot))
        return true
    }
}
