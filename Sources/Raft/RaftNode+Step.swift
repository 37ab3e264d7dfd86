/// Message handling (Raft §5, Figure 2 receiver rules; etcd-io/raft's `Step`).
extension RaftNode {
    /// Processes a message from a peer. Messages from non-members and stale terms are dropped.
    public mutating func step(_ message: Message) {
        precondition(message.to == id, "message for \(message.to) stepped into \(id)")
        guard config.voters.contains(message.from) else { return }
        if message.kind == .transferLeader {
            // Local or forwarded request: not tied to a term.
            if role == .leader { handleTransferLeader(message) }
            else if role == .follower && leader != .none && message.from != leader {
                send(Message(kind: .transferLeader, from: id, to: leader, transferee: message.transferee))
            }
            return
        }
        if message.term > term {
            if message.kind == .vote || message.kind == .preVote {
                // Thesis §4.2.3 / §9.6: a node that heard from a leader within the minimum election
                // timeout ignores (pre)votes, so a rejoining node cannot depose a healthy leader.
                let inLease = (config.checkQuorum || config.preVote) && leader != .none
                    && electionElapsed < config.electionTimeoutTicks
                if inLease && !message.isLeaderTransfer { return }
            }
            switch message.kind {
            case .preVote:
                break  // Never change term for a pre-vote.
            case .preVoteResponse where !message.reject:
                break  // The term is bumped when the pre-vote is won.
            case .append, .heartbeat, .snapshot:
                becomeFollower(term: message.term, leader: message.from)
            default:
                becomeFollower(term: message.term, leader: .none)
            }
        } else if message.term < term {
            if (config.checkQuorum || config.preVote) && (message.kind == .heartbeat || message.kind == .append) {
                // A stale leader (e.g. after a partition) learns the new term and steps down;
                // without this, a node whose pre-votes failed could never make it step down.
                send(Message(kind: .appendResponse, from: id, to: message.from))
            } else if message.kind == .preVote {
                send(Message(kind: .preVoteResponse, from: id, to: message.from, term: term, reject: true))
            }
            return
        }

        switch message.kind {
        case .vote, .preVote:
            handleVoteRequest(message)
        default:
            switch role {
            case .leader: stepLeader(message)
            case .candidate, .preCandidate: stepCandidate(message)
            case .follower: stepFollower(message)
            }
        }
    }

    mutating func handleVoteRequest(_ message: Message) {
        // Raft §5.2: one vote per term, first come first served; a pre-vote for a later term binds
        // nothing.
        let canVote = vote == message.from
            || (vote == .none && leader == .none)
            || (message.kind == .preVote && message.term > term)
        if canVote && log.isUpToDate(lastIndex: message.index, term: message.logTerm) {
            send(Message(kind: message.kind.voteResponse, from: id, to: message.from, term: message.term))
            if message.kind == .vote {
                electionElapsed = 0
                vote = message.from
            }
        } else {
            send(Message(kind: message.kind.voteResponse, from: id, to: message.from, term: term, reject: true))
        }
    }

    mutating func stepLeader(_ message: Message) {
        switch message.kind {
        case .appendResponse:
            handleAppendResponse(message)
        case .heartbeatResponse:
            // etcd-io/raft: a heartbeat response unpauses the flow for one append, which is empty
            // while the inflight window is full. It frees no slot (that would let a slow follower
            // that still answers heartbeats receive a full batch per heartbeat, beyond
            // `maxInflightAppendsPerFollower`); the empty append is answered with an
            // acknowledgement or a rejection, either of which clears the window, so replication
            // recovers even if every append in the window was lost.
            progress[message.from]!.recentActive = true
            progress[message.from]!.msgAppFlowPaused = false
            if progress[message.from]!.match < log.lastIndex() { sendAppend(to: message.from) }
        default:
            break  // Another leader in our term would break election safety; the checkers watch.
        }
    }

    mutating func stepCandidate(_ message: Message) {
        let expected: MessageKind = role == .preCandidate ? .preVoteResponse : .voteResponse
        switch message.kind {
        case .append:
            becomeFollower(term: message.term, leader: message.from)
            handleAppend(message)
        case .heartbeat:
            becomeFollower(term: message.term, leader: message.from)
            handleHeartbeat(message)
        case .snapshot:
            becomeFollower(term: message.term, leader: message.from)
            handleSnapshot(message)
        case expected:
            switch poll(message.from, granted: !message.reject) {
            case .won:
                if role == .preCandidate {
                    campaign(.election)
                } else {
                    becomeLeader()
                    broadcastAppend()
                }
            case .lost:
                becomeFollower(term: term, leader: .none)
            case .pending:
                break
            }
        default:
            break
        }
    }

    mutating func stepFollower(_ message: Message) {
        switch message.kind {
        case .append:
            electionElapsed = 0
            leader = message.from
            handleAppend(message)
        case .heartbeat:
            electionElapsed = 0
            leader = message.from
            handleHeartbeat(message)
        case .snapshot:
            electionElapsed = 0
            leader = message.from
            handleSnapshot(message)
        case .timeoutNow:
            campaign(.transfer)
        default:
            break
        }
    }

    mutating func handleAppend(_ message: Message) {
        if message.index < log.committed {
            send(Message(kind: .appendResponse, from: id, to: message.from, index: log.committed))
            return
        }
        if let lastNew = log.maybeAppend(index: message.index, logTerm: message.logTerm,
                                         commit: message.commit, entries: message.entries) {
            send(Message(kind: .appendResponse, from: id, to: message.from, index: lastNew))
            return
        }
        // Raft §5.3 with etcd-io/raft's faster probing: point the leader at the last index whose
        // term could still match, skipping whole terms instead of one entry per round trip.
        let hint = log.findConflictByTerm(index: min(message.index, log.lastIndex()), term: message.logTerm)
        send(Message(kind: .appendResponse, from: id, to: message.from, logTerm: hint.term,
                     index: message.index, reject: true, rejectHint: hint.index))
    }

    mutating func handleHeartbeat(_ message: Message) {
        log.commit(to: message.commit)
        send(Message(kind: .heartbeatResponse, from: id, to: message.from))
    }

    mutating func handleSnapshot(_ message: Message) {
        guard let snapshot = message.snapshot else { return }
        if restore(snapshot) {
            send(Message(kind: .appendResponse, from: id, to: message.from, index: log.lastIndex()))
        } else {
            send(Message(kind: .appendResponse, from: id, to: message.from, index: log.committed))
        }
    }

    /// Raft §7 InstallSnapshot receiver: returns false when the snapshot brings nothing new.
    mutating func restore(_ snapshot: Snapshot) -> Bool {
        if snapshot.index <= log.committed { return false }
        precondition(role == .follower, "restoring a snapshot as \(role)")
        if log.matchTerm(index: snapshot.index, term: snapshot.term) {
            // Our log already holds the snapshot's last entry: just fast-forward the commit.
            log.commit(to: snapshot.index)
            return false
        }
        log.restore(snapshot)
        return true
    }
}
