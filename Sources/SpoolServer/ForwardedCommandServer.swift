import NIOConcurrencyHelpers
import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolProtocol
import SpoolReplication

/// Runs the client requests other brokers forward to this one (`PeerService.command`): a `PUB`
/// for a partition this broker leads, or the question which partitions it leads. Its answers are
/// values (an offset, an error, leader states); the asking broker renders its client's reply
/// from them with the same code as for its own, so the bytes are the leader's.
public final class ForwardedCommandServer: Sendable {
    let broker: Broker
    let groups: GroupManager
    let limits: SpoolLimits
    let waiter: ForwardedPublishWaiter

    init(broker: Broker, groups: GroupManager, eventLoop: EventLoop, limits: SpoolLimits) {
        self.broker = broker
        self.groups = groups
        self.limits = limits
        self.waiter = ForwardedPublishWaiter(eventLoop: eventLoop)
    }

    /// Answers one forwarded command; `reply` runs once, on any thread.
    public func serve(_ payload: [UInt8], reply: @escaping @Sendable ([UInt8]) -> Void) {
        guard let command = ForwardedCommand(payload: payload, limits: limits) else {
            return reply(ForwardedResult.failed(SpoolError(.badRequest, "a forwarded command this broker cannot read")).payload)
        }
        switch command {
        case .leaderStates(let topic):
            reply(LeaderState.payload(broker.leaderStates(topic: topic)))
        case .publish(let publish):
            waiter.eventLoop.execute { [self] in self.publish(publish, reply: reply) }
        case .fetch(let topic, let partition, let start, let maxRecords, let waitMs):
            let renderer = MessageRenderer(topic: topic, partition: partition)
            // The answer is one peer frame: the read is bounded to fit, whatever fetchBytes allows.
            let maxBytes = min(limits.fetchBytes, Self.replyBytes)
            let read = broker.fetch(
                topic: topic, partition: partition, start: start, maxRecords: maxRecords, maxBytes: maxBytes, waitMs: min(waitMs, limits.fetchWaitMs),
                on: waiter.eventLoop
            ) { view, buffer in renderer.render(view, into: &buffer) }
            Self.reply(read.map { ReadReplies.fetchReply($0, topic, partition) }, reply)
        case .offsets(let topic, let partition, let time):
            let read = broker.offsets(topic: topic, partition: partition, time: time, on: waiter.eventLoop)
            Self.reply(read.map { ByteBuffer(string: ReadReplies.offsetsLine(topic, partition, $0, time: time) + "\n") }, reply)
        case .describe(let topic, let partitions):
            let wanted = Set(partitions)
            let read = broker.describe(topic, on: waiter.eventLoop).map { _, summaries in
                ByteBuffer(string: ReadReplies.describeLines(topic, summaries.filter { wanted.contains($0.partition) }).map { $0 + "\n" }.joined())
            }
            Self.reply(read, reply)
        case .verifyBounds(let topic, let partition):
            let text: String
            switch broker.verifyBounds(topic, partition) {
            case .serving(let earliest, let high)?: text = "\(earliest) \(high)"
            case .offline(let reason)?: text = "offline=\(reason.rawValue)"
            case nil: return reply(ForwardedResult.failed(SpoolError(.unavailable, "no replica of partition \(partition) of \(topic) here")).payload)
            }
            reply(ForwardedResult.rendered(Array(text.utf8)).payload)
        case .verifyChecksum(let topic, let partition, let from, let upTo):
            let sum = broker.verifyChecksum(topic, partition, from: from, upTo: upTo, on: waiter.eventLoop).map { check in
                guard let sum = check.checksum else { return ByteBuffer(string: "offline=\((check.offline ?? .damaged).rawValue)") }
                return ByteBuffer(string: "\(sum.records) \(sum.hex)")
            }
            Self.reply(sum, reply)
        case .groupSync(let bytes):
            guard let request = GroupSyncRequest(payload: bytes, limits: limits) else {
                return reply(ForwardedResult.failed(SpoolError(.badRequest, "a group report this broker cannot read")).payload)
            }
            reply(ForwardedResult.rendered(groups.sync(request).payload).payload)
        case .commitOffset(let commit):
            let loop = waiter.eventLoop
            let stored = loop.flatSubmit {
                GroupOffsets.commit(
                    self.broker, commit.topic, commit.partition, group: commit.group, nextOffset: commit.nextOffset, generation: commit.generation,
                    member: commit.member, hops: commit.hops, on: loop)
            }
            stored.whenComplete { result in
                switch result {
                case .success: reply(ForwardedResult.appended(commit.nextOffset).payload)
                case .failure(let error): reply(ForwardedResult.failed(wireError(error)).payload)
                }
            }
        case .committedOffset(let topic, let partition, let group):
            let read = broker.leaderCommittedOffset(topic: topic, partition: partition, group: group.value, on: waiter.eventLoop)
            Self.reply(read.map { ByteBuffer(string: $0.map { "\($0.rawValue)" } ?? "-") }, reply)
        case .lag(let topic, let group, let live, let partitions):
            let wanted = Set(partitions)
            let read = broker.lag(topic: topic, group: group.value, live: live, on: waiter.eventLoop).map { rows in
                ByteBuffer(string: rows.filter { wanted.contains($0.partition) }.map(GroupOffsets.lagLine).joined())
            }
            Self.reply(read, reply)
        case .groupInfo(let group):
            guard let status = broker.metadataStatus, status.role == .leader else {
                return reply(ForwardedResult.failed(SpoolError(.unavailable, "this broker no longer coordinates consumer groups; retry")).payload)
            }
            let loop = waiter.eventLoop
            Self.reply(group.map { GroupInfo.group($0, groups, broker, on: loop) } ?? GroupInfo.groups(groups, broker, on: loop), reply)
        }
    }

