import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// Where each parsed request is executed: one function per command, each answering its slot.
extension ConnectionHandler {
    func dispatch(_ request: Request, slot: Int) {
        guard let loop = eventLoop else { return }
        switch request {
        case .ping:
            complete(slot, line: ReplyLine.pong)
        case .quit:
            complete(slot, line: ReplyLine.bye)
            leaveGroup(commitDelivered: true)  // QUIT is a clean leave
            closeAfterQuit()
        case .help(let command):
            if let lines = HelpText.replyLines(for: command) {
                complete(slot, Reply.lines(lines))
            } else {
                fail(slot, SpoolError(.badArgument, "no command named \(command ?? ""); HELP lists them"))
            }
        case .stats:
            complete(slot, Reply.lines(statsLines()))
        case .topics:
            let topics = broker.listTopics()
            complete(
                slot,
                Reply.lines(
                    topics.map { ReplyLine.topicRow($0.name, partitions: $0.partitions, offline: $0.offlinePartitions) }
                        + [ReplyLine.endTopics(count: topics.count)]))
        case .create(let topic, let partitions, let replication):
            answer(slot, broker.createTopic(topic, partitions: partitions, replication: replication, on: loop)) {
                Reply.line(ReplyLine.created($0.name, partitions: $0.partitions, replication: $0.replication))
            }
        case .drop(let topic):
            answer(slot, broker.dropTopic(topic, on: loop)) { Reply.line(ReplyLine.dropped(topic)) }
        case .describe(let topic):
            describeTopic(topic, slot: slot, loop: loop)
        case .publish(let publish):
            runPublish(publish, slot: slot, loop: loop)
        case .fetch(let fetch):
            guard subscriptions.isEmpty, membership == nil else {
                fail(slot, SpoolError(.subscribed, "FETCH is not allowed on a connection with a subscription; use another connection"))
                return
            }
            runFetch(fetch, slot: slot, loop: loop)
        case .offsets(let topic, let partition, let time):
            if let replica = remoteReplica(topic, partition) {
                forwardRead(.offsets(topic: topic, partition: partition, time: time), to: replica, waitMs: 0, slot: slot, loop: loop)
                return
            }
            answer(slot, broker.offsets(topic: topic, partition: partition, time: time, on: loop)) { result in
                Reply.line(ReadReplies.offsetsLine(topic, partition, result, time: time))
            }
        case .subscribe(let topic, let from):
            subscribe(topic, from: from, slot: slot)
        case .unsubscribe(let topic):
            unsubscribe(topic, slot: slot)
        case .subscribeGroup(let request):
            joinGroup(request, slot: slot)
        case .commit(let topic, let partition, let offset):
            commitOffset(topic, partition, offset, slot: slot)
        case .groups:
            listGroups(slot: slot, loop: loop)
        case .group(let name):
            describeGroup(name, slot: slot, loop: loop)
        case .metadata(let topic):
            describeCluster(topic, slot: slot, loop: loop)
        case .verify(let topic, let partition):
            verify(topic, partition: partition, slot: slot, loop: loop)
        }
    }

    /// Answers `slot` when `future` completes: `render` on success, `ERR` on failure.
    func answer<T: Sendable>(_ slot: Int, _ future: EventLoopFuture<T>, render: @escaping (T) -> ByteBuffer) {
        let bound = NIOLoopBound(self, eventLoop: future.eventLoop)
        let render = NIOLoopBound(render, eventLoop: future.eventLoop)
        future.whenComplete { result in
            switch result {
            case .success(let value): bound.value.complete(slot, render.value(value))
            case .failure(let error): bound.value.fail(slot, wireError(error))
            }
        }
    }

    /// The hot path of a pipelined producer: the record is queued with this connection's waiter
    /// and its slot; the reply is rendered straight into the outbound buffer when its commit is
    /// reported (no promise, closure or reply `String` per record).
    private func runPublish(_ publish: PublishRequest, slot: Int, loop: EventLoop) {
        var publish = publish
        do {
            // In a cluster, a record for a partition led elsewhere goes to its leader.
            if cluster.voters.count > 1 {
                switch try broker.publishRoute(topic: publish.topic, key: publish.key, partition: publish.partition) {
                case .local(let partition):
                    publish.partition = partition
                case .forward(let partition, let node):
                    forwardPublish(publish, partition: partition, to: node, slot: slot, loop: loop)
                    return
                }
            }
            guard publish.acks != .none else {
                // Answered now, but still queued with the waiter: its bytes count against
                // queuedBytesPerConnection until they are written, as for every other acks.
                let bytes = publish.value.readableBytes + (publish.key?.readableBytes ?? 0)
                let receipt = try broker.produce(
                    topic: publish.topic, key: publish.key, partition: publish.partition, value: publish.value,
                    waiter: publishWaiter(loop), token: PublishWaiter.noAckToken(bytes: bytes))
                queued(noAckBytes: bytes)
                completePublished(slot, publish.topic, receipt.partition, offset: nil)
                if receipt.queueFull { waitForRoom(publish.topic, receipt.partition) }
                return
            }
            // The slot is the token: the engine answers this connection's records of a commit in
            // one task (PublishWaiter), no promise or closure per record.
            let receipt = try broker.produce(
                topic: publish.topic, key: publish.key, partition: publish.partition, value: publish.value,
                waiter: publishWaiter(loop), token: slot, ackPoint: publish.acks == .all ? .committed : .durable)
            if receipt.queueFull { waitForRoom(publish.topic, receipt.partition) }
        } catch {
            fail(slot, error)
        }
    }

