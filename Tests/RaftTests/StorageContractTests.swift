import Raft
import Testing

/// Every `RaftStorageWriter` implementation must pass this suite. Add a case to `StorageKind`
/// for a new implementation and all tests run against it.
enum StorageKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    /// `RaftLogStore` on a real SQLite file (Support/SQLiteContractStorage.swift).
    case sqlite

    func make(voters: [NodeID] = [1, 2, 3]) -> any RaftStorageWriter {
        switch self {
        case .memory: MemoryStorage(voters: voters)
        case .sqlite: SQLiteContractStorage(voters: voters)
        }
    }

    /// What a restarted process reads back: the same storage for memory, the file closed and
    /// opened again for SQLite.
    func reopen(_ storage: any RaftStorageWriter) -> any RaftStorageWriter {
        if let sqlite = storage as? SQLiteContractStorage { sqlite.reopen() }
        return storage
    }

    var description: String { rawValue }
}

@Suite("Storage contract")
struct StorageContractTests {
    private func filled(_ kind: StorageKind, terms: [UInt64]) throws -> any RaftStorageWriter {
        let storage = kind.make()
        try storage.append(terms.enumerated().map { entry(UInt64($0.offset + 1), $0.element, [UInt8($0.offset)]) })
        return storage
    }

    @Test("a new storage is empty: first index 1, last index 0, dummy term 0, empty hard state and snapshot",
          arguments: StorageKind.allCases)
    func emptyStorage(kind: StorageKind) throws {
        let storage = kind.make()
        #expect(storage.firstIndex() == 1)
        #expect(storage.lastIndex() == 0)
        #expect(try storage.term(at: 0) == 0)
        #expect(throws: RaftStorageError.unavailable) { try storage.term(at: 1) }
        #expect(storage.hardState() == .empty)
        #expect(try storage.snapshot().isEmpty)
        #expect(try storage.entries(from: 1, upTo: 1, maxBytes: .max).isEmpty)
    }

    @Test("term(at:) answers for the dummy index through the last index only", arguments: StorageKind.allCases)
    func termContract(kind: StorageKind) throws {
        let storage = try filled(kind, terms: [1, 1, 2, 3, 3])
        try storage.compact(through: 2, snapshotData: [])
        #expect(throws: RaftStorageError.compacted) { try storage.term(at: 1) }
        #expect(try storage.term(at: 2) == 1)  // the dummy: the snapshot's term
        #expect(try storage.term(at: 3) == 2)
        #expect(try storage.term(at: 5) == 3)
        #expect(throws: RaftStorageError.unavailable) { try storage.term(at: 6) }
    }

    @Test("entries(from:upTo:maxBytes:) returns the range in order, limited by bytes but never empty",
          arguments: StorageKind.allCases)
    func entriesContract(kind: StorageKind) throws {
        let storage = try filled(kind, terms: [1, 1, 2, 3, 3])
        #expect(try storage.entries(from: 2, upTo: 5, maxBytes: .max).map(\.index) == [2, 3, 4])
        let one = Entry.headerBytes + 1
        #expect(try storage.entries(from: 1, upTo: 6, maxBytes: 2 * one).count == 2)
        #expect(try storage.entries(from: 1, upTo: 6, maxBytes: 2 * one + 1).count == 2)
        #expect(try storage.entries(from: 1, upTo: 6, maxBytes: 0).count == 1)
        #expect(throws: RaftStorageError.unavailable) { try storage.entries(from: 4, upTo: 7, maxBytes: .max) }
        try storage.compact(through: 2, snapshotData: [])
        #expect(throws: RaftStorageError.compacted) { try storage.entries(from: 2, upTo: 4, maxBytes: .max) }
        #expect(try storage.entries(from: 3, upTo: 6, maxBytes: .max).map(\.term) == [2, 3, 3])
    }

    @Test("append replaces a conflicting suffix with one truncation", arguments: StorageKind.allCases)
    func appendTruncatesSuffix(kind: StorageKind) throws {
        let storage = try filled(kind, terms: [1, 1, 2, 2, 2])
        try storage.append([entry(3, 3, [9]), entry(4, 3, [9])])
        #expect(storage.lastIndex() == 4)
        #expect(try storage.entries(from: 1, upTo: 5, maxBytes: .max).map(\.term) == [1, 1, 3, 3])
        // Appending right after the last index extends the log.
        try storage.append([entry(5, 3)])
        #expect(storage.lastIndex() == 5)
        // Re-appending an identical entry in the middle still truncates after it.
        try storage.append([entry(2, 1, [1])])
        #expect(storage.lastIndex() == 2)
    }

    @Test("append ignores entries below the first index", arguments: StorageKind.allCases)
    func appendIgnoresCompacted(kind: StorageKind) throws {
        let storage = try filled(kind, terms: [1, 1, 1, 1])
        try storage.compact(through: 3, snapshotData: [])
        try storage.append([entry(2, 1), entry(3, 1), entry(4, 2), entry(5, 2)])
        #expect(storage.firstIndex() == 4)
        #expect(storage.lastIndex() == 5)
        #expect(try storage.term(at: 4) == 2)
        try storage.append([entry(1, 1), entry(2, 1)])  // wholly compacted: no effect
        #expect(storage.lastIndex() == 5)
    }

