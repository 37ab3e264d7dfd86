import NIOCore
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolGroups
import SpoolProtocol

/// `GROUPS` and `GROUP <g>`: what groups exist, who owns what, and how far behind they are.
/// In a cluster both are answered by the groups' coordinator (the metadata group's leader),
/// forwarded there from any other broker, so every broker gives the same answer.
extension ConnectionHandler {
    func listGroups(slot: Int, loop: EventLoop) {
        if forwardToCoordinator(.groupInfo(group: nil), slot: slot, loop: loop) { return }
        answer(slot, GroupInfo.groups(groups, broker, on: loop)) { $0 }
    }

    func describeGroup(_ group: GroupName, slot: Int, loop: EventLoop) {
        if forwardToCoordinator(.groupInfo(group: group), slot: slot, loop: loop) { return }
        answer(slot, GroupInfo.group(group, groups, broker, on: loop)) { $0 }
    }

    /// In a cluster, sends a group question to the coordinator unless that is this broker.
    /// Returns false when this broker answers it itself.
    private func forwardToCoordinator(_ command: ForwardedCommand, slot: Int, loop: EventLoop) -> Bool {
        guard groups.agent != nil else { return false }
        guard let leader = broker.metadataStatus?.leader, leader != .none else {
            fail(slot, SpoolError(.unavailable, "no group coordinator is known now (the metadata group has no leader); retry"))
            return true
        }
        if leader == cluster.local { return false }
        guard broker.router.isConnected(leader) else {
            fail(slot, SpoolError(.unavailable, "the group coordinator n\(leader.rawValue) is not reachable from this broker now; retry"))
            return true
        }
        forwardRead(command, to: leader, waitMs: 0, slot: slot, loop: loop)
        return true
    }
}

/// Renders `GROUPS` and `GROUP <g>` from the coordinator's groups and the partitions' offsets.
enum GroupInfo {
    static func groups(_ groups: GroupManager, _ broker: Broker, on loop: EventLoop) -> EventLoopFuture<ByteBuffer> {
        if let busy = groups.takeoverRefusal { return loop.makeFailedFuture(busy) }
        let live = groups.snapshots()
        let future = broker.committedGroups(on: loop).map { committed -> ByteBuffer in
            var rows: [String: String] = [:]
            for name in committed { rows[name] = ReplyLine.groupRow(name, generation: 0, members: 0) }
            for snapshot in live {
                rows[snapshot.name.value] = ReplyLine.groupRow(snapshot.name.value, generation: snapshot.generation.rawValue, members: snapshot.members.count)
            }
            return Reply.lines(rows.keys.sorted().map { rows[$0]! } + [ReplyLine.endGroups(count: rows.count)])
        }
        return future
    }

    static func group(_ group: GroupName, _ groups: GroupManager, _ broker: Broker, on loop: EventLoop) -> EventLoopFuture<ByteBuffer> {
        if let busy = groups.takeoverRefusal { return loop.makeFailedFuture(busy) }
        let snapshot = groups.snapshot(group)
        var ownerOf: [TopicPartition: MemberID] = [:]
        var autoCommit: [MemberID: Bool] = [:]
        for member in snapshot?.members ?? [] {
            for tp in member.owned { ownerOf[tp] = member.id }
            autoCommit[member.id] = groups.autoCommit(member.id)
        }
        let owners = ownerOf
        let autoCommits = autoCommit
        let liveTopics = Set(snapshot?.topics.map(\.name) ?? [])
        let topics = broker.listTopics().map(\.name)
        let lags = topics.map { topic in
            GroupOffsets.lag(broker, topic, group: group, live: liveTopics.contains(topic), on: loop).map { (topic, $0) }
        }
        let future = EventLoopFuture.whenAllSucceed(lags, on: loop).map { perTopic -> ByteBuffer in
            var header = ReplyLine.groupRow(group.value, generation: snapshot?.generation.rawValue ?? 0, members: snapshot?.members.count ?? 0)
            // In a cluster, where the group is coordinated (the metadata group's leader).
            if groups.agent != nil, let coordinator = broker.metadataStatus?.leader { header += " coordinator=\(coordinator.rawValue)" }
            var lines = [header]
            for member in snapshot?.members ?? [] {
                let autoCommit = autoCommits[member.id] ?? false
                lines.append(
                    ReplyLine.member(
                        member.id.value, topics: member.topics, partitions: member.owned.map(\.description),
                        sessionMs: member.sessionTimeoutMs, autoCommit: autoCommit))
            }
            // Topics the group subscribes to now, or has committed in before.
            for (topic, partitions) in perTopic where liveTopics.contains(topic) || partitions.contains(where: { $0.committed != nil }) {
                for p in partitions {
                    lines.append(
                        ReplyLine.lag(
                            topic, p.partition, owner: owners[TopicPartition(topic: topic, partition: p.partition)]?.value,
                            committed: p.committed, end: p.end, lagRecords: p.lagRecords, lagMs: p.lagMs))
                }
            }
            lines.append(ReplyLine.endGroup(group.value))
            return Reply.lines(lines)
        }
        return future
    }
}
