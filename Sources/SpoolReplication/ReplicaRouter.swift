import NIOConcurrencyHelpers
import Raft
import SpoolCluster
import SpoolPeer

/// One per broker: takes the Raft messages `PeerTransport` receives (its receive hook) to the
/// driver of their group, and a driver's outgoing messages to the transport, which coalesces them
/// per peer (the heartbeats of every group two brokers share travel in one frame).
///
/// Neither direction blocks: delivering only fills a driver's mailbox, sending only queues on the
/// transport. Messages for a group with no driver here (not created yet, or dropped) are counted
/// and dropped; Raft resends.
public final class ReplicaRouter: RaftMessageSender, Sendable {
    private let drivers = NIOLockedValueBox<[RaftGroupID: ReplicaDriver]>([:])
    private let transport = NIOLockedValueBox<PeerTransport?>(nil)
    private let counters = NIOLockedValueBox(Counters())

    public struct Counters: Hashable, Sendable {
        /// Received messages delivered to a driver.
        public var delivered = 0
        /// Received messages for a group without a driver here.
        public var droppedUnknownGroup = 0
        /// Outgoing messages with no transport to take them (none attached yet, or a cluster of one).
        public var droppedNoTransport = 0
    }

    public init() {}

    /// The transport to send through. The transport takes its receive hook when it starts, so the
    /// router exists first: `PeerTransport.start(..., receive: router.receive)`, then `attach`.
    public func attach(_ transport: PeerTransport?) {
        self.transport.withLockedValue { $0 = transport }
    }

    public func register(_ driver: ReplicaDriver) {
        drivers.withLockedValue { drivers in
            precondition(drivers[driver.group] == nil, "a second driver for \(driver.group)")
            drivers[driver.group] = driver
        }
    }

    public func unregister(_ group: RaftGroupID) {
        _ = drivers.withLockedValue { $0.removeValue(forKey: group) }
    }

    public var counts: Counters { counters.withLockedValue { $0 } }

    /// The transport's receive hook: every message is from `peer` to this broker (the transport
    /// checked both), in the order sent. Order is kept per group.
    public func receive(from peer: NodeID, _ messages: [AddressedMessage]) {
        var byGroup: [RaftGroupID: [Message]] = [:]
        for addressed in messages { byGroup[addressed.group, default: []].append(addressed.message) }
        let targets = drivers.withLockedValue { drivers in byGroup.map { (drivers[$0.key], $0.value) } }
        var delivered = 0
        var dropped = 0
        for (driver, batch) in targets {
            if let driver {
                driver.deliver(batch)
                delivered += batch.count
            } else {
                dropped += batch.count
            }
        }
        counters.withLockedValue {
            $0.delivered += delivered
            $0.droppedUnknownGroup += dropped
        }
    }

    public func send(_ messages: [Message], group: RaftGroupID) {
        guard !messages.isEmpty else { return }
        guard let transport = transport.withLockedValue({ $0 }) else {
            counters.withLockedValue { $0.droppedNoTransport += messages.count }
            return
        }
        if messages.allSatisfy({ $0.to == messages[0].to }) {
            transport.send(messages.map { AddressedMessage(group: group, message: $0) }, to: messages[0].to)
            return
        }
        var byPeer: [NodeID: [AddressedMessage]] = [:]
        for message in messages { byPeer[message.to, default: []].append(AddressedMessage(group: group, message: message)) }
        for (peer, batch) in byPeer { transport.send(batch, to: peer) }
    }
}
