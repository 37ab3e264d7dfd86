import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolStorage
import Synchronization
import Testing

/// Replicated topics over three real spoold processes on 127.0.0.1 (docs/cluster.md): CREATE
/// through any broker, writes forwarded to the leader, reads from every replica, the replicas'
/// SQLite files row for row, and SIGKILL of leaders under acks=all producers.
@Suite("Replicated topics", .timeLimit(.minutes(3)))
struct ReplicatedTopicTests {
    @Test("CREATE through a follower places 3 replicas; PUB through any broker reaches the leader; every broker reads it; DROP removes the files everywhere")
    func createPublishReadDrop() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            try await ReplicatedCluster.waitUntilConnected(cluster)
            let socket = try RawSocket(port: cluster.port(2))
            #expect(try socket.ask("CREATE orders partitions=3 replication=3") == "OK orders partitions=3 replication=3")
            #expect(try socket.ask("CREATE orders partitions=3 replication=3").hasPrefix("ERR TOPIC_EXISTS "))
            #expect(try socket.ask("CREATE wide partitions=1 replication=4").hasPrefix("ERR BAD_ARGUMENT "))

            // Every broker gives the same TOPICS and DESCRIBE heading at once (the placement is
            // applied everywhere before CREATE answers on the broker that asked).
            for id in 1...3 {
                try await eventually(timeout: .seconds(10), "node \(id) lists orders") {
                    let other = try RawSocket(port: cluster.port(id))
                    return try other.askBlock("TOPICS") == ["TOPIC orders partitions=3", "END TOPICS 1"]
                }
            }
            let leaders = try await ReplicatedCluster.waitForLeaders(cluster, topic: "orders", partitions: 3)
            // The placement spreads preferred leaders: each broker is first in one partition's replicas.
            let lines = try metadata(port: cluster.port(1), topic: "orders").filter { $0.hasPrefix("PARTITION") }
            let firsts = Set(lines.compactMap { $0.split(separator: " ").first { $0.hasPrefix("replicas=") }?.dropFirst(9).split(separator: ",").first })
            #expect(firsts.count == 3, "\(lines)")

            // Keyed records through every broker, acks=all: each lands at the next offset of its partition.
            var acked: [(partition: Int, offset: Int64, value: String)] = []
            for n in 0..<30 {
                let through = try RawSocket(port: cluster.port(n % 3 + 1))
                let reply = try through.ask("PUB orders key=k\(n % 7) acks=all :v\(n)")
                let words = reply.split(separator: " ")
                let parsed = try #require(words.count == 4 && words[0] == "OK" ? (Int(words[2]), Int64(words[3])) : nil, "\(reply)")
                acked.append((try #require(parsed.0), try #require(parsed.1), "v\(n)"))
            }
            let perPartition = Dictionary(grouping: acked, by: \.partition)
            for (partition, records) in perPartition {
                #expect(records.map(\.offset) == Array(0..<Int64(records.count)), "partition \(partition) offsets in order, no gaps")
            }
            // Each broker's own replica serves every committed record.
            for id in 1...3 {
                try await eventually(timeout: .seconds(10), "node \(id) serves every record") {
                    let stored = try await CrashWorkload.storedRecords(port: cluster.port(id), topic: "orders", partitions: 3)
                    return CrashWorkload.missing(acked.map { .init(partition: $0.partition, offset: $0.offset, value: $0.value) }, from: stored) == 0
                }
            }
            // The files agree row for row.
            try ReplicatedCluster.expectReplicasAgree(cluster, topic: "orders", partitions: 3, records: acked.count)
            // STATS counts what a broker sent on to leaders elsewhere.
            let stats = try RawSocket(port: cluster.port(1)).askBlock("STATS")
            let forwarded = stats.first { $0.hasPrefix("STAT records_forwarded_total ") }
            let leadsAll = leaders.values.allSatisfy { $0 == 1 }
            #expect(leadsAll || forwarded != "STAT records_forwarded_total 0", "\(stats)")

            // VERIFY on any broker compares the three replicas of each partition.
            let verified = try RawSocket(port: cluster.port(3)).askBlock("VERIFY orders")
            #expect(verified.count == 4 && verified.last == "END VERIFY orders 3", "\(verified)")
            for line in verified.dropLast() {
                #expect(line.hasSuffix(" agree") && line.contains(" replicas=") && line.split(separator: ",").count == 3, "\(line)")
            }
            // A value changed behind the broker's back in one replica's file is named.
            #expect(cluster.terminate(1) == 0)
            let writer = try SQLiteConnection(path: "\(cluster.folders[0])/topics/orders/0.sqlite3", mode: .readWrite)
            try writer.execute("UPDATE records SET value = CAST('tampered' AS BLOB) WHERE offset = 0")
            writer.close()
            try cluster.start(1)
            try await ReplicatedCluster.waitUntilConnected(cluster)
            try await eventually(timeout: .seconds(15), "VERIFY to name node 1's copy of partition 0") {
                let line = try RawSocket(port: cluster.port(2)).askBlock("VERIFY orders 0").first ?? ""
                return line.hasPrefix("PARTITION orders 0 from=0 upto=\(perPartition[0]?.count ?? 0) ") && line.hasSuffix(" differ=1")
            }

            #expect(try RawSocket(port: cluster.port(3)).ask("DROP orders") == "OK dropped orders")
            for id in 1...3 {
                try await eventually(timeout: .seconds(10), "node \(id) removed the topic and its files") {
                    let other = try RawSocket(port: cluster.port(id))
                    let folder = (cluster.folders[id - 1] as NSString).appendingPathComponent("topics/orders")
                    return try other.askBlock("TOPICS") == ["END TOPICS 0"] && !FileManager.default.fileExists(atPath: folder)
                }
            }
        }
    }

