import Foundation
import SpoolCore
import Testing

/// Issue 9 item 5: a partition file lost or damaged while the broker was down is never recreated
/// as if new; it is taken out of service (PARTITION_OFFLINE, logged with its file) and every
/// other partition keeps serving.
@Suite("Lost and damaged partition files", .timeLimit(.minutes(1)))
struct PartitionDamageTests {
    /// A topic `t` with 2 partitions, `count` records in each, and a topic `other`; broker stopped.
    private func prepare(_ directory: String, records count: Int = 3, valueBytes: Int = 8) async throws {
        try await withTestBroker(on: directory) { broker in
            let socket = try broker.socket()
            #expect(try socket.ask("CREATE t partitions=2").hasPrefix("OK"))
            #expect(try socket.ask("CREATE other").hasPrefix("OK"))
            let value = String(repeating: "v", count: valueBytes)
            for index in 0..<count {
                for partition in 0..<2 {
                    #expect(try socket.ask("PUB t partition=\(partition) :\(index)-\(value)").hasPrefix("OK t \(partition)"))
                }
            }
            #expect(try socket.ask("COMMIT t 0 1").hasPrefix("ERR NOT_ASSIGNED"))  // the connection is usable
        }
    }

    private func partitionFile(_ directory: String, _ partition: Int) -> String {
        directory + "/topics/t/\(partition).sqlite3"
    }

