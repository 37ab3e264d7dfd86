import Raft

/// Watches what nodes do and records every broken invariant. The simulator (and tests) report
/// observations; the checker keeps the cluster-wide history needed to judge them. Dictionaries here
/// are only looked up, never iterated, so they cannot make runs diverge.
public struct SafetyChecker: Sendable {
    struct EntryKey: Hashable, Sendable {
        var index: LogIndex
        var term: Term
    }

    struct EntryShape: Hashable, Sendable {
        var digest: UInt64
        var previousTerm: Term
    }

    public private(set) var violations: [Violation] = []
    public var tick: UInt64 = 0

    private var leaderOfTerm: [Term: NodeID] = [:]
    /// Log Matching by induction: every (index, term) has one content and one predecessor term.
    private var entryShapes: [EntryKey: EntryShape] = [:]
    /// Term of every index known committed, as first observed.
    private var committedTerms: [LogIndex: Term] = [:]
    public private(set) var highestCommitted: LogIndex = .zero
    /// State machine hash after applying each index, as first observed.
    private var appliedChains: [LogIndex: UInt64] = [:]
    /// Proposals acknowledged to a client: index → entry digest.
    public private(set) var acknowledged: [LogIndex: UInt64] = [:]
    private var persistedCommit: [NodeID: LogIndex] = [:]
    private var liveCommit: [NodeID: LogIndex] = [:]

    public init() {}

    public var isClean: Bool { violations.isEmpty }

    /// Violations kept per run: the first ones explain the failure, the rest are consequences.
    public static let violationsLimit = 10

    mutating func fail(_ invariant: Invariant, _ detail: String) {
        guard violations.count < Self.violationsLimit else { return }
        violations.append(Violation(invariant: invariant, tick: tick, detail: detail))
    }

    // MARK: Observations

    /// `node` is in `role` at `term`.
    public mutating func observeRole(node: NodeID, term: Term, role: Role) {
        guard role == .leader else { return }
        if let existing = leaderOfTerm[term] {
            if existing != node { fail(.electionSafety, "\(node) and \(existing) are both leaders of \(term)") }
        } else {
            leaderOfTerm[term] = node
        }
    }

    /// `node` just became leader with `log` (its whole retained log) and `firstIndex`.
    /// Raft §5.4: it must hold every entry committed so far.
    public mutating func observeNewLeader(node: NodeID, term: Term, firstIndex: LogIndex, lastIndex: LogIndex,
                                          termAt: (LogIndex) -> Term?) {
        if lastIndex < highestCommitted {
            fail(.leaderCompleteness, "\(node) leads \(term) with last index \(lastIndex) < committed \(highestCommitted)")
            return
        }
        var index = max(firstIndex, LogIndex(1))
        while index <= highestCommitted {
            if let committed = committedTerms[index], let held = termAt(index), held != committed {
                fail(.leaderCompleteness, "\(node) leads \(term) with \(index)/\(held) but \(index)/\(committed) is committed")
                return
            }
            index = index + 1
        }
    }

    /// `node` persisted `entries`, the first of which follows an entry of `previousTerm`, over a log
    /// whose durable commit index is `durableCommit`.
    public mutating func observePersistedEntries(node: NodeID, entries: [Entry], previousTerm: Term, durableCommit: LogIndex) {
        var previous = previousTerm
        for entry in entries {
            let key = EntryKey(index: entry.index, term: entry.term)
            let shape = EntryShape(digest: Fingerprint.of(entry), previousTerm: previous)
            if let known = entryShapes[key] {
                if known != shape {
                    fail(.logMatching, "\(node) persisted \(entry) after term \(previous.rawValue) but another log holds \(entry.index)/\(entry.term) with different content or predecessor")
                }
            } else {
                entryShapes[key] = shape
            }
            if entry.index <= durableCommit, let committed = committedTerms[entry.index], committed != entry.term {
                fail(.committedEntriesStable, "\(node) overwrote committed \(entry.index)/\(committed) with term \(entry.term)")
            }
            previous = entry.term
        }
    }

    /// `node`'s commit index is now `commit`; `termAt` reads its log. `restarted` is true for the
    /// first observation after a restart.
    public mutating func observeCommit(node: NodeID, commit: LogIndex, restarted: Bool, termAt: (LogIndex) -> Term?) {
        let previous = liveCommit[node] ?? .zero
        if restarted {
            let durable = persistedCommit[node] ?? .zero
            if commit < durable {
                fail(.commitMonotonic, "\(node) restarted with commit \(commit) below its persisted commit \(durable)")
            }
        } else if commit < previous {
            fail(.commitMonotonic, "\(node) commit went back from \(previous) to \(commit)")
        }
        liveCommit[node] = commit
        guard commit > (restarted ? .zero : previous) else { return }
        var index = restarted ? LogIndex(1) : previous + 1
        while index <= commit {
            if let term = termAt(index) {
                if let known = committedTerms[index] {
                    if known != term {
                        fail(.committedEntriesStable, "\(node) committed \(index)/\(term) but \(index)/\(known) was committed before")
                    }
                } else {
                    committedTerms[index] = term
                }
            }
            index = index + 1
        }
        highestCommitted = max(highestCommitted, commit)
    }

    /// `node` durably recorded `commit` in its hard state.
    public mutating func observePersistedCommit(node: NodeID, commit: LogIndex) {
        let previous = persistedCommit[node] ?? .zero
        if commit < previous {
            fail(.commitMonotonic, "\(node) persisted commit \(commit) below earlier \(previous)")
        }
        persistedCommit[node] = max(previous, commit)
    }

    /// `node`'s state machine reached `chain` after applying through `index`.
    public mutating func observeApplied(node: NodeID, index: LogIndex, chain: UInt64) {
        if let known = appliedChains[index] {
            if known != chain {
                fail(.stateMachineSafety, "\(node) applied a different history through \(index) than other nodes")
            }
        } else {
            appliedChains[index] = chain
        }
    }

    /// A client was told the proposal `entry` is committed.
    public mutating func observeAcknowledged(_ entry: Entry) {
        acknowledged[entry.index] = Fingerprint.of(entry)
    }

    /// `node` applied `entry`: if it sits at an acknowledged index it must be that proposal.
    public mutating func observeAppliedEntry(node: NodeID, entry: Entry) {
        if let ack = acknowledged[entry.index], ack != Fingerprint.of(entry) {
            fail(.stateMachineSafety, "\(node) applied \(entry) where an acknowledged proposal was")
        }
    }

    /// Records a failure detected outside the checker (liveness).
    public mutating func record(_ invariant: Invariant, _ detail: String) { fail(invariant, detail) }
}
