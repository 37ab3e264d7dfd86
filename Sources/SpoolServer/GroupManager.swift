import Logging
import NIOConcurrencyHelpers
import NIOCore
import Raft
import Synchronization
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolGroups

/// The thin async shell around the pure `GroupCoordinator`s: one coordinator per group, driven by
/// joins and leaves from connections and by a periodic tick that feeds liveness and time in.
///
/// Actions a coordinator returns are performed while the lock is held, in order: each only
/// enqueues work on its member's event loop, so a member always sees its `REVOKED` and
/// `ASSIGNED` lines in the order the coordinator decided them.
///
/// In a cluster (more than one voter) a member's connection talks to this broker's `GroupAgent`
/// instead, which reports to the groups' coordinator, the leader of the metadata group; when that
/// is this broker, the manager coordinates every member of the cluster as a `RemoteMember`
/// (`sync`, in `GroupManager+Cluster.swift`; docs/cluster.md "Consumer groups in a cluster").
final class GroupManager: Sendable {
    struct Member {
        var group: GroupName
        var connection: any GroupMemberConnection
        var sessionTimeoutMs: Int64
        var autoCommit: Bool
    }

    struct State {
        var groups: [GroupName: GroupCoordinator] = [:]
        var members: [MemberID: Member] = [:]
        /// Partition counts each group's coordinator was last told, to notice drops and new topics.
        var knownCounts: [GroupName: [TopicName: Int]] = [:]
        /// In a cluster: the metadata term in which this broker coordinates, nil while it does not.
        var coordinatorTerm: Term?
        /// In a cluster, after a takeover: until when groups are learned without rebalancing.
        var settleUntilMs: Int64?
        /// In a cluster, after that: groups with partitions nobody reported, and until when they
        /// wait for them (their members' session timeout after the takeover).
        var groupSettleMs: [GroupName: Int64] = [:]
        /// In a cluster, during a takeover: groups a member reported from an earlier coordinator
        /// (a generation or held partitions), whose free partitions may have a silent holder.
        var inheritedGroups: Set<GroupName> = []
        var takeoverMs: Int64 = 0
        /// In a cluster: members the coordinator removed, until when a report naming them is
        /// answered `removed` rather than taken for a new member.
        var tombstones: [MemberID: Int64] = [:]
        /// In a cluster: the newest report taken from each broker (its run and number).
        var lastReport: [NodeID: (incarnation: UInt32, sequence: UInt64)] = [:]

        /// In a cluster, when this broker starts or stops coordinating: what an earlier stint
        /// knew is stale (others coordinated meanwhile), so every group is learned again.
        mutating func forgetGroups() { self = State() }
    }

    let broker: Broker
    let limits: SpoolLimits
    let logger: Logger
    let state = NIOLockedValueBox(State())
    private let nextMember = Atomic<Int>(1)
    private let ticker = NIOLockedValueBox<RepeatedTask?>(nil)
    /// In a cluster: this broker's side of its members (nil on a single broker).
    let agent: GroupAgent?
    /// Makes member ids unique across the cluster and across restarts of this broker.
    private let memberSuffix: String

    /// How often liveness and time reach the coordinators.
    static let tickIntervalMs: Int64 = 250

    init(broker: Broker, limits: SpoolLimits, logger: Logger, cluster: ClusterView = .singleBroker()) {
        self.broker = broker
        self.limits = limits
        self.logger = logger
        if cluster.voters.count > 1 {
            let incarnation = String(UInt16.random(in: 0x1000 ... .max), radix: 16)
            memberSuffix = "-n\(cluster.local.rawValue)-\(incarnation)"
            agent = GroupAgent(node: cluster.local, broker: broker, logger: logger)
        } else {
            memberSuffix = ""
            agent = nil
        }
    }

