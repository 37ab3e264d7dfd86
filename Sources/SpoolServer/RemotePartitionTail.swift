import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// What a plain `SUB` keeps per partition: a `PartitionTail` over this broker's replica, or a
/// `RemotePartitionTail` when the partition has no replica here.
protocol SubscriptionTail: AnyObject {
    var active: Bool { get }
    func start()
    func stop()
}

extension PartitionTail: SubscriptionTail {}

/// What a group member keeps per owned partition: a tail that knows how far it delivered, so
/// auto-commit can store that position.
protocol MemberTail: SubscriptionTail {
    /// The offset after the last record the socket took; nil until known (a remote tail whose
    /// start the replica has not answered yet).
    var deliveredOffset: Offset? { get }
    /// Where delivery started; nil while unknown.
    var startedAt: Offset? { get }
}

extension PartitionTail: MemberTail {
    var deliveredOffset: Offset? { delivered }
    var startedAt: Offset? { startOffset }
}

/// Pushes the records of a partition this broker holds no replica of to a subscribed
/// connection, read from a broker that does (docs/cluster.md, "Any broker accepts any command").
///
/// A loop on the connection's event loop, as `PartitionTail`'s: one forwarded long-polling
/// `FETCH` at a time (`ForwardedCommand.fetch`, waiting up to `waitMs` there for a commit), its
/// records written to the socket, the next asked once the socket has taken them. So at most one
/// peer frame of records per partition is held for a client that stops reading, and the replica
/// serves only committed records, as it does its own subscribers. A replica that does not answer
/// is asked again after `retryMs` (the next replica the placement names, if that one is down).
final class RemotePartitionTail: MemberTail {
    let topic: TopicName
    let partition: PartitionID
    /// Where the next read starts: the SUB's position until the first answer, then an offset.
    private var position: StartPosition
    private weak var handler: ConnectionHandler?
    private let loop: EventLoop
    private(set) var active = true
    /// The offset after the last record the socket took, nil before the first answer.
    private(set) var deliveredOffset: Offset?
    /// Where delivery started: the SUB's offset, or where the replica's first answer put
    /// `earliest`/`latest`; nil until then.
    private(set) var startedAt: Offset?
    static let waitMs: Int64 = 5_000
    static let retryMs: Int64 = 500

    init(topic: TopicName, partition: PartitionID, from: StartPosition, handler: ConnectionHandler, loop: EventLoop) {
        self.topic = topic
        self.partition = partition
        self.position = from
        if case .offset(let offset) = from {
            startedAt = offset
            deliveredOffset = offset
        } else {
            startedAt = nil
        }
        self.handler = handler
        self.loop = loop
    }

    func start() { pump() }

    /// Fixes a `latest` start to the replica's latest offset now, so that a record published
    /// after the SUB's `OK` is delivered, as a local tail's start is fixed at the SUB. Completes
    /// (never fails) once known, or, if the replica does not answer, with `latest` left to the
    /// first read.
    func resolveStart() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        guard case .latest = position, let handler, let node = handler.remoteReplica(topic, partition) else {
            promise.succeed()
            return promise.futureResult
        }
        let loop = self.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        handler.ask(node, .offsets(topic: topic, partition: partition, time: nil), timeoutMs: handler.broker.config.limits.requestTimeoutMs) { result in
            loop.execute {
                if case .success(let bytes) = result,
                    let field = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).first(where: { $0.hasPrefix("latest=") }),
                    let latest = Int64(field.dropFirst(7))
                {
                    bound.value.position = .offset(Offset(latest))
                }
                promise.succeed()
            }
        }
        return promise.futureResult
    }

    func stop() { active = false }

    private func pump() {
        guard active, let handler else { return }
        guard let node = handler.remoteReplica(topic, partition) else {
            // Placed here meanwhile (or the topic is gone): the SUB's view no longer holds.
            return retry()
        }
        let limits = handler.broker.config.limits
        let loop = self.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let read = ForwardedCommand.fetch(topic: topic, partition: partition, start: position, maxRecords: limits.fetchRecords, waitMs: Self.waitMs)
        handler.ask(node, read, timeoutMs: limits.requestTimeoutMs + Self.waitMs) { result in
            loop.execute { bound.value.received(result) }
        }
    }

    private func received(_ result: Result<[UInt8], SpoolError>) {
        guard active else { return }
        switch result {
        case .success(let bytes):
            guard let (records, next) = Self.split(bytes) else { return retry() }
            position = .offset(next)
            guard !records.isEmpty else {
                // Nothing to deliver yet: the start is known now, and nothing was delivered past it.
                if deliveredOffset == nil { (startedAt, deliveredOffset) = (next, next) }
                return pump()
            }
            guard let written = handler?.push(ByteBuffer(bytes: records)) else { return }
            let bound = NIOLoopBound(self, eventLoop: loop)
            written.whenComplete { result in
                if case .success = result, bound.value.active { bound.value.deliveredOffset = next }
                bound.value.pump()
            }
        case .failure(let error) where error.code == .unknownTopic:
            active = false
            handler?.subscriptionEnded(topic, by: self)
        case .failure(let error) where error.code == .offsetOutOfRange:
            position = .earliest
            pump()
        case .failure:
            retry()
        }
    }

    private func retry() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: .milliseconds(Self.retryMs)) { bound.value.pump() }
    }

    /// A rendered FETCH reply split into its `MSG` lines and the `next=` of its `END` line.
    static func split(_ bytes: [UInt8]) -> (records: ArraySlice<UInt8>, next: Offset)? {
        guard bytes.last == UInt8(ascii: "\n") else { return nil }
        let body = bytes.dropLast()
        let start = body.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? body.startIndex
        let end = String(decoding: body[start...], as: UTF8.self)
        guard end.hasPrefix("END "), let field = end.split(separator: " ").first(where: { $0.hasPrefix("next=") }),
            let next = Int64(field.dropFirst(5))
        else { return nil }
        return (bytes[bytes.startIndex..<start], Offset(next))
    }
}
