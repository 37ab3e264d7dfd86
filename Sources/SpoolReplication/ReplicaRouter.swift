import NIOConcurrencyHelpers
import Raft
import SpoolCluster
import SpoolCore
import SpoolPeer

/// One per broker: takes the Raft messages `PeerTransport` receives (its receive hook) to the
/// driver of their group, and a driver's outgoing messages to the transport, which coalesces them
/// per peer (the heartbeats of every group two brokers share travel in one frame).
///
/// Neither direction blocks: delivering only fills a driver's mailbox, sending only queues on the
/// transport. Messages for a group with no driver here are held a short while (`Early`): a new
/// partition's preferred leader asks for votes the moment it opens, often before the other
/// brokers have applied the placement and opened theirs, and a vote request dropped then would
/// cost a whole election timeout. What is not claimed in time (a dropped group's) is counted and
/// dropped; Raft resends.
public final class ReplicaRouter: RaftMessageSender, Sendable {
    private let drivers = NIOLockedValueBox<[RaftGroupID: ReplicaDriver]>([:])
    private let transport = NIOLockedValueBox<PeerTransport?>(nil)
    private let counters = NIOLockedValueBox(Counters())
    private let early = NIOLockedValueBox(Early())

    /// Messages received for groups not registered yet, bounded in groups, messages and age.
    struct Early {
        static let maxGroups = 256
        static let maxMessagesPerGroup = 64
        static let maxAgeNs: UInt64 = 2_000_000_000
        var held: [RaftGroupID: (sinceNs: UInt64, messages: [Message])] = [:]
    }

    public struct Counters: Hashable, Sendable {
        /// Received messages delivered to a driver.
        public var delivered = 0
        /// Received messages for a group without a driver here, dropped: not claimed within
        /// `Early.maxAgeNs`, or past the bounds of what is held.
        public var droppedUnknownGroup = 0
        /// Received messages for a group without a driver here, held now for its driver.
        public var held = 0
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
        deliverEarly(to: driver)
    }

    /// Registers `driver` in place of whatever driver its group had (a replica replaced after a
    /// failed write).
    public func replace(_ driver: ReplicaDriver) {
        drivers.withLockedValue { $0[driver.group] = driver }
        replicaStopped(driver.group)
        deliverEarly(to: driver)
    }

    private func deliverEarly(to driver: ReplicaDriver) {
        let now = WallClock.monotonicNs()
        guard let held = early.withLockedValue({ $0.held.removeValue(forKey: driver.group) }) else { return }
        guard now - held.sinceNs <= Early.maxAgeNs else {
            counters.withLockedValue { $0.droppedUnknownGroup += held.messages.count }
            return
        }
        driver.deliver(held.messages)
        counters.withLockedValue { $0.delivered += held.messages.count }
    }

    /// Holds messages of a group without a driver; the count of those dropped instead.
    private func hold(_ group: RaftGroupID, _ messages: [Message]) -> Int {
        let now = WallClock.monotonicNs()
        return early.withLockedValue { early -> Int in
            var dropped = 0
            for (id, entry) in early.held where now - entry.sinceNs > Early.maxAgeNs {
                dropped += entry.messages.count
                early.held[id] = nil
            }
            if var entry = early.held[group] {
                let room = Early.maxMessagesPerGroup - entry.messages.count
                entry.messages.append(contentsOf: messages.prefix(max(0, room)))
                dropped += max(0, messages.count - max(0, room))
                early.held[group] = entry
            } else if early.held.count < Early.maxGroups {
                early.held[group] = (now, Array(messages.prefix(Early.maxMessagesPerGroup)))
                dropped += max(0, messages.count - Early.maxMessagesPerGroup)
            } else {
                dropped += messages.count
            }
            return dropped
        }
    }

    public func unregister(_ group: RaftGroupID) {
        _ = drivers.withLockedValue { $0.removeValue(forKey: group) }
        replicaStopped(group)
    }

    /// Tells the peers (in the next keepalive) that a replica here went away or was replaced.
    public func replicaStopped(_ group: RaftGroupID) {
        transport.withLockedValue { $0 }?.replicasChanged()
    }

    /// Whether `peer`'s broker is live now (false without a transport).
    public func isLive(_ peer: NodeID) -> Bool { transport.withLockedValue { $0 }?.isLive(peer) ?? false }

    /// Every peer's liveness now (empty without a transport): the ticker wakes quiesced groups on
    /// a change.
    public func peerLiveness() -> [NodeID: PeerLiveness] { transport.withLockedValue { $0 }?.liveness() ?? [:] }

    public var counts: Counters {
        var counts = counters.withLockedValue { $0 }
        counts.held = early.withLockedValue { $0.held.values.reduce(0) { $0 + $1.messages.count } }
        return counts
    }

    /// The transport's receive hook: every message is from `peer` to this broker (the transport
    /// checked both), in the order sent. Order is kept per group.
    public func receive(from peer: NodeID, _ messages: [AddressedMessage]) {
        var byGroup: [RaftGroupID: [Message]] = [:]
        for addressed in messages { byGroup[addressed.group, default: []].append(addressed.message) }
        let targets = drivers.withLockedValue { drivers in byGroup.map { ($0.key, drivers[$0.key], $0.value) } }
        var delivered = 0
        var dropped = 0
        for (group, driver, batch) in targets {
            if let driver {
                driver.deliver(batch)
                delivered += batch.count
            } else {
                dropped += hold(group, batch)
                // Registered in between: what was just held goes to it now.
                if let late = drivers.withLockedValue({ $0[group] }) { deliverEarly(to: late) }
            }
        }
        counters.withLockedValue {
            $0.delivered += delivered
            $0.droppedUnknownGroup += dropped
        }
    }

    /// Sends a request to `peer` over the attached transport (`PeerTransport.request`); fails at
    /// once when no transport is attached.
    public func request(
        _ service: PeerService, _ payload: [UInt8], to peer: NodeID, timeoutMs: Int64,
        _ finish: @escaping @Sendable (Result<[UInt8], PeerRequestError>) -> Void
    ) {
        guard let transport = transport.withLockedValue({ $0 }) else {
            finish(.failure(.unreachable(peer)))
            return
        }
        transport.request(service, payload, to: peer, timeoutMs: timeoutMs, finish)
    }

    /// Whether the transport has a connection to `peer` now (false without a transport).
    public func isConnected(_ peer: NodeID) -> Bool { transport.withLockedValue { $0 }?.isConnected(peer) ?? false }

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