    @Test("4 producers at acks=all through every broker while partition leaders are SIGKILLed and restarted, 3 rounds: every acknowledged record is at its offset on all three replicas")
    func leaderKillsLoseNothing() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(1)).ask("CREATE events partitions=2 replication=3") == "OK events partitions=2 replication=3")
            _ = try await ReplicatedCluster.waitForLeaders(cluster, topic: "events", partitions: 2)

            let ports = ReplicatedCluster.Ports((1...3).map { cluster.port($0) })
            let producers = ReplicatedCluster.Producers(topic: "events", partitions: 2, ports: ports)
            let acked = producers.acked
            defer { producers.cancel() }

            for round in 0..<3 {
                let before = acked.withLock { $0.count }
                try await eventually(timeout: .seconds(30), "round \(round): acknowledged writes") { acked.withLock { $0.count } >= before + 200 }
                let leaders = try await ReplicatedCluster.waitForLeaders(cluster, topic: "events", partitions: 2)
                let victim = try #require(leaders[round % 2])
                ports.withLock { $0[victim - 1] = 0 }
                cluster.kill(victim)
                let survivor = victim % 3 + 1
                try await eventually(timeout: .seconds(15), "round \(round): a new leader of partition \(round % 2)") {
                    let leaders = try ReplicatedCluster.leaders(port: cluster.port(survivor), topic: "events")
                    return leaders[round % 2].map { $0 != victim } ?? false
                }
                let during = acked.withLock { $0.count }
                try await eventually(timeout: .seconds(30), "round \(round): writes go on without node \(victim)") {
                    acked.withLock { $0.count } >= during + 200
                }
                try cluster.start(victim)
                ports.withLock { $0[victim - 1] = cluster.port(victim) }
                try await ReplicatedCluster.waitUntilConnected(cluster)
            }
            await producers.stop()
            let records = acked.withLock { $0 }
            #expect(records.count >= 1_200)

            try await ReplicatedCluster.expectEveryReplicaHolds(records, cluster, topic: "events", partitions: 2)
        }
    }

    @Test("SIGSTOP of a leader for longer than the election timeout: the others elect a new leader and take writes; after SIGCONT the old leader steps down, drops what was not committed and agrees row for row")
    func pausedLeaderStepsDownAndRepairs() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(2)).ask("CREATE paused partitions=2 replication=3") == "OK paused partitions=2 replication=3")
            let leaders = try await ReplicatedCluster.waitForLeaders(cluster, topic: "paused", partitions: 2)
            let ports = ReplicatedCluster.Ports((1...3).map { cluster.port($0) })
            let producers = ReplicatedCluster.Producers(topic: "paused", partitions: 2, ports: ports)
            defer { producers.cancel() }
            try await eventually(timeout: .seconds(30), "writes before the pause") { producers.acked.withLock { $0.count } >= 300 }

            let victim = try #require(leaders[0])
            let survivor = victim % 3 + 1
            ports.withLock { $0[victim - 1] = 0 }
            cluster.pause(victim)
            try await eventually(timeout: .seconds(15), "a new leader of partition 0 while node \(victim) is stopped") {
                let seen = try ReplicatedCluster.leaders(port: cluster.port(survivor), topic: "paused")
                return seen[0].map { $0 != victim } ?? false
            }
            let during = producers.acked.withLock { $0.count }
            try await eventually(timeout: .seconds(30), "writes while node \(victim) is stopped") {
                producers.acked.withLock { $0.count } >= during + 300
            }
            cluster.resume(victim)
            ports.withLock { $0[victim - 1] = cluster.port(victim) }
            // Back, it hears of the new term: every broker, the old leader too, names the new one.
            let after = try await ReplicatedCluster.waitForLeaders(cluster, topic: "paused", partitions: 2)
            #expect(after[0] != victim)
            let resumed = producers.acked.withLock { $0.count }
            try await eventually(timeout: .seconds(30), "writes after SIGCONT") { producers.acked.withLock { $0.count } >= resumed + 200 }
            await producers.stop()

            let records = producers.acked.withLock { $0 }
            try await ReplicatedCluster.expectEveryReplicaHolds(records, cluster, topic: "paused", partitions: 2)
        }
    }

    @Test("an idle cluster goes quiet (every replica quiesced, STATS says so); a SIGSTOPped broker's quiet partitions still get new leaders and take acks=all writes; after SIGCONT all goes quiet again")
    func quietPartitionsFailOver() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(1)).ask("CREATE quiet partitions=6 replication=3") == "OK quiet partitions=6 replication=3")
            let leaders = try await ReplicatedCluster.waitForLeaders(cluster, topic: "quiet", partitions: 6)
            for partition in 0..<6 {
                #expect(try RawSocket(port: cluster.port(2)).ask("PUB quiet partition=\(partition) :before") == "OK quiet \(partition) 0")
            }
            // 6 partitions and the metadata group on each broker, all quiet.
            try await ReplicatedCluster.waitQuiet(cluster, replicas: 7, brokers: [1, 2, 3])

            let victim = try #require(leaders.values.first)
            let survivor = victim % 3 + 1
            cluster.pause(victim)
            try await eventually(timeout: .seconds(15), "new leaders for node \(victim)'s partitions while it is stopped") {
                let seen = try ReplicatedCluster.leaders(port: cluster.port(survivor), topic: "quiet")
                return seen.count == 6 && !seen.values.contains(victim)
            }
            for partition in 0..<6 {
                #expect(try RawSocket(port: cluster.port(survivor)).ask("PUB quiet partition=\(partition) acks=all :during") == "OK quiet \(partition) 1")
            }
            cluster.resume(victim)
            _ = try await ReplicatedCluster.waitForLeaders(cluster, topic: "quiet", partitions: 6)
            try await ReplicatedCluster.waitQuiet(cluster, replicas: 7, brokers: [1, 2, 3])
            try ReplicatedCluster.expectReplicasAgree(cluster, topic: "quiet", partitions: 6, records: 12)
        }
    }

    @Test("a follower that was down while 100,000 records were written catches up from the leader, row for row")
    func followerCatchesUp() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(1)).ask("CREATE backlog partitions=1 replication=3") == "OK backlog partitions=1 replication=3")
            let leaders = try await ReplicatedCluster.waitForLeaders(cluster, topic: "backlog", partitions: 1)
            let leader = try #require(leaders[0])
            let follower = leader % 3 + 1
            cluster.kill(follower)

            // Written at acks=all: the leader and the one follower left are a majority.
            let client = try await SpoolClient.connect(port: cluster.port(leader))
            var written = 0
            while written < 100_000 {
                let batch = (0..<1_000).map { index in
                    OutgoingRecord(topic: "backlog", key: nil, value: ByteBuffer(string: "r\(written + index)"), partition: 0, acks: .all)
                }
                let acks = try await client.publish(batch: batch)
                #expect(acks.last?.offset == Int64(written + 999))
                written += batch.count
            }
            await client.close()

            try cluster.start(follower)
            try await eventually(timeout: .seconds(60), "node \(follower) to hold all 100,000 records") {
                (try? ReplicatedCluster.rows(folder: cluster.folders[follower - 1], topic: "backlog", partition: 0).count) == 100_000
            }
            try ReplicatedCluster.expectReplicasAgree(cluster, topic: "backlog", partitions: 1, records: 100_000)
            let rows = try ReplicatedCluster.rows(folder: cluster.folders[follower - 1], topic: "backlog", partition: 0)
            #expect(rows.first?.1 == "r0" && rows.last?.1 == "r99999")
        }
    }

    @Test("through a broker that holds no replica or does not lead: PUB, FETCH, OFFSETS, DESCRIBE, TOPICS, METADATA and SUB answer what the leader answers; a group member joins and commits there")
    func everyBrokerAnswersTheSame() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            try await ReplicatedCluster.waitUntilConnected(cluster)
            // replication=2 of 3 brokers: every broker lacks a replica of some partition.
            #expect(try RawSocket(port: cluster.port(3)).ask("CREATE spread partitions=3 replication=2") == "OK spread partitions=3 replication=2")
            _ = try await ReplicatedCluster.waitForLeaders(cluster, topic: "spread", partitions: 3)
            var expected: [Int: Int64] = [:]
            for id in 1...3 {
                let socket = try RawSocket(port: cluster.port(id))
                for partition in 0..<3 {
                    let offset = expected[partition, default: 0]
                    #expect(try socket.ask("PUB spread partition=\(partition) key=k\(id) acks=all :from-\(id)") == "OK spread \(partition) \(offset)")
                    expected[partition] = offset + 1
                }
                #expect(try socket.ask("PUB spread partition=3 :x") == "ERR UNKNOWN_PARTITION topic spread has partitions 0...2, not 3")
            }
            // Reads give the same bytes everywhere (DESCRIBE's bytes= is each file's own size).
            let reads =
                (0..<3).flatMap { ["FETCH spread \($0) 0", "FETCH spread \($0) earliest max=1", "OFFSETS spread \($0)"] }
                + ["DESCRIBE spread", "TOPICS", "METADATA spread", "FETCH spread 7 0", "OFFSETS nothing 0"]
            func replies(_ id: Int) throws -> [[String]] {
                let socket = try RawSocket(port: cluster.port(id))
                return try reads.map { command in
                    let lines: [String]
                    if command.hasPrefix("FETCH spread 7") || command.hasPrefix("OFFSETS") {
                        lines = [try socket.ask(command)]
                    } else if command.hasPrefix("FETCH") {
                        lines = try socket.askBlock(command, until: "END spread")
                    } else {
                        lines = try socket.askBlock(command)
                    }
                    return lines.map { $0.replacing(#/ bytes=[0-9]+/#, with: "") }
                }
            }
            try await eventually(timeout: .seconds(10), "every broker to answer every read the same") {
                let all = try (1...3).map(replies)
                return all[1] == all[0] && all[2] == all[0]
            }
            let sample = try replies(1)
            #expect(sample[0].count == 7 && sample[0].last == "END spread 0 next=3 high=3", "\(sample[0])")
            #expect(sample[2] == ["OK spread 0 earliest=0 latest=3"])

            // SUB through every broker pushes every partition's records, those held elsewhere
            // read from a replica; from=latest starts where each partition ends at the OK.
            func pushed(_ socket: RawSocket, _ count: Int) throws -> [String] {
                var records: [String] = []
                while records.count < count {
                    let line = try socket.readLine()
                    guard line.hasPrefix("MSG spread ") else { continue }
                    let fields = line.split(separator: " ")
                    records.append("\(fields[2])/\(fields[3])=\(try socket.readLine())")
                }
                return records.sorted()
            }
            let all = (0..<3).flatMap { partition in (1...3).map { id in "\(partition)/\(id - 1)=from-\(id)" } }.sorted()
            var latest: [RawSocket] = []
            for id in 1...3 {
                let earliest = try RawSocket(port: cluster.port(id))
                #expect(try earliest.ask("SUB spread from=earliest") == "OK subscribed spread partitions=3 from=earliest")
                #expect(try pushed(earliest, 9) == all, "SUB through node \(id)")
                let tail = try RawSocket(port: cluster.port(id))
                #expect(try tail.ask("SUB spread") == "OK subscribed spread partitions=3 from=latest")
                latest.append(tail)
            }
            let writer = try RawSocket(port: cluster.port(1))
            for partition in 0..<3 { #expect(try writer.ask("PUB spread partition=\(partition) acks=all :live") == "OK spread \(partition) 3") }
            for (index, tail) in latest.enumerated() {
                #expect(try pushed(tail, 3) == ["0/3=live", "1/3=live", "2/3=live"], "SUB from=latest through node \(index + 1)")
            }

            // A group member on any broker: it gets every partition, and its commit is stored by
            // each partition's leader and read back the same through every broker.
            let member = try RawSocket(port: cluster.port(2))
            #expect(try member.ask("SUB spread group=g from=earliest commit=manual").hasPrefix("OK subscribed spread group=g member="))
            #expect(try member.readLine().hasPrefix("ASSIGNED spread 0,1,2 group=g generation="))
            #expect(try pushed(member, 12).count == 12)
            for partition in 0..<3 { #expect(try member.ask("COMMIT spread \(partition) 4") == "OK committed spread \(partition) 4") }
            for id in 1...3 {
                let lines = try RawSocket(port: cluster.port(id)).askBlock("GROUP g")
                #expect(lines.filter { $0.hasPrefix("LAG ") }.map { $0.split(separator: " ").first { $0.hasPrefix("committed=") } } == Array(repeating: "committed=4", count: 3), "GROUP g through node \(id)")
            }
        }
    }

    @Test("SIGTERM of a leader hands its leaderships to caught-up followers before it stops, and the partitions keep taking writes")
    func gracefulStopHandsOverLeadership() async throws {
        try await withLocalCluster(size: 3) { cluster in
            let logs = cluster.folders.map { "\($0)/spoold.log" }
            for id in 1...3 { try cluster.start(id, extra: ["--log-level", "info"], logFile: logs[id - 1]) }
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(1)).ask("CREATE rolling partitions=3 replication=3") == "OK rolling partitions=3 replication=3")
            let leaders = try await ReplicatedCluster.waitForLeaders(cluster, topic: "rolling", partitions: 3)
            let victim = try #require(leaders[0])
            let led = leaders.filter { $0.value == victim }.map(\.key)
            #expect(cluster.terminate(victim) == 0)
            let log = try String(contentsOfFile: logs[victim - 1], encoding: .utf8)
            let line = try #require(log.split(separator: "\n").first { $0.contains("handed leadership to caught-up followers before stopping") })
            let asked = try #require(line.firstMatch(of: #/groups.asked=(\d+)/#)?.1).description
            let moved = try #require(line.firstMatch(of: #/groups.moved=(\d+)/#)?.1).description
            #expect(Int(asked)! >= led.count && moved == asked, "\(line)")
            let survivor = victim % 3 + 1
            for partition in led {
                try await eventually(timeout: .seconds(10), "partition \(partition) led by a survivor") {
                    let seen = try ReplicatedCluster.leaders(port: cluster.port(survivor), topic: "rolling")
                    return seen[partition].map { $0 != victim } ?? false
                }
                #expect(try RawSocket(port: cluster.port(survivor)).ask("PUB rolling partition=\(partition) acks=all :after") == "OK rolling \(partition) 0")
            }
        }
    }

    @Test("a majority of brokers cut at once (SIGKILL on the power-loss VFS: only what was fsynced survives) keeps every acks=all record")
    func majorityPowerCutKeepsAcknowledgedRecords() async throws {
        try await withLocalCluster(size: 3) { cluster in
            let environment = CrashKind.powerLoss.environment
            for id in 1...3 { try cluster.start(id, environment: environment) }
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(3)).ask("CREATE cut partitions=2 replication=3") == "OK cut partitions=2 replication=3")
            _ = try await ReplicatedCluster.waitForLeaders(cluster, topic: "cut", partitions: 2)
            let ports = ReplicatedCluster.Ports((1...3).map { cluster.port($0) })
            let producers = ReplicatedCluster.Producers(topic: "cut", partitions: 2, ports: ports)
            defer { producers.cancel() }
            try await eventually(timeout: .seconds(30), "acknowledged writes before the cut") { producers.acked.withLock { $0.count } >= 1_500 }
            // Nodes 1 and 2 lose power together: whatever they had not fsynced is gone.
            ports.withLock { $0 = [0, 0, cluster.port(3)] }
            cluster.kill(1)
            cluster.kill(2)
            await producers.stop()
            let records = producers.acked.withLock { $0 }

            for id in 1...2 { try cluster.start(id, environment: environment) }
            try await ReplicatedCluster.waitUntilConnected(cluster)
            _ = try await ReplicatedCluster.waitForLeaders(cluster, topic: "cut", partitions: 2)
            try await ReplicatedCluster.expectEveryReplicaHolds(records, cluster, topic: "cut", partitions: 2)
        }
    }

    @Test("a record the leader holds but no majority does is never delivered: FETCH, SUB and OFFSETS on the leader stop at the commit index until the followers are back")
    func consumersNeverSeeUncommittedRecords() async throws {
        try await withLocalCluster(size: 3) { cluster in
            try cluster.startAll()
            try await ReplicatedCluster.waitUntilConnected(cluster)
            #expect(try RawSocket(port: cluster.port(1)).ask("CREATE visible partitions=1 replication=3") == "OK visible partitions=1 replication=3")
            let leader = try #require(try await ReplicatedCluster.waitForLeaders(cluster, topic: "visible", partitions: 1)[0])
            let producer = try RawSocket(port: cluster.port(leader), timeoutSeconds: 30)
            #expect(try producer.ask("PUB visible acks=all :committed") == "OK visible 0 0")
            let subscriber = try RawSocket(port: cluster.port(leader), timeoutSeconds: 30)
            #expect(try subscriber.ask("SUB visible from=earliest") == "OK subscribed visible partitions=1 from=earliest")
            #expect(try subscriber.readLine().hasPrefix("MSG visible 0 0 "))
            #expect(try subscriber.readLine() == "committed")

            // Both followers stop: the leader can write to its own file but commit nothing.
            let followers = (1...3).filter { $0 != leader }
            for id in followers { cluster.pause(id) }
            // acks=leader answers once the leader has it on disk; it is not committed.
            #expect(try producer.ask("PUB visible acks=leader :pending") == "OK visible 0 1")
            let reader = try RawSocket(port: cluster.port(leader))
            for _ in 0..<20 {
                let whole = try reader.askBlock("FETCH visible 0 0", until: "END visible")
                #expect(whole.count == 3 && whole[1] == "committed" && whole[2] == "END visible 0 next=1 high=1", "\(whole)")
                let fetched = try reader.askBlock("FETCH visible 0 1", until: "END visible")
                #expect(fetched == ["END visible 0 next=1 high=1"], "an uncommitted record was served: \(fetched)")
                #expect(try reader.ask("OFFSETS visible 0") == "OK visible 0 earliest=0 latest=1")
            }
            // Back: the pending record is committed, or dropped if a follower took over without
            // it. Either way the subscriber's next record is what offset 1 holds once committed: a
            // leader that delivered "pending" early would show here when "after" took its place.
            for id in followers { cluster.resume(id) }
            try await eventually(timeout: .seconds(15), "a record committed after SIGCONT") {
                (try? RawSocket(port: cluster.port(leader)).ask("PUB visible acks=all :after"))?.hasPrefix("OK visible 0 ") ?? false
            }
            var atOne: [String] = []
            try await eventually(timeout: .seconds(10), "offset 1 committed on the old leader") {
                atOne = try reader.askBlock("FETCH visible 0 1 max=1", until: "END visible")
                return atOne.count == 3
            }
            #expect(try subscriber.readLine() == atOne[0])
            #expect(try subscriber.readLine() == atOne[1])
            #expect(["pending", "after"].contains(atOne[1]))
        }
    }
}

