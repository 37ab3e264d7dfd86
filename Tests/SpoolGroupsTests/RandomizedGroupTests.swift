#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SpoolCore
import SpoolGroups
import Testing

/// Seeded random runs of joins, leaves, heartbeats, ticks, revocation confirmations and
/// partition-count changes. After every step: the safety invariants, the driver's view against
/// the coordinator, and commit checks. At the end, after confirming every revocation: full
/// coverage and balance; with identical subscriptions also counts within one and a minimal join.
@Suite("Randomized group runs")
struct RandomizedGroupTests {
    /// 10 shards × 40 runs × 150 steps takes a few seconds in a debug build. For a soak run set
    /// SPOOL_GROUPS_RANDOM_RUNS_PER_SHARD (for example 5000) in the environment.
    static let runsPerShard = getenv("SPOOL_GROUPS_RANDOM_RUNS_PER_SHARD").flatMap { Int(String(cString: $0)) } ?? 40
    static let stepsPerRun = 150
    static let topicNames = ["a", "b", "c"].map { TopicName($0)! }
    static let memberPool = (0..<7).map { MemberID("c\($0)") }

    @Test(arguments: 0..<10)
    func randomRunsKeepEveryInvariant(shard: Int) {
        for run in 0..<Self.runsPerShard {
            let seed = UInt64(shard * Self.runsPerShard + run) &* 0x9E37_79B9 &+ 17
            let problems = Self.run(seed: seed, sameSubscriptions: run % 2 == 0)
            #expect(problems == [], "seed \(seed)")
            if !problems.isEmpty { return }
        }
    }

    /// Runs one seeded scenario; returns what went wrong (empty when nothing did).
    static func run(seed: UInt64, sameSubscriptions: Bool) -> [String] {
        var random = SplitMix64(seed: seed)
        let revocationTimeoutMs = Int64(500 + random.below(3_000))
        var group = makeGroup(revocationTimeoutMs: revocationTimeoutMs)
        var driver = DriverModel()
        var counts: [TopicName: Int] = [:]
        for name in topicNames { counts[name] = 1 + random.below(8) }
        var now: Int64 = 0

        func subscription() -> [TopicName: Int] {
            var chosen: [TopicName: Int] = [:]
            for name in topicNames where sameSubscriptions || random.percent(50) { chosen[name] = counts[name]! }
            return chosen
        }

        for step in 0..<stepsPerRun {
            now += Int64(random.below(300))
            let generationBefore = group.generation
            var actions: [GroupAction] = []
            var forcedBeforeMs: Int64?
            var isRelease: (MemberID, TopicPartition) -> Bool = { _, _ in false }
            let member = memberPool[random.below(memberPool.count)]
            switch random.below(100) {
            case 0..<18:
                let topics = subscription()
                isRelease = { $0 == member && topics[$1.topic] == nil }
                actions = group.join(member, topics: topics, sessionTimeoutMs: Int64(1_500 + random.below(4_000)), now: now)
            case 18..<26:
                driver.forget(member)
                actions = group.leave(member, now: now)
            case 26..<50:
                group.heartbeat(member, now: now)
            case 50..<68:
                forcedBeforeMs = now - revocationTimeoutMs
                actions = group.tick(now: now)
            case 68..<90:
                // Confirm a random subset of what the driver is waiting for, grouped per member.
                var byMember: [MemberID: [TopicPartition]] = [:]
                for (partition, revocation) in driver.awaiting.sorted(by: { $0.key < $1.key }) where random.percent(60) {
                    byMember[revocation.member, default: []].append(partition)
                }
                for from in byMember.keys.sorted() {
                    driver.confirm(from, byMember[from]!)
                    actions += group.revocationCompleted(from, byMember[from]!, now: now)
                }
            case 90..<94:
                // A confirmation from someone else must change nothing.
                let partitions = driver.awaiting.keys.sorted().filter { driver.awaiting[$0]!.member != member }
                actions = group.revocationCompleted(member, partitions, now: now)
                if !actions.isEmpty { return ["step \(step): confirmation by \(member) of others' partitions gave \(actions)"] }
            default:
                let name = topicNames[random.below(topicNames.count)]
                let count = random.below(9)
                counts[name] = count
                isRelease = { $1.topic == name && Int($1.partition.rawValue) >= count }
                actions = group.partitionCountChanged(topic: name, count: counts[name]!, now: now)
            }
            if group.generation < generationBefore { return ["step \(step): generation went back"] }
            driver.perform(actions, step: step, now: now, generation: group.generation, forcedBeforeMs: forcedBeforeMs, isRelease: isRelease)
            let snapshot = group.snapshot()
            driver.reconcile(with: snapshot, step: step)
            var problems = driver.problems + GroupInvariants.violations(in: snapshot).map { "step \(step): \($0)" }
            problems += commitProblems(group, &random, step: step)
            if !problems.isEmpty { return problems }
        }
        return finalProblems(&group, sameSubscriptions: sameSubscriptions, now: now + 1)
    }

    /// Only a partition's owner may commit; strangers are unknown members.
    static func commitProblems(_ group: GroupCoordinator, _ random: inout SplitMix64, step: Int) -> [String] {
        let member = memberPool[random.below(memberPool.count)]
        let partition = TopicPartition(topic: topicNames[random.below(topicNames.count)], partition: PartitionID(random.below(9)))
        let check = group.checkCommit(member: member, partition)
        let expected: Bool
        switch check {
        case .allowed: expected = group.owner(of: partition) == member
        case .notOwner: expected = group.contains(member) && group.owner(of: partition) != member
        case .unknownMember: expected = !group.contains(member)
        }
        return expected ? [] : ["step \(step): checkCommit(\(member), \(partition)) = \(check)"]
    }

    static func finalProblems(_ group: inout GroupCoordinator, sameSubscriptions: Bool, now: Int64) -> [String] {
        completeAllRevocations(&group, now: now)
        var snapshot = group.snapshot()
        var problems = GroupInvariants.violations(in: snapshot) + GroupInvariants.balanceProblems(in: snapshot)
        guard sameSubscriptions, !snapshot.members.isEmpty else { return problems }
        let owned = snapshot.members.map(\.owned.count)
        if owned.max()! - owned.min()! > 1 { problems.append("final counts \(owned) differ by more than one") }
        // A newcomer to this balanced group takes its fair share and nothing more moves.
        let total = owned.reduce(0, +)
        let topics = Dictionary(uniqueKeysWithValues: snapshot.topics.map { ($0.name, $0.partitionCount) })
        let actions = group.join("newcomer", topics: topics, sessionTimeoutMs: longSessionMs, now: now)
        let moved = revokedPartitions(actions).count
        if moved != total / (owned.count + 1) { problems.append("join moved \(moved) of \(total) partitions among \(owned.count) members") }
        completeAllRevocations(&group, now: now)
        snapshot = group.snapshot()
        problems += GroupInvariants.violations(in: snapshot) + GroupInvariants.balanceProblems(in: snapshot)
        return problems
    }
}
