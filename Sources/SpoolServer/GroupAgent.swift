import Logging
import NIOConcurrencyHelpers
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolGroups

/// A broker's side of the consumer-group members connected to it, in a cluster: it reports them
/// to the groups' coordinator (the metadata group's leader, maybe this broker) and carries out
/// the answers, starting and revoking partitions on the members' connections
/// (docs/cluster.md "Consumer groups in a cluster").
///
/// One report is in flight at a time, so each report reflects every answer before it. A member
/// whose coordinator has not answered a report for longer than its session timeout is ended here
/// (`groupRemoved`, which closes the connection): by then the coordinator, whose clock for it
/// starts no earlier than the report's sending, has given its partitions to others, so ending it
/// here keeps two members from delivering one partition.
final class GroupAgent: Sendable {
    struct Member {
        var group: GroupName
        var topics: [TopicName]
        var sessionTimeoutMs: Int64
        var autoCommit: Bool
        var connection: any GroupMemberConnection
        var generation: Generation = .initial
        /// Assigned and not revoked: being started or delivered.
        var held: Set<TopicPartition> = []
        /// Revoked, still settling (auto-commits, commits in flight); still this member's to commit.
        var settling: Set<TopicPartition> = []
        /// When the last report that named it and was answered was sent (or when it joined).
        var leaseFromMs: Int64
    }

    private struct State {
        var members: [MemberID: Member] = [:]
        var inFlight = false
        var again = false
        /// Whether the last report named any member (an empty one is sent once, to tell).
        var reportedAny = false
        var sequence: UInt64 = 0
    }

    static let syncIntervalMs: Int64 = 200
    /// A report not answered within this is given up (the next one goes out at once).
    static let syncTimeoutMs: Int64 = 2_000

    let node: NodeID
    let broker: Broker
    /// This run of the broker, in every report (with the report's sequence number).
    let incarnation = UInt32.random(in: 1 ... .max)
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// Weak: the manager owns this agent.
    private struct Host { weak var manager: GroupManager? }
    private let host = NIOLockedValueBox(Host())

    init(node: NodeID, broker: Broker, logger: Logger) {
        self.node = node
        self.broker = broker
        self.logger = logger
    }

    /// The manager that coordinates when this broker leads the metadata group.
    func attach(host: GroupManager) { self.host.withLockedValue { $0.manager = host } }

    func join(
        _ member: MemberID, group: GroupName, topics: [TopicName], sessionTimeoutMs: Int64, autoCommit: Bool, connection: any GroupMemberConnection,
        groupLimit: Int
    ) throws(SpoolError) {
        let now = GroupManager.nowMs()
        let failure: SpoolError? = state.withLockedValue { state in
            let groups = Set(state.members.values.map(\.group))
            if !groups.contains(group) && groups.count >= groupLimit {
                return SpoolError(.limitReached, "the broker has its limit of \(groupLimit) groups with members")
            }
            state.members[member] = Member(
                group: group, topics: topics, sessionTimeoutMs: sessionTimeoutMs, autoCommit: autoCommit, connection: connection, leaseFromMs: now)
            return nil
        }
        if let failure { throw failure }
        logger.info("member joined", metadata: ["group": "\(group)", "member": "\(member)", "topics": "\(topics)"])
        syncNow()
    }

    func leave(_ member: MemberID) {
        guard state.withLockedValue({ $0.members.removeValue(forKey: member) }) != nil else { return }
        logger.info("member left", metadata: ["member": "\(member)"])
        syncNow()
    }

    /// The member's connection has settled these revoked partitions.
    func revocationDone(_ member: MemberID, _ partitions: [TopicPartition]) {
        state.withLockedValue { state in state.members[member]?.settling.subtract(partitions) }
        syncNow()
    }

    /// A member may commit what it holds, settling ones included (the coordinator hands a
    /// partition on only once its report no longer lists it).
    func checkCommit(_ member: MemberID, _ partition: TopicPartition) -> Result<Generation, SpoolError> {
        state.withLockedValue { state in
            guard let entry = state.members[member] else {
                return .failure(SpoolError(.notAssigned, "\(member) is not a member of a group on this broker"))
            }
            guard entry.held.contains(partition) || entry.settling.contains(partition) else {
                return .failure(
                    SpoolError(.notAssigned, "\(member) does not own \(partition) in group \(entry.group) generation \(entry.generation)"))
            }
            return .success(entry.generation)
        }
    }