/// What the replicated-topic tests ask of a running cluster.
enum ReplicatedCluster {
    /// The client ports producers may use now (0 for a broker that is down).
    final class Ports: Sendable {
        private let ports: Mutex<[Int]>
        init(_ ports: [Int]) { self.ports = Mutex(ports) }
        func withLock<R>(_ body: (inout [Int]) -> R) -> R { ports.withLock { body(&$0) } }
    }

    static func waitUntilConnected(_ cluster: LocalCluster) async throws {
        for id in 1...cluster.folders.count {
            try await eventually(timeout: .seconds(15), "node \(id) to see every broker up") {
                try metadataBrokers(port: cluster.port(id)).allSatisfy(\.up)
            }
        }
    }

    /// Four producers pipelining acks=all records (windows of 20, partitions in turn) through the
    /// brokers of `ports` in turn, moving to the next broker when theirs fails; every
    /// acknowledged record is noted. Values are `p<producer>-<n>`, unique.
    final class Producers: Sendable {
        let acked = CrashWorkload.AckLog()
        private let tasks: [Task<Void, Never>]

        init(topic: String, partitions: Int, ports: Ports) {
            let acked = self.acked
            tasks = (0..<4).map { producer in
                Task {
                    var sequence = 0
                    var attempt = producer
                    while !Task.isCancelled {
                        attempt += 1
                        let port = ports.withLock { $0[attempt % $0.count] }
                        guard port > 0, let client = try? await SpoolClient.connect(port: port) else {
                            try? await Task.sleep(for: .milliseconds(20))  // a retry's pause, not a wait on a condition
                            continue
                        }
                        while !Task.isCancelled {
                            let records = (0..<20).map { index in
                                OutgoingRecord(
                                    topic: topic, key: nil, value: ByteBuffer(string: "p\(producer)-\(sequence + index)"),
                                    partition: (sequence + index) % partitions, acks: .all)
                            }
                            sequence += 20
                            guard let results = try? await client.publishResults(batch: records) else { break }
                            for (record, result) in zip(records, results) {
                                guard case .success(let ack) = result, let offset = ack.offset else { continue }
                                acked.withLock { $0.append(.init(partition: ack.partition, offset: offset, value: String(buffer: record.value))) }
                            }
                            if results.contains(where: { if case .failure = $0 { true } else { false } }) { break }
                        }
                        await client.close()
                    }
                }
            }
        }

