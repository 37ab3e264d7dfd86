import Foundation
import SpoolStorage
import Testing

/// Issue 10 item 3, first half: three spoold processes run the cluster's metadata Raft group over
/// their peer transport, its log in each broker's broker.sqlite3 (docs/replication.md §10).
@Suite("The metadata group across real brokers", .timeLimit(.minutes(2)))
struct MetadataGroupClusterTests {
    /// The metadata group's log rows as `index:term:kind`, read beside the running broker (WAL);
    /// empty while the broker has not created or migrated its database yet.
    private func log(_ folder: String) -> [String] {
        (try? readLog(folder)) ?? []
    }

    private func readLog(_ folder: String) throws -> [String] {
        let connection = try SQLiteConnection(path: folder + "/broker.sqlite3", mode: .readOnly)
        defer { connection.close() }
        let rows = try connection.prepare("SELECT raft_index, term, kind FROM raft_log ORDER BY raft_index")
        var log: [String] = []
        while try rows.step() { log.append("\(rows.columnInt64(0)):\(rows.columnInt64(1)):\(rows.columnInt64(2))") }
        return log
    }

    private func state(_ folder: String) throws -> (term: Int64, commit: Int64, voters: String) {
        let connection = try SQLiteConnection(path: folder + "/broker.sqlite3", mode: .readOnly)
        defer { connection.close() }
        #expect(try connection.integrityCheck() == "ok")
        return (
            try connection.scalarInt("SELECT term FROM raft_state") ?? -1, try connection.scalarInt("SELECT commit_index FROM raft_state") ?? -1,
            try connection.scalarText("SELECT voters FROM raft_state") ?? ""
        )
    }

    @Test func threeBrokersElectOneLeaderAndHoldTheSameLogAcrossARestart() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            // A leader's first entry (its no-op, kind 3) reaches every broker's file.
            var first: [String] = []
            try await eventually(timeout: .seconds(20), "one metadata log on all three brokers") {
                let logs = cluster.folders.map(log)
                first = logs[0]
                return !first.isEmpty && logs.allSatisfy { $0 == first }
            }
            #expect(first.allSatisfy { $0.hasSuffix(":3") }, "only leader no-ops so far: \(first)")
            for id in 1...3 { #expect(cluster.terminate(id) == 0) }
            let stopped = try cluster.folders.map(state)
            // Each graceful stop hands the leadership to a broker still running (a new term each
            // time), so the terms differ by those handoffs; every file knows the voters.
            let term = stopped.map(\.term).max() ?? 0
            #expect(stopped.allSatisfy { $0.term >= 1 && $0.voters == "1,2,3" }, "\(stopped)")
            #expect(stopped.allSatisfy { $0.commit >= 1 }, "a clean stop writes the commit index: \(stopped)")

            // Restarted, they elect again in a later term and every file keeps what it had.
            try cluster.startAll()
            try await eventually(timeout: .seconds(20), "a new term's entry on all three brokers") {
                let logs = cluster.folders.map(log)
                return logs.allSatisfy { $0 == logs[0] && $0.count > first.count && Array($0.prefix(first.count)) == first }
                    && (logs[0].last.flatMap { Int64($0.split(separator: ":")[1]) } ?? 0) > term
            }
        }
    }
}