    func generation(of member: MemberID) -> Generation? { state.withLockedValue { $0.members[member]?.generation } }

    /// Ends members whose coordinator has been silent past their session, then reports.
    func tick(nowMs now: Int64) {
        let expired: [(MemberID, Member)] = state.withLockedValue { state in
            let ids = state.members.filter { now - $0.value.leaseFromMs > $0.value.sessionTimeoutMs }.keys.sorted()
            return ids.map { ($0, state.members.removeValue(forKey: $0)!) }
        }
        for (id, member) in expired {
            logger.warning(
                "no answer from the group coordinator within the member's session; the member is ended",
                metadata: ["group": "\(member.group)", "member": "\(id)", "session.ms": "\(member.sessionTimeoutMs)"])
            member.connection.groupRemoved(.sessionExpired)
        }
        syncNow()
    }

    /// Sends a report now, or right after the one in flight.
    func syncNow() {
        let sentAt = GroupManager.nowMs()
        let request: GroupSyncRequest? = state.withLockedValue { state in
            if state.inFlight {
                state.again = true
                return nil
            }
            if state.members.isEmpty && !state.reportedAny { return nil }
            state.inFlight = true
            state.reportedAny = !state.members.isEmpty
            state.sequence += 1
            return GroupSyncRequest(
                broker: node, incarnation: incarnation, sequence: state.sequence,
                members: state.members.keys.sorted().map { id in
                    let member = state.members[id]!
                    return MemberReport(
                        member: id, group: member.group, topics: member.topics, sessionTimeoutMs: member.sessionTimeoutMs,
                        autoCommit: member.autoCommit, generation: member.generation, held: member.held.union(member.settling).sorted())
                })
        }
        guard let request else { return }
        send(request) { reply in self.finish(reply, sentAt: sentAt) }
    }

    private func send(_ request: GroupSyncRequest, _ finish: @escaping @Sendable (GroupSyncReply?) -> Void) {
        guard let leader = broker.metadataStatus?.leader, leader != .none else { return finish(nil) }
        if leader == node {
            guard let host = host.withLockedValue({ $0.manager }) else { return finish(nil) }
            return finish(host.sync(request))
        }
        let limits = broker.config.limits
        ForwardedClient.send(.groupSync(request.payload), to: leader, router: broker.router, timeoutMs: Self.syncTimeoutMs) { result in
            guard case .rendered(let payload) = result else { return finish(nil) }
            finish(GroupSyncReply(payload: payload, limits: limits))
        }
    }

    private func finish(_ reply: GroupSyncReply?, sentAt: Int64) {
        let again: Bool = state.withLockedValue { state in
            state.inFlight = false
            if case .targets(let targets) = reply {
                for target in targets { apply(target, sentAt: sentAt, &state) }
            }
            defer { state.again = false }
            return state.again
        }
        if again { syncNow() }
    }

    /// Carries out one member's answer, under the lock: each call only queues work on the
    /// member's event loop, so its lines go out in the order decided here.
    private func apply(_ target: MemberTarget, sentAt: Int64, _ state: inout State) {
        guard var member = state.members[target.member] else { return }  // left meanwhile
        switch target.state {
        case .removed(let reason):
            state.members[target.member] = nil
            logger.info("member removed by the group coordinator", metadata: ["member": "\(target.member)", "reason": "\(reason)"])
            member.connection.groupRemoved(reason)
        case .refused(let message):
            state.members[target.member] = nil
            logger.warning("the group coordinator refused a member", metadata: ["member": "\(target.member)", "error": "\(message)"])
            member.connection.groupRemoved(.sessionExpired)
        case .active(let generation, let partitions):
            member.leaseFromMs = max(member.leaseFromMs, sentAt)
            member.generation = max(member.generation, generation)
            let wanted = Set(partitions)
            let revoke = member.held.subtracting(wanted).sorted()
            let assign = wanted.subtracting(member.held).subtracting(member.settling).sorted()
            member.held.subtract(revoke)
            member.settling.formUnion(revoke)
            member.held.formUnion(assign)
            state.members[target.member] = member
            let id = target.member
            if !revoke.isEmpty {
                member.connection.groupRevoked(revoke, generation: member.generation) { [self] in self.revocationDone(id, revoke) }
            }
            if !assign.isEmpty { member.connection.groupAssigned(assign, generation: member.generation) }
        }
    }
}