        func cancel() { for task in tasks { task.cancel() } }

        func stop() async {
            cancel()
            for task in tasks { _ = await task.value }
        }
    }

    /// Waits until each broker in `brokers` runs `replicas` replicas, every one quiesced (STATS).
    static func waitQuiet(_ cluster: LocalCluster, replicas: Int, brokers: [Int]) async throws {
        var last: [Int: [String]] = [:]
        do {
            try await eventually(timeout: .seconds(20), "\(replicas) replicas, all quiesced, on brokers \(brokers)") {
                try brokers.allSatisfy { id in
                    let stats = try RawSocket(port: cluster.port(id)).askBlock("STATS").filter { $0.hasPrefix("STAT replicas") }
                    last[id] = stats
                    return stats == ["STAT replicas \(replicas)", "STAT replicas_quiesced \(replicas)"]
                }
            }
        } catch {
            Issue.record("last STATS: \(last)")
            throw error
        }
    }

    /// Leader of each partition of `topic` as METADATA on `port` gives it (nil: none).
    static func leaders(port: Int, topic: String) throws -> [Int: Int] {
        var leaders: [Int: Int] = [:]
        for line in try metadata(port: port, topic: topic) where line.hasPrefix("PARTITION ") {
            let words = line.split(separator: " ")
            guard let partition = Int(words[2]), let leader = words.first(where: { $0.hasPrefix("leader=") }).flatMap({ Int($0.dropFirst(7)) })
            else { continue }
            leaders[partition] = leader
        }
        return leaders
    }

