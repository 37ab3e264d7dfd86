import NIOConcurrencyHelpers
import Raft
import SpoolCore

/// What the peer transport knows of the other brokers (SpoolPeer's `PeerTransport` is one; the
/// server does not depend on it).
public protocol PeerStatusSource: Sendable {
    /// Whether the connection to `peer` is established now.
    func isConnected(_ peer: NodeID) -> Bool
    /// The client address `peer` announced in its last hello; nil while it never connected.
    func clientAddress(of peer: NodeID) -> String?
}

/// One voter as `METADATA` shows it.
public struct BrokerState: Equatable, Sendable {
    public var id: NodeID
    /// Its client address, `host:port`; nil while unknown.
    public var address: String?
    public var up: Bool
}

/// The cluster as the client server sees it: this broker's id, every voter, and (once the peer
/// transport runs) which of them are reachable. A broker without cluster options is node 1 alone.
public final class ClusterView: Sendable {
    public let local: NodeID
    /// Every voter, sorted, this broker included.
    public let voters: [NodeID]
    private let state = NIOLockedValueBox<(clientAddress: String?, peers: (any PeerStatusSource)?)>((nil, nil))

    public init(local: NodeID, voters: [NodeID]) {
        precondition(voters.contains(local), "the voters include this broker")
        self.local = local
        self.voters = voters.sorted()
    }

    /// Node 1 alone: a broker started without cluster options.
    public static func singleBroker() -> ClusterView { ClusterView(local: NodeID(1), voters: [NodeID(1)]) }

    /// This broker's client address, `host:port` as bound (SpoolServer sets it once it listens).
    public var clientAddress: String? { state.withLockedValue { $0.clientAddress } }

    func bound(clientAddress: String) { state.withLockedValue { $0.clientAddress = clientAddress } }

    /// Connects the view to the peer transport (started after the client listener, since its
    /// hello carries the client address).
    public func attach(peers: any PeerStatusSource) { state.withLockedValue { $0.peers = peers } }

    /// Every voter in id order: this broker up at its client address, the others as the peer
    /// transport sees them (down, address unknown, before it is attached).
    public func brokers() -> [BrokerState] {
        let (address, peers) = state.withLockedValue { ($0.clientAddress, $0.peers) }
        return voters.map { id in
            if id == local { return BrokerState(id: id, address: address, up: true) }
            return BrokerState(id: id, address: peers?.clientAddress(of: id), up: peers?.isConnected(id) ?? false)
        }
    }
}
