import NIOCore
import SpoolCore
import SpoolEngine
import SpoolGroups
import SpoolProtocol

/// `GROUPS` and `GROUP <g>`: what groups exist, who owns what, and how far behind they are.
extension ConnectionHandler {
    func listGroups(slot: Int, loop: EventLoop) {
        let live = groups.snapshots()
        let future = broker.committedGroups(on: loop).map { committed -> ByteBuffer in
            var rows: [String: String] = [:]
            for name in committed { rows[name] = ReplyLine.groupRow(name, generation: 0, members: 0) }
            for snapshot in live {
                rows[snapshot.name.value] = ReplyLine.groupRow(snapshot.name.value, generation: snapshot.generation.rawValue, members: snapshot.members.count)
            }
            return Reply.lines(rows.keys.sorted().map { rows[$0]! } + [ReplyLine.endGroups(count: rows.count)])
        }
        answer(slot, future) { $0 }
    }

    func describeGroup(_ group: GroupName, slot: Int, loop: EventLoop) {
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
            broker.lag(topic: topic, group: group.value, live: liveTopics.contains(topic), on: loop).map { (topic, $0) }
        }
        let future = EventLoopFuture.whenAllSucceed(lags, on: loop).map { perTopic -> ByteBuffer in
            var lines = [ReplyLine.groupRow(group.value, generation: snapshot?.generation.rawValue ?? 0, members: snapshot?.members.count ?? 0)]
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
        answer(slot, future) { $0 }
    }
}