    /// Waits until every broker names the same leader for every partition, with all three in sync; returns them.
    static func waitForLeaders(_ cluster: LocalCluster, topic: String, partitions: Int) async throws -> [Int: Int] {
        var agreed: [Int: Int] = [:]
        try await eventually(timeout: .seconds(20), "every broker agrees on a leader for each partition of \(topic)") {
            let views = try (1...cluster.folders.count).map { try leaders(port: cluster.port($0), topic: topic) }
            guard views[0].count == partitions, views.allSatisfy({ $0 == views[0] }) else { return false }
            agreed = views[0]
            return true
        }
        return agreed
    }

    /// Waits until every replica's file holds the same number of records per partition; the total.
    static func waitForEqualHigh(_ cluster: LocalCluster, topic: String, partitions: Int) async throws -> Int {
        var total = 0
        try await eventually(timeout: .seconds(30), "every replica of \(topic) holds the same records") {
            let counts = try (1...cluster.folders.count).map { id in
                try (0..<partitions).map { try rows(folder: cluster.folders[id - 1], topic: topic, partition: $0).count }
            }
            guard counts.allSatisfy({ $0 == counts[0] }) else { return false }
            total = counts[0].reduce(0, +)
            return true
        }
        return total
    }

    /// The (offset, value) rows of one replica's file, read as an operator's sqlite3 would.
    static func rows(folder: String, topic: String, partition: Int) throws -> [(Int64, String)] {
        let path = "\(folder)/topics/\(topic)/\(partition).sqlite3"
        let connection = try SQLiteConnection(path: path, mode: .readOnly)
        let statement = try connection.prepare("SELECT offset, value FROM records ORDER BY offset")
        var rows: [(Int64, String)] = []
        while try statement.step() { rows.append((statement.columnInt64(0), statement.columnText(1) ?? "")) }
        return rows
    }

