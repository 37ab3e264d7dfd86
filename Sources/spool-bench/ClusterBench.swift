import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import SpoolClient
import SpoolCore

/// `spool-bench cluster --spawn PATH`: a single broker and a three-broker cluster of the same
/// binary on this machine, measured in one run (issue 10 item 11; docs/performance.md):
/// replication=3 acks=all produce as a ratio to single-node acks=leader, the time from SIGKILL of
/// a leader to the first OK from its successor, a follower's catch-up rate, and a broker's idle
/// CPU while it holds many partition replicas.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Three local brokers: replicated produce, failover time, catch-up, idle CPU.")

    @Option(help: "The spoold binary (release build).")
    var spawn: String
    @Option(help: "Parent folder for the brokers' data (use the disk you want measured).")
    var scratchDir: String?
    @OptionGroup var produce: ProduceOptions
    @Option(help: "Leader kills for the failover measurement.")
    var kills = 20
    @Option(help: "Records the follower misses before it catches up.")
    var catchUpRecords = 300_000
    @Option(help: "Partitions of the idle-CPU topic (replication=3: each broker holds a replica of each).")
    var idlePartitions = 1_000
    @Option(help: "Seconds of idle CPU sampled.")
    var idleSeconds = 10

    func run() async throws {
        let parent = scratchDir ?? TargetOptions.defaultParent
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var settings = produce.settings
        settings.partitions = 1

        // 1. The single broker, acks=leader: the figure replication is compared with.
        let single = try BrokerUnderTest(spawning: spawn, parent: parent, extraArguments: [])
        var singleResult: PhaseResult
        do {
            var leaderSettings = settings
            leaderSettings.acks = "leader"
            let before = try LocalBenchCluster.cpuSeconds(pid: single.pid!)
            singleResult = try await Workloads(broker: single, group: group, phaseTimeout: .seconds(600)).produce(leaderSettings, name: "single-acks-leader")
            let used = try LocalBenchCluster.cpuSeconds(pid: single.pid!) - before
            print(String(format: "single broker CPU: %.2f s for %d records (%.2f µs/record)", used, singleResult.records, used / Double(singleResult.records) * 1e6))
        } catch {
            single.stop()
            throw error
        }
        single.stop()
        print(singleResult.text)

        let cluster = try LocalBenchCluster(binary: spawn, parent: parent)
        defer { cluster.stop() }
        try await cluster.waitUntilConnected(group: group)

        // 2. replication=3, acks=all, the producers connected to the partition's leader.
        var allSettings = settings
        allSettings.acks = "all"
        let topic = try await cluster.workloads(1, group).createTopic("replicated", partitions: 1)
        let leader = try await cluster.leader(of: topic, asking: 1, group: group)
        let cpuBefore = try (1...3).map { try cluster.cpuSeconds(of: $0) }
        let replicated = try await cluster.workloads(leader, group).produce(into: topic, allSettings, name: "replicated-acks-all")
        let cpuUsed = try (1...3).map { try cluster.cpuSeconds(of: $0) - cpuBefore[$0 - 1] }
        print(replicated.text)
        // Three brokers and the generator share this machine's cores: their CPU bounds the ratio.
        print(
            String(
                format: "cluster CPU: leader n%d %.2f s, others %@ s; %.2f µs/record over all three",
                leader, cpuUsed[leader - 1], cpuUsed.enumerated().filter { $0.offset != leader - 1 }.map { String(format: "%.2f", $0.element) }.joined(separator: ", "),
                cpuUsed.reduce(0, +) / Double(replicated.records) * 1e6))
        let ratio = replicated.recordsPerSecond / singleResult.recordsPerSecond
        print(String(format: "replication=3 acks=all / single acks=leader: %.2fx", ratio))

        // 3. SIGKILL of the leader to the first OK of a PUB sent (through a survivor) after it.
        let failoverTopic = try await cluster.workloads(1, group).createTopic("failover", partitions: 1)
        var failovers: [Double] = []
        for round in 0..<kills {
            let survivorAsked = (round % 3) + 1
            let victim = try await cluster.leader(of: failoverTopic, asking: survivorAsked, group: group)
            let survivor = victim % 3 + 1
            let client = try await SpoolClient.connect(host: "127.0.0.1", port: cluster.port(survivor), group: group)
            _ = try await client.publish(topic: failoverTopic, value: "before", partition: 0, acks: .all)
            cluster.kill(victim)
            let killed = WallClock.monotonicNs()
            var elapsed: Double?
            while elapsed == nil && WallClock.monotonicNs() - killed < 30_000_000_000 {
                if (try? await client.publish(topic: failoverTopic, value: "after", partition: 0, acks: .all)) != nil {
                    elapsed = Double(WallClock.monotonicNs() - killed) / 1e9
                } else {
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            await client.close()
            guard let elapsed else { throw BrokerUnderTest.Failure(description: "no new leader within 30 s of killing node \(victim)") }
            failovers.append(elapsed)
            try cluster.restart(victim)
            try await cluster.waitForFullISR(failoverTopic, asking: survivor, group: group)
            print(String(format: "failover %d: node %d killed, first OK after %.3f s", round + 1, victim, elapsed))
        }
        let sorted = failovers.sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        print(String(format: "failover over %d kills: median %.3f s, max %.3f s", sorted.count, median, sorted.last ?? 0))

        // 4. A follower that missed catchUpRecords records catches up.
        let catchTopic = try await cluster.workloads(1, group).createTopic("catchup", partitions: 1)
        let catchLeader = try await cluster.leader(of: catchTopic, asking: 1, group: group)
        let follower = catchLeader % 3 + 1
        cluster.kill(follower)
        var missed = settings
        missed.records = catchUpRecords
        missed.acks = "all"
        _ = try await cluster.workloads(catchLeader, group).produce(into: catchTopic, missed, name: "missed")
        let restarted = WallClock.monotonicNs()
        try cluster.restart(follower)
        let listening = WallClock.monotonicNs()
        let client = try await SpoolClient.connect(host: "127.0.0.1", port: cluster.port(follower), group: group)
        while true {
            if let offsets = try? await client.offsets(topic: catchTopic, partition: 0), offsets.latest >= Int64(catchUpRecords) { break }
            guard WallClock.monotonicNs() - restarted < 300_000_000_000 else { throw BrokerUnderTest.Failure(description: "no catch-up in 300 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
        await client.close()
        let caughtUp = WallClock.monotonicNs()
        let catchSeconds = Double(caughtUp - listening) / 1e9
        print(
            String(
                format: "catch-up: %d records in %.2f s after the follower listened (%.0f records/s; %.2f s including its start)",
                catchUpRecords, catchSeconds, Double(catchUpRecords) / catchSeconds, Double(caughtUp - restarted) / 1e9))

        // 5. Idle CPU of a broker holding idlePartitions replicas.
        let idleClient = try await SpoolClient.connect(host: "127.0.0.1", port: cluster.port(1), group: group)
        _ = try await idleClient.send(line: "CREATE bench-idle partitions=\(idlePartitions) replication=3")
        // Warm-up: until every replica on broker 1 is quiet (STATS), at most 60 s.
        let settleStart = WallClock.monotonicNs()
        var quiet: (Int64, Int64) = (0, 0)
        while WallClock.monotonicNs() - settleStart < 60_000_000_000 {
            let stats = try await idleClient.stats()
            quiet = (stats["replicas_quiesced"] ?? 0, stats["replicas"] ?? 0)
            if quiet.1 > Int64(idlePartitions) && quiet.0 == quiet.1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        print(String(format: "idle topic settled in %.2f s: %lld of %lld replicas on broker 1 quiesced", Double(WallClock.monotonicNs() - settleStart) / 1e9, quiet.0, quiet.1))
        // Two windows: the first still holds the new files' after-effects (WAL checkpoints of
        // the first writes), the second is the steady idle cost.
        let firstWindow = try cluster.cpuPercent(of: 1, seconds: idleSeconds)
        let cpu = try cluster.cpuPercent(of: 1, seconds: idleSeconds)
        let after = try await idleClient.stats()
        await idleClient.close()
        print(
            String(
                format: "idle CPU of a broker holding %d partition replicas: %.2f %% of one core (first %d s after settling: %.2f %%; %lld of %lld quiesced after)",
                idlePartitions, cpu, idleSeconds, firstWindow, after["replicas_quiesced"] ?? 0, after["replicas"] ?? 0))

        printJSONLine([
            "bench": AnyEncodable("cluster"),
            "single": AnyEncodable(singleResult), "replicated": AnyEncodable(replicated), "ratio": AnyEncodable(ratio),
            "failover_seconds": AnyEncodable(failovers), "failover_median_s": AnyEncodable(median), "failover_max_s": AnyEncodable(sorted.last ?? 0),
            "catch_up_records_per_s": AnyEncodable(Double(catchUpRecords) / catchSeconds), "idle_cpu_percent": AnyEncodable(cpu),
            "idle_partitions": AnyEncodable(idlePartitions),
        ])
        try await group.shutdownGracefully()
    }
}

/// Three spawned brokers forming one cluster on 127.0.0.1, each with its own folder under one
/// scratch folder (removed by `stop`).
final class LocalBenchCluster: @unchecked Sendable {  // driven by one task
    let binary: String
    let directory: String
    let peerPorts: [Int]
    private var brokers: [BrokerUnderTest?]

    init(binary: String, parent: String) throws {
        self.binary = binary
        directory = parent + "/spool-bench-cluster-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        peerPorts = try (0..<3).map { _ in try Self.freePort() }
        brokers = [nil, nil, nil]
        for id in 1...3 {
            try FileManager.default.createDirectory(atPath: "\(directory)/n\(id)", withIntermediateDirectories: true)
            try restart(id)
        }
    }

    var peers: String { peerPorts.enumerated().map { "\($0.offset + 1)=127.0.0.1:\($0.element)" }.joined(separator: ",") }

    func restart(_ id: Int) throws {
        brokers[id - 1] = try BrokerUnderTest(
            spawning: binary, dataDirectory: "\(directory)/n\(id)", listen: "127.0.0.1:0",
            extraArguments: ["--node-id", "\(id)", "--peer-listen", "127.0.0.1:\(peerPorts[id - 1])", "--peers", peers])
    }

    func kill(_ id: Int) {
        brokers[id - 1]?.kill()
        brokers[id - 1] = nil
    }

    func port(_ id: Int) -> Int { brokers[id - 1]?.port ?? 0 }

    func workloads(_ id: Int, _ group: EventLoopGroup) -> Workloads {
        Workloads(broker: brokers[id - 1]!, group: group, phaseTimeout: .seconds(600))
    }

    func stop() {
        for broker in brokers { broker?.stop() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func metadata(asking id: Int, topic: String?, group: EventLoopGroup) async throws -> [String] {
        let client = try await SpoolClient.connect(host: "127.0.0.1", port: port(id), group: group)
        let lines = try? await client.send(line: topic.map { "METADATA \($0)" } ?? "METADATA", expectingBlock: true)
        await client.close()
        guard let lines else { throw BrokerUnderTest.Failure(description: "METADATA on node \(id) failed") }
        return lines
    }

    func waitUntilConnected(group: EventLoopGroup) async throws {
        for id in 1...3 {
            try await poll("node \(id) to see every broker up") {
                let lines = try await metadata(asking: id, topic: nil, group: group)
                return lines.filter { $0.hasPrefix("BROKER ") && $0.hasSuffix(" up") }.count == 3
            }
        }
    }

    /// The leader of partition 0 of `topic`, as node `id` sees it (waits for one).
    func leader(of topic: String, asking id: Int, group: EventLoopGroup) async throws -> Int {
        var leader = 0
        try await poll("a leader of \(topic)") {
            let line = try await metadata(asking: id, topic: topic, group: group).first { $0.hasPrefix("PARTITION ") } ?? ""
            leader = line.split(separator: " ").first { $0.hasPrefix("leader=") }.flatMap { Int($0.dropFirst(7)) } ?? 0
            return leader > 0
        }
        return leader
    }

    func waitForFullISR(_ topic: String, asking id: Int, group: EventLoopGroup) async throws {
        try await poll("every replica of \(topic) in sync") {
            let line = try await metadata(asking: id, topic: topic, group: group).first { $0.hasPrefix("PARTITION ") } ?? ""
            let isr = line.split(separator: " ").first { $0.hasPrefix("isr=") }?.dropFirst(4).split(separator: ",") ?? []
            return isr.count == 3
        }
    }

    /// User+system CPU of node `id` over `seconds`, in % of one core.
    func cpuPercent(of id: Int, seconds: Int) throws -> Double {
        let before = try cpuSeconds(of: id)
        let start = WallClock.monotonicNs()
        sleep(UInt32(seconds))
        let elapsed = Double(WallClock.monotonicNs() - start) / 1e9
        return (try cpuSeconds(of: id) - before) / elapsed * 100
    }

    func cpuSeconds(of id: Int) throws -> Double {
        guard let pid = brokers[id - 1]?.pid else { throw BrokerUnderTest.Failure(description: "node \(id) is not running") }
        return try Self.cpuSeconds(pid: pid)
    }

    /// User+system CPU seconds of `pid` so far (from /proc/<pid>/stat).
    static func cpuSeconds(pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))  // utime, stime (fields 14 and 15)
    }

    private func poll(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = WallClock.monotonicNs() + 60_000_000_000
        while WallClock.monotonicNs() < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BrokerUnderTest.Failure(description: "timed out waiting for \(what)")
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BrokerUnderTest.Failure(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
