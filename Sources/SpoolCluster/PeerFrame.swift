import Raft

/// What brokers send each other over their one TCP connection per pair (docs/cluster.md, "Peer
/// protocol"). Every frame is `u32 body length | u32 CRC-32C of the body | body`, big-endian;
/// the body starts with the frame's kind (`PeerFrameKind`).
public enum PeerFrame: Hashable, Sendable {
    /// The first frame each side sends. A broker of another cluster, an unknown node id or another
    /// protocol version is refused.
    case hello(PeerHello)
    /// The answer to a hello that is not accepted; the sender closes after it.
    case refused(reason: String)
    /// Raft messages of any number of groups, all to the receiving broker: one write carries the
    /// heartbeats of every partition the two brokers share, so idle cost does not grow with them.
    case raft([AddressedMessage])
    /// A request for the receiving broker to do something on the sender's behalf (forward a
    /// metadata command to the metadata leader, a client's command to a partition's leader).
    /// Answered by one `response` with the same id on the same connection.
    case request(PeerRequest)
    case response(PeerResponse)
    /// Sent to every connected peer each `PeerTransportConfig.keepaliveIntervalMs`, whatever else
    /// flows: a peer silent for `livenessTimeoutMs` is not live although its connection is open
    /// (a stopped process, a cut that holds bytes). `generation` counts the replicas the sender
    /// stopped or replaced: a change tells the receiver that a group it shares may have lost its
    /// replica there. Both wake quiesced groups (docs/replication.md, "Quiescence").
    case keepalive(generation: UInt64)
}

/// What a `PeerRequest` asks for: the receiving broker's handler for it decodes the payload.
public enum PeerService: UInt8, Sendable, CaseIterable {
    /// Payload: a metadata group entry (request id and command) to propose; reply: empty on
    /// success, else an error text. The proposer hears the outcome from its own apply.
    case proposeMetadata = 1
    /// Payload: a client's request to run as if it came from a connection to this broker; reply:
    /// the reply bytes the client would have received.
    case command = 2
}

public struct PeerRequest: Hashable, Sendable {
    /// Chosen by the sender, unique among its requests in flight.
    public var id: UInt64
    public var service: PeerService
    public var payload: [UInt8]

    public init(id: UInt64, service: PeerService, payload: [UInt8]) {
        self.id = id
        self.service = service
        self.payload = payload
    }
}

public struct PeerResponse: Hashable, Sendable {
    public var id: UInt64
    /// False when the receiver could not serve the request at all (no handler, a service it does
    /// not know): `payload` is then the reason as UTF-8.
    public var served: Bool
    public var payload: [UInt8]

    public init(id: UInt64, served: Bool, payload: [UInt8]) {
        self.id = id
        self.served = served
        self.payload = payload
    }
}

/// The stable kind byte of each frame.
public enum PeerFrameKind: UInt8, Sendable, CaseIterable {
    case hello = 1
    case refused = 2
    case raft = 3
    case request = 4
    case response = 5
    case keepalive = 6
}

/// Who is on the other end of a peer connection.
public struct PeerHello: Hashable, Sendable {
    /// Bumped when the frame format changes incompatibly.
    public static let currentVersion: UInt16 = 2

    public var version: UInt16
    /// Chosen at the first start of the cluster and kept in every broker's metadata database.
    public var clusterID: String
    public var node: NodeID
    /// Where the sender takes client connections (METADATA shows it; forwarding needs none).
    public var clientAddress: String

    public init(version: UInt16 = PeerHello.currentVersion, clusterID: String, node: NodeID, clientAddress: String) {
        self.version = version
        self.clusterID = clusterID
        self.node = node
        self.clientAddress = clientAddress
    }
}

/// A Raft message and the group it belongs to.
public struct AddressedMessage: Hashable, Sendable {
    public var group: RaftGroupID
    public var message: Message

    public init(group: RaftGroupID, message: Message) {
        self.group = group
        self.message = message
    }
}