    /// Waits until every replica holds the same records, then checks each holds every one of
    /// `records` at its acknowledged offset (read through FETCH on each broker) and that the
    /// files agree row for row.
    static func expectEveryReplicaHolds(_ records: [CrashWorkload.Acked], _ cluster: LocalCluster, topic: String, partitions: Int) async throws {
        let total = try await waitForEqualHigh(cluster, topic: topic, partitions: partitions)
        for id in 1...cluster.folders.count {
            let stored = try await CrashWorkload.storedRecords(port: cluster.port(id), topic: topic, partitions: partitions)
            #expect(CrashWorkload.missing(records, from: stored) == 0, "node \(id) lost acknowledged records")
        }
        try expectReplicasAgree(cluster, topic: topic, partitions: partitions, records: total)
    }

    /// Every replica's file of each partition: the same rows, offsets 0..<n without gaps, and
    /// `PRAGMA integrity_check` ok; `records` rows in all.
    static func expectReplicasAgree(_ cluster: LocalCluster, topic: String, partitions: Int, records: Int) throws {
        var total = 0
        for partition in 0..<partitions {
            let replicas = try cluster.folders.map { try rows(folder: $0, topic: topic, partition: partition) }
            for (index, rows) in replicas.enumerated() {
                #expect(rows.map(\.0) == Array(0..<Int64(rows.count)), "node \(index + 1) partition \(partition): offsets 0..<n")
                #expect(rows.map(\.1) == replicas[0].map(\.1), "node \(index + 1) partition \(partition) agrees with node 1 row for row")
            }
            total += replicas[0].count
            for folder in cluster.folders {
                let connection = try SQLiteConnection(path: "\(folder)/topics/\(topic)/\(partition).sqlite3", mode: .readOnly)
                let check = try connection.prepare("PRAGMA integrity_check")
                #expect(try check.step() && check.columnText(0) == "ok", "\(folder) partition \(partition)")
            }
        }
        #expect(total == records)
    }
}
