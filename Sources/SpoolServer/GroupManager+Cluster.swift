import Raft
import SpoolCluster
import SpoolCore
import SpoolGroups

/// The coordinator's side of a cluster's consumer groups (docs/cluster.md "Consumer groups in a
/// cluster"). The leader of the metadata group coordinates every group: every broker finds it
/// the same way, and it moves, by election, when its broker dies. Members are `RemoteMember`s,
/// known only from their brokers' reports (`GroupSyncRequest`, every 200 ms and on changes):
/// a report is the whole truth about a broker's members, so a new coordinator rebuilds each group
/// from the reports alone, keeping what every member already holds.
///
/// A takeover first listens for `settleMs` (every live broker reports within one sync interval
/// of learning the new leader): members and their holdings are recorded but nothing moves, so
/// a coordinator change causes no rebalance storm. Then each group rebalances at once (new
/// members get their share), except a group that existed under the previous coordinator (a
/// member reported a generation or partitions) and has partitions nobody reported: it waits
/// until its members' session timeout has passed since the takeover, as for any member that went
/// silent, because their holder may be alive behind a cut link; its own broker ends it within
/// that time (`GroupAgent`), so the partitions are not delivered twice.
extension GroupManager {
    /// How long a new coordinator listens before it rebalances.
    static let settleMs: Int64 = 1_000
    /// A cluster's generations: the coordinator's metadata term × this, plus its rebalances.
    static let generationsPerTerm: Int64 = 1_000_000

    /// Why `GROUP`/`GROUPS` cannot be answered here now: a coordinator that just took over has
    /// not heard from every broker yet, and would show members missing. Nil otherwise.
    var takeoverRefusal: SpoolError? {
        let now = Self.nowMs()
        guard agent != nil, let status = broker.metadataStatus, status.role == .leader else { return nil }
        let listening = state.withLockedValue { state in
            takeOver(&state, term: status.term, now: now)
            return (state.settleUntilMs ?? 0) > now
        }
        guard listening else { return nil }
        return SpoolError(.unavailable, "the group coordinator has just moved to this broker and is hearing from the others; retry in a second")
    }

    /// Answers one broker's report. Runs on the caller's thread (a peer request, or this
    /// broker's agent); touches only memory.
    func sync(_ request: GroupSyncRequest) -> GroupSyncReply {
        guard let status = broker.metadataStatus, status.role == .leader, !status.stopped else {
            return .notCoordinator(leader: broker.metadataStatus?.leader ?? .none)
        }
        var counts: [TopicName: Int] = [:]
        for report in request.members {
            for topic in report.topics where counts[topic] == nil { counts[topic] = (try? broker.partitionCount(topic)) ?? 0 }
        }
        let now = Self.nowMs()
        return state.withLockedValue { state -> GroupSyncReply in
            takeOver(&state, term: status.term, now: now)
            // A report older than one already taken (its sender gave up waiting and sent another)
            // changes nothing; it is answered with what its members should hold now.
            if let last = state.lastReport[request.broker], last.incarnation == request.incarnation, last.sequence >= request.sequence {
                return .targets(request.members.map { report in target(report.member, state) })
            }
            state.lastReport[request.broker] = (request.incarnation, request.sequence)
            var reported = Set<MemberID>()
            for report in request.members {
                let settling = (state.settleUntilMs ?? 0) > now || state.groupSettleMs[report.group] != nil
                reported.insert(report.member)
                if state.tombstones[report.member] != nil { continue }
                if let entry = state.members[report.member] {
                    guard let remote = entry.connection as? RemoteMember, remote.broker == request.broker,
                        var coordinator = state.groups[entry.group]
                    else { continue }
                    coordinator.heartbeat(report.member, now: now)
                    let released = remote.revoking.subtracting(report.held)
                    remote.revoking.subtract(released)
                    let actions = coordinator.revocationCompleted(report.member, released.sorted(), now: now)
                    state.groups[entry.group] = coordinator
                    perform(actions, &state)
                } else {
                    adopt(report, from: request.broker, counts: counts, settling: settling, now: now, &state)
                }
            }
            // A member its broker no longer reports has left (UNSUB, closed, or the broker restarted).
            let gone = state.members.filter { id, entry in
                (entry.connection as? RemoteMember)?.broker == request.broker && !reported.contains(id)
            }.keys.sorted()
            for member in gone { removeMember(member, &state, now: now) }
            return .targets(request.members.map { report in target(report.member, state) })
        }
    }