    private func runFetch(_ fetch: FetchRequest, slot: Int, loop: EventLoop) {
        // FETCH runs alone (see ConnectionHandler.parseBuffered) and starts only while the socket
        // is writable, so a client that pipelines FETCHes without reading holds at most one
        // fetch result in the broker's memory.
        let maxRecords = fetch.maxRecords ?? limits.fetchRecords
        // After a half-close nothing more can be asked here: a FETCH answers at once.
        let waitMs = phase == .inputEnded ? 0 : min(fetch.waitMs, limits.fetchWaitMs)
        if let replica = remoteReplica(fetch.topic, fetch.partition) {
            let read = ForwardedCommand.fetch(topic: fetch.topic, partition: fetch.partition, start: fetch.start, maxRecords: maxRecords, waitMs: waitMs)
            forwardRead(read, to: replica, waitMs: waitMs, slot: slot, loop: loop)
            return
        }
        let renderer = MessageRenderer(topic: fetch.topic, partition: fetch.partition)
        let broker = self.broker
        @Sendable func read(_ start: StartPosition) -> EventLoopFuture<FetchResult> {
            broker.fetch(topic: fetch.topic, partition: fetch.partition, start: start, maxRecords: maxRecords, waitMs: 0, on: loop) {
                view, buffer in renderer.render(view, into: &buffer)
            }
        }
        let future: EventLoopFuture<FetchResult>
        if waitMs > 0 {
            // The long poll is run here rather than by Broker.fetch so that this connection can end
            // it early (`fetchWait`, cancelled when the client half-closes).
            do {
                let offset = try broker.startOffset(topic: fetch.topic, partition: fetch.partition, fetch.start)
                let (token, waited) = try broker.waitForRecords(topic: fetch.topic, partition: fetch.partition, after: offset, on: loop)
                fetchWait = token
                let timeout = loop.scheduleTask(in: .milliseconds(waitMs)) { broker.cancelWait(token) }
                let bound = NIOLoopBound(self, eventLoop: loop)
                future = waited.flatMap {
                    timeout.cancel()
                    bound.value.fetchWait = nil
                    return read(.offset(offset))
                }
            } catch {
                fail(slot, wireError(error))
                return
            }
        } else {
            future = read(fetch.start)
        }
        answer(slot, future) { ReadReplies.fetchReply($0, fetch.topic, fetch.partition) }
    }

    private func statsLines() -> [String] {
        let stats = broker.stats
        let topics = broker.listTopics()
        let clock = broker.clockCounts
        let values: [String: Int64] = [
            "uptime_ms": Int64((WallClock.monotonicNs() - startedNs) / 1_000_000),
            "connections": Int64(stats.connections.load(ordering: .relaxed)),
            "connections_total": Int64(stats.connectionsTotal.load(ordering: .relaxed)),
            "topics": Int64(topics.count),
            "partitions": Int64(topics.reduce(0) { $0 + $1.partitions }),
            "records_in_total": Int64(stats.recordsIn.load(ordering: .relaxed)),
            "bytes_in_total": Int64(stats.bytesIn.load(ordering: .relaxed)),
            "records_forwarded_total": Int64(stats.recordsForwarded.load(ordering: .relaxed)),
            "records_out_total": Int64(stats.recordsOut.load(ordering: .relaxed)),
            "bytes_out_total": Int64(stats.bytesOut.load(ordering: .relaxed)),
            "requests_total": Int64(stats.requests.load(ordering: .relaxed)),
            "errors_total": Int64(stats.errors.load(ordering: .relaxed)),
            "replicas": Int64(clock.drivers),
            "replicas_quiesced": Int64(clock.quiesced),
        ]
        return ReplyLine.statNames.map { ReplyLine.stat($0, values[$0] ?? 0) } + [ReplyLine.endStats]
    }
}
