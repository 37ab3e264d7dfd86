import Foundation
import SpoolCore
import Testing

/// Issue 9 item 6: a crash during CREATE or DROP never blocks a later CREATE of the name.
@Suite("Crash-safe CREATE and DROP", .timeLimit(.minutes(2)))
struct TopicCrashSafetyTests {
    /// What a SIGKILL in the middle of the old CREATE left in topics/: some partition files, a
    /// rollback journal of the one being made, and no metadata row.
    @Test func leftoversOfAnInterruptedCreateDoNotBlockTheName() async throws {
        try await withTemporaryFolder { directory in
            let files = FileManager.default
            for folder in ["/topics/t", "/staging/t", "/trash/123"] {
                try files.createDirectory(atPath: directory + folder, withIntermediateDirectories: true)
            }
            for name in ["0.sqlite3", "1.sqlite3", "2.sqlite3-journal", "7.sqlite3-wal"] {
                #expect(files.createFile(atPath: directory + "/topics/t/" + name, contents: Data("junk".utf8)))
                #expect(files.createFile(atPath: directory + "/staging/t/" + name, contents: Data("junk".utf8)))
            }
            #expect(files.createFile(atPath: directory + "/trash/123/0.sqlite3-journal", contents: Data("junk".utf8)))
            try await withTestBroker(on: directory) { broker in
                // Start cleared what half-done CREATEs and DROPs left outside topics/.
                #expect(!files.fileExists(atPath: directory + "/staging/t"))
                #expect(!files.fileExists(atPath: directory + "/trash/123"))
                let socket = try broker.socket()
                #expect(try socket.ask("TOPICS") == "END TOPICS 0")
                #expect(try socket.ask("CREATE t partitions=3") == "OK t partitions=3 replication=1")
                #expect(try socket.ask("PUB t partition=2 :x") == "OK t 2 0")
                #expect(try files.contentsOfDirectory(atPath: directory + "/topics/t").filter { $0.hasSuffix(".sqlite3") }.sorted()
                    == ["0.sqlite3", "1.sqlite3", "2.sqlite3"])
                #expect(try socket.ask("DROP t") == "OK dropped t")
                #expect(!files.fileExists(atPath: directory + "/topics/t"))
                #expect(try socket.ask("CREATE t") == "OK t partitions=1 replication=1")
            }
        }
    }

    @Test func aSigkillDuringABigCreateLeavesNothingThatBlocksTheName() async throws {
        try await withTemporaryFolder { directory in
            try await withSpoold(on: directory) { spoold in
                let socket = try RawSocket(port: spoold.port)
                try socket.send("CREATE t partitions=200\n")
                // Kill it while the partition files are being made.
                try await eventually(timeout: .seconds(20), pollEvery: .milliseconds(2), "partition files being created") {
                    let made = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/staging/t"))
                        ?? (try? FileManager.default.contentsOfDirectory(atPath: directory + "/topics/t")) ?? []
                    return made.count >= 20
                }
                spoold.kill()
            }
            try await withSpoold(on: directory) { spoold in
                let socket = try RawSocket(port: spoold.port, timeoutSeconds: 30)
                let topics = try socket.askBlock("TOPICS")
                // Either the kill came before the metadata row (no topic) or after it (a whole topic).
                if topics == ["END TOPICS 0"] {
                    #expect(try socket.ask("CREATE t partitions=200") == "OK t partitions=200 replication=1")
                } else {
                    #expect(topics.first == "TOPIC t partitions=200")
                }
                #expect(try socket.ask("PUB t partition=199 :x") == "OK t 199 0")
                #expect(try socket.ask("DROP t") == "OK dropped t")
                #expect(try socket.ask("CREATE t partitions=200") == "OK t partitions=200 replication=1")
            }
        }
    }
}