    private func adopt(_ report: MemberReport, from node: NodeID, counts: [TopicName: Int], settling: Bool, now: Int64, _ state: inout State) {
        if state.groups[report.group] == nil && state.groups.count >= limits.groups { return }
        let remote = RemoteMember(broker: node)
        state.members[report.member] = Member(
            group: report.group, connection: remote, sessionTimeoutMs: report.sessionTimeoutMs, autoCommit: report.autoCommit)
        var coordinator = state.groups[report.group] ?? newCoordinator(report.group)
        var topics: [TopicName: Int] = [:]
        for topic in report.topics { topics[topic] = counts[topic] ?? 0 }
        // Generations start at the coordinator's term × 1,000,000: a new coordinator cannot know
        // the last generation its predecessor handed out, so this keeps one generation to one
        // coordinator (a partition's old and new owner never share a generation number).
        let floor = Generation(Int64(clamping: state.coordinatorTerm?.rawValue ?? 0) * Self.generationsPerTerm)
        let actions = coordinator.adopt(
            report.member, topics: topics, sessionTimeoutMs: report.sessionTimeoutMs, held: report.held,
            generation: max(report.generation, floor), now: now, rebalance: !settling)
        state.groups[report.group] = coordinator
        state.knownCounts[report.group, default: [:]].merge(topics) { _, new in new }
        if report.generation > .initial || !report.held.isEmpty { state.inheritedGroups.insert(report.group) }
        perform(actions, &state)
        logger.info(
            "group member reported", metadata: ["group": "\(report.group)", "member": "\(report.member)", "node.id": "\(node.rawValue)", "held": "\(report.held.count)"])
    }

    private func target(_ member: MemberID, _ state: State) -> MemberTarget {
        if let entry = state.members[member], let remote = entry.connection as? RemoteMember {
            let generation = state.groups[entry.group]?.generation ?? .initial
            return MemberTarget(member: member, state: .active(generation, remote.target.sorted()))
        }
        if state.tombstones[member] != nil { return MemberTarget(member: member, state: .removed(.sessionExpired)) }
        return MemberTarget(member: member, state: .refused("the cluster has its limit of \(limits.groups) groups with members"))
    }

    /// A new term of this broker's leadership starts from nothing (what an earlier stint knew is
    /// stale: others coordinated meanwhile).
    private func takeOver(_ state: inout State, term: Term, now: Int64) {
        guard state.coordinatorTerm != term else { return }
        state.forgetGroups()
        state.coordinatorTerm = term
        state.takeoverMs = now
        state.settleUntilMs = now + Self.settleMs
        logger.info("coordinating the cluster's consumer groups", metadata: ["raft.term": "\(term.rawValue)", "settle.ms": "\(Self.settleMs)"])
    }

    /// The cluster's tick: takeover and hand-over, the end of a takeover's quiet period, then the
    /// coordinators' own tick (session expiry, forced revocations, partition counts).
    func clusterTick(nowMs now: Int64) {
        let status = broker.metadataStatus
        let leading = status.map { $0.role == .leader && !$0.stopped } ?? false
        let settled: Bool = state.withLockedValue { state in
            if leading, let status {
                takeOver(&state, term: status.term, now: now)
            } else if state.coordinatorTerm != nil {
                state.forgetGroups()
                logger.info("no longer coordinating consumer groups (the metadata group's leadership moved)")
                return false
            }
            state.tombstones = state.tombstones.filter { $0.value > now }
            if let until = state.settleUntilMs {
                guard until <= now else { return false }
                state.settleUntilMs = nil
                for (group, coordinator) in state.groups where coordinator.hasFreePartitions && state.inheritedGroups.contains(group) {
                    let session = coordinator.snapshot().members.map(\.sessionTimeoutMs).max() ?? 0
                    state.groupSettleMs[group] = state.takeoverMs + session
                }
            }
            for group in state.groups.keys.sorted() where (state.groupSettleMs[group] ?? 0) <= now {
                guard var coordinator = state.groups[group], coordinator.awaitsSettle else { continue }
                state.groupSettleMs[group] = nil
                let actions = coordinator.settle(now: now)
                state.groups[group] = coordinator
                perform(actions, &state)
            }
            return true
        }
        if leading && settled { tick(nowMs: now) }
    }
}
