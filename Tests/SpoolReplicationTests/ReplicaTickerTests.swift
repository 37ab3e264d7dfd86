import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import Testing

/// Delivers every group's messages straight into the destination broker's driver of that group
/// (no sockets): many groups of three voters in one process, to test the ticker, not the transport.
final class LoopbackNetwork: RaftMessageSender {
    private let drivers = NIOLockedValueBox<[NodeID: [RaftGroupID: ReplicaDriver]]>([:])

    func register(_ driver: ReplicaDriver) {
        drivers.withLockedValue { $0[driver.node, default: [:]][driver.group] = driver }
    }

    func unregister(_ driver: ReplicaDriver) {
        _ = drivers.withLockedValue { $0[driver.node]?.removeValue(forKey: driver.group) }
    }

    func send(_ messages: [Message], group: RaftGroupID) {
        let targets = drivers.withLockedValue { drivers in messages.map { drivers[$0.to]?[group] } }
        for (message, driver) in zip(messages, targets) { driver?.deliver([message]) }
    }
}

/// One `ReplicaTicker` for many groups: held ticks still elect, heartbeat, commit and check quorum,
/// idle groups skip their cycles, and a stopped driver gets no more ticks.
@Suite("Replica ticker", .timeLimit(.minutes(1)))
struct ReplicaTickerTests {
    static func group(_ n: Int) -> RaftGroupID { RaftGroupID(topic: TopicID(UInt32(n + 1)), partition: PartitionID(0)) }

    /// 3 brokers (one ticker each) × `groups` groups of three voters over `LoopbackNetwork`.
    @Test func manyGroupsOfThreeOnOneTickerPerBrokerElectHeartbeatCommitAndCheckQuorum() async throws {
        let groups = 12
        let nodes: [NodeID] = [1, 2, 3]
        try await TemporaryFolder.with { folder in
            try await withRuntime { pool, loops in
                let network = LoopbackNetwork()
                let tickers = nodes.map { _ in ReplicaTicker(eventLoop: loops.next(), tickIntervalMs: testTickIntervalMs) }
                defer { for ticker in tickers { ticker.stop() } }
                var drivers: [[ReplicaDriver]] = []  // [group][node - 1]
                for g in 0 ..< groups {
                    var replicas: [ReplicaDriver] = []
                    for node in nodes {
                        var config = testReplicaConfig(id: node, voters: nodes)
                        config.randomSeed = UInt64(g * 10) + node.rawValue
                        let driver = try await ReplicaDriver.open(
                            path: "\(folder)/g\(g)-n\(node.rawValue).sqlite3", group: Self.group(g), config: config, pool: pool,
                            ticker: tickers[Int(node.rawValue) - 1], sender: network)
                        network.register(driver)
                        replicas.append(driver)
                    }
                    drivers.append(replicas)
                }
                #expect(tickers.allSatisfy { $0.counts.drivers == groups })
                func leader(_ g: Int) -> ReplicaDriver? {
                    let statuses = drivers[g].map(\.status)
                    let leaders = drivers[g].filter { $0.status.role == .leader }
                    guard leaders.count == 1, let leader = leaders.first else { return nil }
                    return statuses.allSatisfy { $0.leader == leader.node && $0.term == leader.status.term } ? leader : nil
                }
                func describe() -> String {
                    (0 ..< groups).map { g in "g\(g): " + drivers[g].map { "\($0.status)" }.joined(separator: " | ") }.joined(separator: "\n")
                }
                do {
                    try await eventually("every group has one leader") { (0 ..< groups).allSatisfy { leader($0) != nil } }
                    for g in 0 ..< groups {
                        let offset = try await leader(g)!.propose(records: produceBatch("g\(g)", count: 3))
                        #expect(offset == .zero)
                    }
                    try await eventually("every replica applied its group's batch") {
                        drivers.allSatisfy { $0.allSatisfy { $0.status.highWatermark == Offset(3) } }
                    }
                    // Heartbeats through held ticks: 1.5 s is 60 ticks, three to six election
                    // timeouts; a follower that missed them would campaign and bump the term.
                    let leaders = (0 ..< groups).map { leader($0)!.node }
                    let terms = (0 ..< groups).map { drivers[$0][0].status.term }
                    try await Task.sleep(for: .milliseconds(1_500))
                    for g in 0 ..< groups {
                        #expect(leader(g)?.node == leaders[g], "group \(g) kept its leader")
                        #expect(drivers[g].allSatisfy { $0.status.term == terms[g] }, "group \(g) kept its term")
                    }
                    // Check quorum through held ticks: a leader whose followers stop steps down.
                    let lonely = drivers[0].first { $0.node == leaders[0] }!
                    for follower in drivers[0] where follower !== lonely {
                        network.unregister(follower)
                        await follower.stop()
                    }
                    try await eventually("the leader left alone steps down") { lonely.status.role != .leader }
                    let ticked = lonely.status.ticks
                    try await eventually("it still counts ticks, held or not") { lonely.receivedTicks > ticked + 20 }
                } catch {
                    Issue.record("statuses:\n\(describe())")
                    for replicas in drivers { for driver in replicas { await driver.stop() } }
                    throw error
                }
                for replicas in drivers { for driver in replicas { await driver.stop() } }
                #expect(tickers.allSatisfy { $0.counts.drivers == 0 })
            }
        }
    }

