import Raft
import SpoolCore
import SpoolStorage
import Testing

@testable import SpoolReplication

/// The in-memory window of persisted, unapplied entries answers exactly what the file answers,
/// through appends, a follower's truncation, applies, its byte bound and a snapshot.
@Suite("Replica storage: the unapplied-entry window", .timeLimit(.minutes(1)))
struct ReplicaStorageTests {
    static func batch(_ index: UInt64, term: UInt64, first: Int64, count: Int, prefix: String = "v") -> Entry {
        var builder = RecordBatch.Builder(firstOffset: Offset(first))
        for offset in first ..< first + Int64(count) {
            builder.append(timestamp: TimestampMs(offset), key: nil, value: Array("\(prefix)\(offset)".utf8))
        }
        return Entry(index: LogIndex(index), term: Term(term), kind: .record, payload: builder.finish())
    }

    static func expectSameAsTheFile(_ storage: ReplicaStorage, _ store: RaftLogStore, _ note: Comment) throws {
        let last = store.lastIndex()
        for lo in store.firstIndex().rawValue ... last.rawValue {
            for hi in lo ... last.rawValue + 1 {
                for limit: UInt64 in [0, 100, .max] {
                    let fromWindow = try storage.entries(from: LogIndex(lo), upTo: LogIndex(hi), maxBytes: limit)
                    let fromFile = try store.entries(from: LogIndex(lo), upTo: LogIndex(hi), maxBytes: limit)
                    #expect(fromWindow == fromFile, "\(note): \(lo)..<\(hi) within \(limit)")
                }
            }
            #expect(try storage.term(at: LogIndex(lo)) == store.term(at: LogIndex(lo)), note)
        }
        #expect(throws: RaftStorageError.unavailable) { try storage.entries(from: last, upTo: last + 2, maxBytes: .max) }
    }

    @Test func theWindowAnswersWhatTheFileAnswers() async throws {
        try await TemporaryFolder.with { folder in
            let store = try RaftLogStore.openPartition(path: "\(folder)/p.sqlite3", voters: [1, 2, 3])
            defer { store.connection.close() }
            let storage = ReplicaStorage(store: store, maxBytes: 1 << 20)
            try storage.persist(Ready(
                hardState: HardState(term: 1, vote: 1, commit: 0),
                entries: (1 ... 5).map { Self.batch($0, term: 1, first: Int64($0 - 1) * 3, count: 3) }, mustSync: true))
            #expect(storage.cachedBytes > 0)
            try Self.expectSameAsTheFile(storage, store, "after an append")

            // A new leader replaces entries 4 and 5 with three of its own.
            try storage.persist(Ready(
                entries: [Entry(index: 4, term: 2, kind: .noOp)] + (5 ... 6).map { Self.batch($0, term: 2, first: 9 + Int64($0 - 5) * 2, count: 2, prefix: "n") },
                mustSync: true))
            try Self.expectSameAsTheFile(storage, store, "after a truncation")

            storage.applied(through: 3)
            try Self.expectSameAsTheFile(storage, store, "after applying through 3")
            storage.applied(through: 6)
            #expect(storage.cachedBytes == 0)
            try Self.expectSameAsTheFile(storage, store, "everything applied")

            // A window smaller than one batch keeps the newest entries only.
            let tiny = ReplicaStorage(store: store, maxBytes: 60)
            try tiny.persist(Ready(entries: [Self.batch(7, term: 2, first: 13, count: 4), Self.batch(8, term: 2, first: 17, count: 1)], mustSync: true))
            #expect(tiny.cachedBytes <= 60)
            try Self.expectSameAsTheFile(tiny, store, "a tiny window")

            try storage.persist(Ready(snapshot: Snapshot(index: 8, term: 2, voters: [1, 2, 3]), mustSync: true))
            #expect(storage.cachedBytes == 0)
            #expect(storage.firstIndex() == 9 && storage.lastIndex() == 8)
        }
    }
}
