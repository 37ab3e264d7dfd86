/// Role transitions and elections (Raft §5.2, thesis §9.6 pre-vote, thesis §3.10 transfer).
extension RaftNode {
    enum CampaignKind {
        /// Pre-vote round: ask for votes in `term + 1` without bumping `term`.
        case preElection
        case election
        /// A leadership transfer: skip pre-vote and bypass the receivers' leader lease.
        case transfer
    }

    enum PollResult { case pending, won, lost }

    /// A node may campaign if it is a voter and is not waiting for a snapshot to be persisted.
    var isPromotable: Bool { config.voters.contains(id) && !log.hasPendingSnapshot() }

    mutating func reset(term newTerm: Term) {
        if newTerm != term {
            term = newTerm
            vote = .none
        }
        leader = .none
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        leadTransferee = .none
        votes = [:]
        progress = [:]
    }

    /// Raft §5.2: a random timeout in `[electionTimeoutTicks, 2 * electionTimeoutTicks)` makes split
    /// votes rare.
    mutating func resetRandomizedElectionTimeout() {
        let base = config.electionTimeoutTicks
        randomizedElectionTimeout = base + Int(random.next() % UInt64(base))
    }

    mutating func becomeFollower(term newTerm: Term, leader newLeader: NodeID) {
        reset(term: newTerm)
        role = .follower
        leader = newLeader
    }

    mutating func becomePreCandidate() {
        precondition(role != .leader, "a leader cannot become pre-candidate")
        // Thesis §9.6: the term and vote do not change until the pre-vote is won.
        votes = [:]
        leader = .none
        role = .preCandidate
    }

    mutating func becomeCandidate() {
        precondition(role != .leader, "a leader cannot become candidate")
        reset(term: term.next)
        vote = id
        role = .candidate
    }

    mutating func becomeLeader() {
        precondition(role == .candidate, "only a candidate becomes leader")
        reset(term: term)
        leader = id
        role = .leader
        let next = log.lastIndex() + 1
        for voter in config.voters {
            var peer = Progress(match: .zero, next: next, maxInflight: config.maxInflightAppendsPerFollower)
            if voter == id {
                peer.match = log.durableIndex
                peer.becomeReplicate()
                peer.recentActive = true
            }
            progress[voter] = peer
        }
        // Raft §8: a new leader commits an empty entry of its own term, which also commits every
        // earlier entry it holds (§5.4.2 forbids counting replicas of older-term entries).
        appendEntries([Proposal(kind: .noOp, payload: [])])
    }

    mutating func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            campaign(config.preVote ? .preElection : .election)
        }
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTimeoutTicks {
            electionElapsed = 0
            if config.checkQuorum {
                // Thesis §6.2: a leader that has not heard from a majority for an election timeout
                // steps down, so a leader cut off from the group stops claiming leadership.
                if !isQuorumActive() {
                    becomeFollower(term: term, leader: .none)
                    return
                }
                for voter in config.voters where voter != id { progress[voter]!.recentActive = false }
            }
            // Thesis §3.10: a transfer that did not finish within an election timeout is abandoned.
            leadTransferee = .none
        }
        for voter in config.voters where voter != id && progress[voter]!.state == .snapshot {
            progress[voter]!.snapshotElapsedTicks += 1
            if progress[voter]!.snapshotElapsedTicks >= config.snapshotRetryTicks {
                progress[voter]!.becomeProbe()
            }
        }
        if heartbeatElapsed >= config.heartbeatIntervalTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat()
        }
    }

    func isQuorumActive() -> Bool {
        config.voters.filter { $0 == id || progress[$0]!.recentActive }.count >= config.quorumSize
    }

    mutating func campaign(_ kind: CampaignKind) {
        guard isPromotable else { return }
        let voteTerm: Term
        let request: MessageKind
        if kind == .preElection {
            becomePreCandidate()
            voteTerm = term.next
            request = .preVote
        } else {
            becomeCandidate()
            voteTerm = term
            request = .vote
        }
        if poll(id, granted: true) == .won {
            // A single-node group wins at once.
            if kind == .preElection { campaign(.election) } else { becomeLeader() }
            return
        }
        let lastIndex = log.lastIndex()
        let lastTerm = log.lastTerm()
        for voter in config.voters where voter != id {
            send(Message(kind: request, from: id, to: voter, term: voteTerm, logTerm: lastTerm,
                         index: lastIndex, isLeaderTransfer: kind == .transfer))
        }
    }

    mutating func poll(_ voter: NodeID, granted: Bool) -> PollResult {
        if votes[voter] == nil { votes[voter] = granted }
        let yes = votes.values.filter { $0 }.count
        let no = votes.count - yes
        if yes >= config.quorumSize { return .won }
        if no > config.voters.count - config.quorumSize { return .lost }
        return .pending
    }

    mutating func handleTransferLeader(_ message: Message) {
        let transferee = message.transferee
        guard config.voters.contains(transferee) else { return }
        if leadTransferee != .none {
            // A repeated request does not extend the deadline of the transfer in progress.
            if leadTransferee == transferee { return }
            // etcd-io/raft: a request for another node, this leader included, aborts the pending
            // transfer. Asking for itself is how a leader cancels one (the broker was told to
            // stay, or the transferee died): proposals are accepted again at once instead of
            // after an election timeout.
            leadTransferee = .none
        }
        if transferee == id { return }
        // Thesis §3.10: the transfer must finish within one election timeout.
        electionElapsed = 0
        leadTransferee = transferee
        if progress[transferee]!.match == log.lastIndex() {
            sendTimeoutNow(to: transferee)
        } else {
            sendAppend(to: transferee)
        }
    }

    mutating func sendTimeoutNow(to peer: NodeID) {
        send(Message(kind: .timeoutNow, from: id, to: peer))
    }
}