    /// Idle groups hold their ticks: a group of one never needs one, a follower whose peers are
    /// absent needs a cycle only at its randomized election timeout (10–20 ticks here).
    @Test func idleGroupsHoldTheirTicksAndStillCampaignOnTime() async throws {
        try await TemporaryFolder.with { folder in
            try await withRuntime { pool, loops in
                try await withTicker(loops) { ticker in
                    var drivers: [ReplicaDriver] = []
                    for g in 0 ..< 20 {
                        let voters: [NodeID] = g % 2 == 0 ? [1] : [1, 2, 3]
                        var config = testReplicaConfig(id: 1, voters: voters)
                        config.randomSeed = UInt64(g)
                        drivers.append(try await ReplicaDriver.open(
                            path: "\(folder)/g\(g).sqlite3", group: Self.group(g), config: config, pool: pool, ticker: ticker,
                            sender: ReplicaRouter()))
                    }
                    do {
                        try await eventually("the groups of one lead") { drivers.enumerated().allSatisfy { $1.status.role == .leader || $0 % 2 == 1 } }
                        let before = ticker.counts
                        let ticksBefore = drivers.map(\.status.ticks)
                        try await eventually("40 rounds") { ticker.counts.rounds >= before.rounds + 40 }
                        let after = ticker.counts
                        let posted = after.posted - before.posted
                        let woke = after.woke - before.woke
                        // Groups of one: no cycle (maxHeldTicks is 100). Lone followers: about one
                        // cycle per 15 ticks. Without holding, every posted tick would wake one.
                        #expect(posted >= 20 * 40)
                        #expect(woke * 5 < posted, "\(woke) cycles woken for \(posted) ticks posted")
                        for (g, driver) in drivers.enumerated() where g % 2 == 1 {
                            // Each lone follower campaigned (a pre-vote: the term stays) at least once.
                            #expect(driver.status.ticks >= ticksBefore[g] + 10, "group \(g): \(driver.status)")
                        }
                    } catch {
                        for driver in drivers { await driver.stop() }
                        throw error
                    }
                    for driver in drivers { await driver.stop() }
                }
            }
        }
    }

    @Test func aStoppedDriverGetsNoMoreTicks() async throws {
        try await TemporaryFolder.with { folder in
            try await withRuntime { pool, loops in
                try await withTicker(loops) { ticker in
                    let config = testReplicaConfig(id: 1, voters: [1])
                    let stopped = try await ReplicaDriver.open(
                        path: "\(folder)/a.sqlite3", group: Self.group(1), config: config, pool: pool, ticker: ticker, sender: ReplicaRouter())
                    let running = try await ReplicaDriver.open(
                        path: "\(folder)/b.sqlite3", group: Self.group(2), config: config, pool: pool, ticker: ticker, sender: ReplicaRouter())
                    try await eventually("both get ticks") { stopped.receivedTicks > 2 && running.receivedTicks > 2 }
                    await stopped.stop()
                    #expect(ticker.counts.drivers == 1)
                    let received = stopped.receivedTicks
                    let rounds = ticker.counts.rounds
                    let runningReceived = running.receivedTicks
                    try await eventually("10 more rounds") { ticker.counts.rounds >= rounds + 10 }
                    #expect(stopped.receivedTicks == received, "a stopped driver got ticks")
                    #expect(running.receivedTicks >= runningReceived + 10)
                    await running.stop()
                    #expect(ticker.counts.drivers == 0)
                }
            }
        }
    }
}
