import Foundation
import Raft
import SpoolCore

@testable import SpoolStorage

/// The `.sqlite` storage of the contract suite: a `RaftLogStore` on a real partition database in
/// its own temporary folder, removed when the storage is released (also when a test fails).
///
/// The store refuses (`precondition`) an entry of kind `.record` whose payload is not a
/// `RecordBatch`, and the contract suite proposes arbitrary payloads of that kind. So this
/// wrapper stores each such payload as a one-record batch (the payload is the record's value, at
/// the offset the store expects next) and decodes it on the way out: every contract append,
/// truncation, compaction and restart really writes and deletes `records` rows. Byte limits are
/// applied here to the contract's payload sizes; the store's own byte limit is tested in
/// SpoolStorageTests (RaftLogStoreTests).
final class SQLiteContractStorage: RaftStorageWriter {
    let folder: String
    let path: String
    let voters: [NodeID]
    private var connection: SQLiteConnection!
    private(set) var store: RaftLogStore!

    init(voters: [NodeID]) {
        folder = NSTemporaryDirectory() + "spool-raft-contract-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        path = folder + "/0.sqlite3"
        self.voters = voters
        open()
    }

    deinit {
        close()
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func open() {
        connection = try! ConnectionFactory.openWriter(path: path, migrations: .partition)
        store = try! RaftLogStore(connection: connection, voters: voters)
    }

    private func close() {
        store = nil  // releases the statements before the connection closes
        connection?.close()
        connection = nil
    }

    /// Closes the database and opens it again: what a restarted broker reads back.
    func reopen() {
        close()
        open()
    }

    // MARK: RaftStorage

    func hardState() -> HardState { store.hardState() }
    func firstIndex() -> LogIndex { store.firstIndex() }
    func lastIndex() -> LogIndex { store.lastIndex() }
    func term(at index: LogIndex) throws(RaftStorageError) -> Term { try store.term(at: index) }
    func snapshot() throws(RaftStorageError) -> Snapshot { try store.snapshot() }

    func entries(from lo: LogIndex, upTo hi: LogIndex, maxBytes: UInt64) throws(RaftStorageError) -> [Entry] {
        let stored = try store.entries(from: lo, upTo: hi, maxBytes: .max).map(Self.decoded)
        guard !stored.isEmpty else { return stored }
        var total = stored[0].sizeBytes
        var count = 1
        while count < stored.count {
            total += stored[count].sizeBytes
            if total > maxBytes { break }
            count += 1
        }
        return Array(stored.prefix(count))
    }

    // MARK: RaftStorageWriter

    func append(_ entries: [Entry]) throws(RaftStorageError) {
        let firstKept = store.firstIndex()
        guard let start = entries.firstIndex(where: { $0.index >= firstKept }) else {
            try store.append(entries)  // wholly compacted: the store ignores them
            return
        }
        var offset = store.expectedOffset(forEntryAt: entries[start].index) ?? .zero
        var encoded = Array(entries[..<start])
        for entry in entries[start...] {
            guard entry.kind == .record else {
                encoded.append(entry)
                continue
            }
            var batch = RecordBatch.Builder(firstOffset: offset)
            batch.append(timestamp: TimestampMs(Int64(entry.index.rawValue)), key: nil, value: entry.payload)
            encoded.append(Entry(index: entry.index, term: entry.term, kind: .record, payload: batch.finish()))
            offset = offset + 1
        }
        try store.append(encoded)
    }

    func setHardState(_ state: HardState) throws(RaftStorageError) { try store.setHardState(state) }
    func applySnapshot(_ snapshot: Snapshot) throws(RaftStorageError) { try store.applySnapshot(snapshot) }
    func compact(through index: LogIndex, snapshotData: [UInt8]) throws(RaftStorageError) {
        try store.compact(through: index, snapshotData: snapshotData)
    }

    /// The contract's payload back out of its one-record batch.
    private static func decoded(_ entry: Entry) -> Entry {
        guard entry.kind == .record else { return entry }
        var values: [[UInt8]] = []
        let header = entry.payload.withUnsafeBytes { bytes in
            RecordBatch.forEachRecord(in: bytes) { values.append(Array($0.value)) }
        }
        precondition(header != nil && values.count == 1, "entry \(entry.index) is not a one-record batch")
        return Entry(index: entry.index, term: entry.term, kind: .record, payload: values[0])
    }
}