    @Test("hard state round-trips", arguments: StorageKind.allCases)
    func hardStateRoundTrip(kind: StorageKind) throws {
        let storage = try filled(kind, terms: [1, 2])
        let state = HardState(term: 7, vote: 3, commit: 2)
        try storage.setHardState(state)
        #expect(storage.hardState() == state)
    }

    @Test("compact keeps later entries and records a snapshot with the compacted entry's term",
          arguments: StorageKind.allCases)
    func compactContract(kind: StorageKind) throws {
        let storage = try filled(kind, terms: [1, 2, 3, 4])
        try storage.compact(through: 3, snapshotData: [5, 6])
        #expect(storage.firstIndex() == 4)
        #expect(storage.lastIndex() == 4)
        let snapshot = try storage.snapshot()
        #expect(snapshot.index == 3)
        #expect(snapshot.term == 3)
        #expect(snapshot.data == [5, 6])
        #expect(snapshot.voters == [1, 2, 3])
        try storage.compact(through: 3, snapshotData: [])  // the dummy: no-op
        #expect(try storage.snapshot().data == [5, 6])
        #expect(throws: RaftStorageError.compacted) { try storage.compact(through: 2, snapshotData: []) }
        #expect(throws: RaftStorageError.unavailable) { try storage.compact(through: 5, snapshotData: []) }
        // Compacting everything leaves an empty log after the snapshot.
        try storage.compact(through: 4, snapshotData: [])
        #expect(storage.firstIndex() == 5)
        #expect(storage.lastIndex() == 4)
        #expect(try storage.term(at: 4) == 4)
    }

    @Test("applySnapshot replaces the whole log and refuses an older snapshot", arguments: StorageKind.allCases)
    func applySnapshotContract(kind: StorageKind) throws {
        let storage = try filled(kind, terms: [1, 1, 2])
        let snapshot = Snapshot(index: 10, term: 4, voters: [1, 2, 3], data: [1])
        try storage.applySnapshot(snapshot)
        #expect(storage.firstIndex() == 11)
        #expect(storage.lastIndex() == 10)
        #expect(try storage.term(at: 10) == 4)
        #expect(try storage.snapshot() == snapshot)
        #expect(throws: RaftStorageError.compacted) { try storage.term(at: 3) }
        #expect(throws: RaftStorageError.snapshotOutOfDate) {
            try storage.applySnapshot(Snapshot(index: 5, term: 2, voters: [1, 2, 3]))
        }
        try storage.append([entry(11, 4)])
        #expect(storage.lastIndex() == 11)
    }

    @Test("a node restarted from the storage sees the same log and hard state", arguments: StorageKind.allCases)
    func restartFromStorage(kind: StorageKind) throws {
        let storage = kind.make()
        var config = RaftConfig(id: 1, voters: [1])
        config.preVote = false
        var node = RaftNode(config: config, storage: storage, random: SplitMix64(seed: 1))
        node.campaign()
        try node.propose([Proposal(payload: [1]), Proposal(payload: [2])])
        for _ in 0 ..< 3 where node.hasReady {
            let ready = node.ready()
            if let snapshot = ready.snapshot { try storage.applySnapshot(snapshot) }
            try storage.append(ready.entries)
            if let hardState = ready.hardState { try storage.setHardState(hardState) }
            node.advance(ready)
        }
        let restarted = RaftNode(config: config, storage: kind.reopen(storage), random: SplitMix64(seed: 2))
        #expect(restarted.term == node.term)
        #expect(restarted.vote == node.vote)
        #expect(restarted.commitIndex == node.commitIndex)
        #expect(restarted.logEntries() == node.logEntries())
        #expect(restarted.role == .follower)
    }

    /// A crash between `applySnapshot` and `setHardState` of one `Ready` leaves a hard state whose
    /// commit is below the snapshot; the node must still start (from the snapshot), every time.
    @Test("a node restarts after a crash between storing a snapshot and its hard state", arguments: StorageKind.allCases)
    func restartAfterSnapshotWithoutHardState(kind: StorageKind) throws {
        let storage = kind.make()
        try storage.append([entry(1, 1, [1])])
        try storage.setHardState(HardState(term: 1, vote: 2, commit: 1))
        try storage.applySnapshot(Snapshot(index: 10, term: 2, voters: [1, 2, 3]))
        let config = RaftConfig(id: 1, voters: [1, 2, 3])
        for seed: UInt64 in 1...2 {
            _ = kind.reopen(storage)
            let node = RaftNode(config: config, storage: storage, random: SplitMix64(seed: seed))
            #expect(node.commitIndex == 10)
            #expect(node.firstIndex == 11 && node.lastIndex == 10)
            #expect(node.term == 1 && node.vote == 2)
        }
    }
}