    /// What a restarted broker says about `t` 0 (offline), `t` 1 and `other` (serving).
    private func expectOnlyPartitionZeroOffline(_ broker: TestBroker, reason: String) throws {
        let socket = try broker.socket()
        let fetch = try socket.ask("FETCH t 0 0")
        #expect(fetch.hasPrefix("ERR PARTITION_OFFLINE"), "\(fetch)")
        #expect(!fetch.contains(broker.dataDirectory), "no data path for clients: \(fetch)")
        #expect(try socket.ask("PUB t partition=0 :x").hasPrefix("ERR PARTITION_OFFLINE"))
        #expect(try socket.ask("OFFSETS t 0").hasPrefix("ERR PARTITION_OFFLINE"))
        // The other partition and the other topic serve as before.
        let records = try socket.askBlock("FETCH t 1 0")
        #expect(records.last == "END t 1 next=3 high=3", "\(records)")
        #expect(try socket.ask("PUB t partition=1 :more") == "OK t 1 3")
        #expect(try socket.ask("PUB other :y") == "OK other 0 0")
        // Keyless records skip the offline partition.
        for _ in 0..<4 { #expect(try socket.ask("PUB t :keyless").hasPrefix("OK t 1 ")) }
        let describe = try socket.askBlock("DESCRIBE t")
        #expect(describe.contains { $0.hasPrefix("PARTITION t 0 offline=\(reason) ") }, "\(describe)")
        #expect(describe.contains { $0.hasPrefix("PARTITION t 1 low=0 ") }, "\(describe)")
        let topics = try socket.askBlock("TOPICS")
        #expect(topics.contains("TOPIC t partitions=2 offline=1"), "\(topics)")
        #expect(topics.contains("TOPIC other partitions=1"), "\(topics)")
        // A subscription to the topic gets the partitions that serve.
        let subscriber = try broker.socket()
        #expect(try subscriber.ask("SUB t from=earliest") == "OK subscribed t partitions=2 from=earliest")
        #expect(try subscriber.readLine().hasPrefix("MSG t 1 0 "))
        // So does a group member, which keeps its connection and its group.
        let member = try broker.socket()
        #expect(try member.ask("SUB t group=g from=earliest").hasPrefix("OK subscribed t group=g "))
        var line = try member.readLine()
        while !line.hasPrefix("MSG t 1 0 ") { line = try member.readLine() }
        #expect(try member.readLine() == "0-vvvvvvvv")
        try member.send("PING\n")
        while line != "PONG" { line = try member.readLine() }
        let group = try socket.askBlock("GROUP g")
        #expect(group.contains { $0.hasPrefix("MEMBER ") }, "\(group)")
    }

    @Test(arguments: ["deleted", "truncated"])
    func aLostPartitionFileIsOfflineAndNeverRecreated(_ how: String) async throws {
        try await withTemporaryFolder { directory in
            try await prepare(directory)
            let file = partitionFile(directory, 0)
            if how == "deleted" {
                try FileManager.default.removeItem(atPath: file)
            } else {
                #expect(truncate(file, 0) == 0)
            }
            try? FileManager.default.removeItem(atPath: file + "-wal")
            try await withTestBroker(on: directory) { broker in
                try expectOnlyPartitionZeroOffline(broker, reason: "lost")
            }
            // Never recreated as an empty partition (offsets from 0, group offsets gone).
            #expect(FileManager.default.fileExists(atPath: file) == (how == "truncated"))
            #expect(FileSystemSize.of(file) == 0)
        }
    }

    @Test func aCorruptHeaderTakesOnlyThatPartitionOffline() async throws {
        try await withTemporaryFolder { directory in
            try await prepare(directory)
            try overwrite(partitionFile(directory, 0), at: 0, count: 100)
            // The broker starts (it used to stop with "file is not a database").
            try await withTestBroker(on: directory) { broker in
                try expectOnlyPartitionZeroOffline(broker, reason: "damaged")
            }
        }
    }

    @Test func aGarbagePageMidFileTakesThePartitionOfflineWhenRead() async throws {
        try await withTemporaryFolder { directory in
            try await prepare(directory, records: 3, valueBytes: 8)
            // Partition 0 gets many pages of records; then one in the middle becomes garbage.
            try await withTestBroker(on: directory) { broker in
                let socket = try broker.socket()
                let value = String(repeating: "p", count: 3000)
                for _ in 0..<60 { #expect(try socket.ask("PUB t partition=0 :\(value)").hasPrefix("OK t 0")) }
            }
            let file = partitionFile(directory, 0)
            let pages = FileSystemSize.of(file) / 4096
            #expect(pages > 20)
            try overwrite(file, at: (pages / 2) * 4096, count: 4096)
            try await withTestBroker(on: directory) { broker in
                let socket = try broker.socket()
                var lines: [String] = []
                try socket.send("FETCH t 0 0 max=10000\n")
                while true {
                    let line = try socket.readLine()
                    if line.hasPrefix("ERR ") || line.hasPrefix("END ") {
                        lines.append(line)
                        break
                    }
                }
                #expect(lines.last?.hasPrefix("ERR PARTITION_OFFLINE") == true, "\(lines)")
                #expect(lines.last?.contains(directory) == false)
                #expect(try socket.ask("PUB t partition=0 :x").hasPrefix("ERR PARTITION_OFFLINE"))
                #expect(try socket.ask("PUB t partition=1 :x") == "OK t 1 3")
                let describe = try socket.askBlock("DESCRIBE t")
                #expect(describe.contains { $0.hasPrefix("PARTITION t 0 offline=damaged ") }, "\(describe)")
            }
        }
    }

    @Test func storageErrorsNameTheTopicAndPartitionNotThePath() async throws {
        try await withTemporaryFolder { directory in
            try await withTestBroker(on: directory) { broker in
                let socket = try broker.socket()
                #expect(try socket.ask("CREATE gone").hasPrefix("OK"))
                #expect(try socket.ask("PUB gone :x") == "OK gone 0 0")
                // No reader is open yet; without its file the first one cannot open.
                try FileManager.default.removeItem(atPath: directory + "/topics/gone/0.sqlite3")
                let reply = try socket.ask("FETCH gone 0 0")
                #expect(reply.hasPrefix("ERR STORAGE "), "\(reply)")
                #expect(reply.contains("partition 0 of gone"), "\(reply)")
                #expect(!reply.contains("/"), "no path for clients: \(reply)")
            }
        }
    }

    private func overwrite(_ path: String, at offset: Int, count: Int) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: count))
        try handle.synchronize()
    }
}

enum FileSystemSize {
    static func of(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}