    /// The most bytes of records a forwarded FETCH reads: its answer must fit in one peer frame
    /// (32 MiB by default) with the MSG lines around the values.
    static let replyBytes = 16 << 20

    private static func reply(_ future: EventLoopFuture<ByteBuffer>, _ reply: @escaping @Sendable ([UInt8]) -> Void) {
        future.whenComplete { result in
            switch result {
            case .success(let buffer): reply(ForwardedResult.rendered(Array(buffer.readableBytesView)).payload)
            case .failure(let error): reply(ForwardedResult.failed(wireError(error)).payload)
            }
        }
    }

    private func publish(_ publish: ForwardedPublish, reply: @escaping @Sendable ([UInt8]) -> Void) {
        do {
            let key = publish.key.map { ByteBuffer(bytes: $0) }
            switch try broker.publishRoute(topic: publish.topic, key: key, partition: publish.partition) {
            case .local:
                let token = waiter.register(reply)
                do {
                    _ = try broker.produce(
                        topic: publish.topic, key: key, partition: publish.partition, value: ByteBuffer(bytes: publish.value), waiter: waiter,
                        token: token, ackPoint: publish.acks == .all ? .committed : .durable)
                } catch {
                    waiter.appendFailed(tokens: [token], error: error)
                }
            case .forward(_, let node) where publish.hops > 0:
                // This broker holds a replica but another leads it: pass it on once.
                var onward = publish
                onward.hops -= 1
                ForwardedClient.send(onward, to: node, router: broker.router, timeoutMs: limits.requestTimeoutMs) { result in
                    reply(result.payload)
                }
            case .forward(_, let node):
                reply(
                    ForwardedResult.failed(
                        SpoolError(.unavailable, "partition \(publish.partition) of \(publish.topic): not the leader (leader n\(node.rawValue))")
                    ).payload)
            }
        } catch {
            reply(ForwardedResult.failed(error).payload)
        }
    }
}

/// The `AppendWaiter` of forwarded `PUB`s: each token is one forwarded record's reply.
final class ForwardedPublishWaiter: AppendWaiter, @unchecked Sendable {
    let eventLoop: EventLoop
    /// Read and written on `eventLoop` only.
    private var waiting: [Int: @Sendable ([UInt8]) -> Void] = [:]
    private var nextToken = 0

    init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    func register(_ reply: @escaping @Sendable ([UInt8]) -> Void) -> Int {
        eventLoop.preconditionInEventLoop()
        nextToken += 1
        waiting[nextToken] = reply
        return nextToken
    }

    func appended(topic: TopicName, partition: PartitionID, _ results: [(token: Int, offset: Offset)]) {
        eventLoop.preconditionInEventLoop()
        for (token, offset) in results {
            waiting.removeValue(forKey: token)?(ForwardedResult.appended(offset).payload)
        }
    }

    func appendFailed(tokens: [Int], error: SpoolError) {
        eventLoop.preconditionInEventLoop()
        for token in tokens {
            waiting.removeValue(forKey: token)?(ForwardedResult.failed(error).payload)
        }
    }
}

/// Sends one forwarded command to another broker and turns what comes back (or does not) into
/// the result its reply is rendered from: the one place a peer request's failure gets its words.
enum ForwardedClient {
    /// - Parameters:
    ///   - subject: what the command is about, in front of an error (`partition 2 of orders`).
    ///   - unknownOutcome: what a timeout leaves unknown, after it (`; the record may or may not
    ///     have been written`); empty for a read.
    static func send(
        _ command: ForwardedCommand, to node: NodeID, router: ReplicaRouter, timeoutMs: Int64, about subject: String? = nil,
        unknownOutcome: String = "", _ finish: @escaping @Sendable (ForwardedResult) -> Void
    ) {
        let prefix = subject.map { "\($0): " } ?? ""
        router.request(.command, command.payload, to: node, timeoutMs: timeoutMs) { result in
            switch result {
            case .success(let bytes):
                finish(
                    ForwardedResult(payload: bytes)
                        ?? .failed(SpoolError(.unavailable, "\(prefix)broker n\(node.rawValue) answered with bytes this broker cannot read")))
            case .failure(.timedOut(let ms)):
                finish(.failed(SpoolError(.timeout, "\(prefix)broker n\(node.rawValue) did not answer within \(ms) ms\(unknownOutcome)")))
            case .failure(let error):
                finish(.failed(SpoolError(.unavailable, "\(prefix)forwarding to broker n\(node.rawValue) failed: \(error)")))
            }
        }
    }

    /// One `PUB`: the record may have been appended when the leader does not answer in time.
    static func send(
        _ publish: ForwardedPublish, to node: NodeID, router: ReplicaRouter, timeoutMs: Int64,
        _ finish: @escaping @Sendable (ForwardedResult) -> Void
    ) {
        send(
            .publish(publish), to: node, router: router, timeoutMs: timeoutMs, about: "partition \(publish.partition) of \(publish.topic)",
            unknownOutcome: "; the record may or may not have been written", finish)
    }
}