    func start(on loop: EventLoop) {
        agent?.attach(host: self)
        let interval = agent == nil ? Self.tickIntervalMs : GroupAgent.syncIntervalMs
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(interval), delay: .milliseconds(interval)) { _ in
            let now = Self.nowMs()
            if let agent = self.agent {
                self.clusterTick(nowMs: now)
                agent.tick(nowMs: now)
            } else {
                self.tick(nowMs: now)
            }
        }
        ticker.withLockedValue { $0 = task }
    }

    func stop() {
        ticker.withLockedValue { task in
            task?.cancel()
            task = nil
        }
    }

    /// Monotonic milliseconds: session timeouts must not jump with the wall clock.
    static func nowMs() -> Int64 { Int64(WallClock.monotonicNs() / 1_000_000) }

    func newMemberID() -> MemberID {
        MemberID("c\(nextMember.wrappingAdd(1, ordering: .relaxed).oldValue)\(memberSuffix)")
    }

    /// Adds `member` to `group`, subscribed to `topics`. Unknown topics are an error.
    func join(
        _ member: MemberID, group: GroupName, topics: [TopicName], sessionTimeoutMs: Int64, autoCommit: Bool,
        connection: any GroupMemberConnection
    ) throws(SpoolError) {
        var counts: [TopicName: Int] = [:]
        for topic in topics { counts[topic] = try broker.partitionCount(topic) }
        if let agent {
            return try agent.join(
                member, group: group, topics: topics, sessionTimeoutMs: sessionTimeoutMs, autoCommit: autoCommit, connection: connection,
                groupLimit: limits.groups)
        }
        let now = Self.nowMs()
        let failure: SpoolError? = state.withLockedValue { state in
            if state.groups[group] == nil && state.groups.count >= limits.groups {
                return SpoolError(.limitReached, "the broker has its limit of \(limits.groups) groups with members")
            }
            state.members[member] = Member(
                group: group, connection: connection, sessionTimeoutMs: sessionTimeoutMs, autoCommit: autoCommit)
            var coordinator = state.groups[group]
                ?? newCoordinator(group)
            let actions = coordinator.join(member, topics: counts, sessionTimeoutMs: sessionTimeoutMs, now: now)
            state.groups[group] = coordinator
            state.knownCounts[group, default: [:]].merge(counts) { _, new in new }
            perform(actions, &state)
            return nil
        }
        if let failure { throw failure }
        logger.info("member joined", metadata: ["group": "\(group)", "member": "\(member)", "topics": "\(topics)"])
    }

    /// A coordinator for a group that has none here yet. Its session bound is the broker's own
    /// limit, so it never clamps a session the broker has already accepted and announced in
    /// `OK subscribed`.
    func newCoordinator(_ group: GroupName) -> GroupCoordinator {
        GroupCoordinator(
            name: group, config: GroupConfig(revocationTimeoutMs: GroupConfig().revocationTimeoutMs, sessionTimeoutMaxMs: limits.groupSessionTimeoutMaxMs))
    }

    /// Removes `member` from its group at once (its partitions go to others right away).
    func leave(_ member: MemberID) {
        if let agent { return agent.leave(member) }
        let now = Self.nowMs()
        state.withLockedValue { state in removeMember(member, &state, now: now) }
    }

    /// Takes `member` out of its group (its partitions go to others at once), under the lock.
    func removeMember(_ member: MemberID, _ state: inout State, now: Int64) {
        guard let entry = state.members.removeValue(forKey: member), var coordinator = state.groups[entry.group] else { return }
        let actions = coordinator.leave(member, now: now)
        if coordinator.isEmpty {
            state.groups[entry.group] = nil
            state.knownCounts[entry.group] = nil
        } else {
            state.groups[entry.group] = coordinator
        }
        perform(actions, &state)
        logger.info("member left", metadata: ["group": "\(entry.group)", "member": "\(member)"])
    }

    func revocationCompleted(_ member: MemberID, _ partitions: [TopicPartition]) {
        let now = Self.nowMs()
        state.withLockedValue { state in
            guard let entry = state.members[member], var coordinator = state.groups[entry.group] else { return }
            let actions = coordinator.revocationCompleted(member, partitions, now: now)
            state.groups[entry.group] = coordinator
            perform(actions, &state)
        }
    }

    /// May `member` commit `partition`, and in which generation.
    func checkCommit(_ member: MemberID, _ partition: TopicPartition) -> Result<Generation, SpoolError> {
        if let agent { return agent.checkCommit(member, partition) }
        return state.withLockedValue { state in
            guard let entry = state.members[member], let coordinator = state.groups[entry.group] else {
                return .failure(SpoolError(.notAssigned, "this connection is not a member of a group; SUB ... group=<g> first"))
            }
            switch coordinator.checkCommit(member: member, partition) {
            case .allowed: return .success(coordinator.generation)
            case .notOwner(let message), .unknownMember(let message): return .failure(SpoolError(.notAssigned, message))
            }
        }
    }

    /// The generation of the member's group, nil when it is not a member.
    func generation(of member: MemberID) -> Generation? {
        if let agent { return agent.generation(of: member) }
        return state.withLockedValue { state in state.members[member].flatMap { state.groups[$0.group]?.generation } }
    }

    /// Live groups, by name.
    func snapshots() -> [GroupSnapshot] {
        state.withLockedValue { state in state.groups.keys.sorted().compactMap { state.groups[$0]?.snapshot() } }
    }

    func snapshot(_ group: GroupName) -> GroupSnapshot? {
        state.withLockedValue { $0.groups[group]?.snapshot() }
    }

    func autoCommit(_ member: MemberID) -> Bool {
        state.withLockedValue { $0.members[member]?.autoCommit ?? false }
    }

    /// Liveness in, time in, partition-count changes in; actions out.
    func tick(nowMs now: Int64) {
        let counts = state.withLockedValue { state in state.knownCounts }
        // Partition counts come from the broker's memory; read them outside our lock.
        var current: [GroupName: [TopicName: Int]] = [:]
        for (group, topics) in counts {
            for topic in topics.keys { current[group, default: [:]][topic] = (try? broker.partitionCount(topic)) ?? 0 }
        }
        state.withLockedValue { state in
            for group in state.groups.keys.sorted() {
                guard var coordinator = state.groups[group] else { continue }
                var actions: [GroupAction] = []
                for (topic, count) in (current[group] ?? [:]).sorted(by: { $0.key < $1.key }) where state.knownCounts[group]?[topic] != count {
                    state.knownCounts[group]?[topic] = count
                    actions += coordinator.partitionCountChanged(topic: topic, count: count, now: now)
                }
                for member in coordinator.memberIDs {
                    guard let entry = state.members[member] else { continue }
                    if entry.connection.isHealthy(nowMs: now, sessionTimeoutMs: entry.sessionTimeoutMs) {
                        coordinator.heartbeat(member, now: now)
                    }
                }
                actions += coordinator.tick(now: now)
                if coordinator.isEmpty {
                    state.groups[group] = nil
                    state.knownCounts[group] = nil
                } else {
                    state.groups[group] = coordinator
                }
                perform(actions, &state)
            }
        }
    }

    /// Runs under the lock; see the type's comment.
    func perform(_ actions: [GroupAction], _ state: inout State) {
        for action in actions {
            switch action {
            case .assign(let member, let partitions, let generation):
                state.members[member]?.connection.groupAssigned(partitions, generation: generation)
            case .revoke(let member, let partitions, let generation):
                guard let connection = state.members[member]?.connection else { continue }
                connection.groupRevoked(partitions, generation: generation) { [self] in
                    self.revocationCompleted(member, partitions)
                }
            case .removed(let member, let reason):
                let entry = state.members.removeValue(forKey: member)
                entry?.connection.groupRemoved(reason)
                if let entry, entry.connection is RemoteMember {
                    state.tombstones[member] = Self.nowMs() + 2 * entry.sessionTimeoutMs
                }
                logger.info("member removed", metadata: ["member": "\(member)", "reason": "\(reason)"])
            }
        }
    }
}
