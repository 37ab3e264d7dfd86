/// One direction of a proxied link: from the side that connected (`clientToServer`) or back.
public enum LinkDirection: Hashable, Sendable, CaseIterable {
    case clientToServer
    case serverToClient
}

/// What the proxy does with the bytes of one direction.
public enum LinkFault: Hashable, Sendable {
    /// Forward at once.
    case pass
    /// Forward after this many milliseconds (order kept).
    case delay(ms: Int64)
    /// Hold every byte until the direction is set back to `pass` or `delay`, then deliver them in
    /// order: what TCP does across a partition that heals before the connection times out.
    case stall
    /// Discard every byte: a stream that loses data mid-way, which the receiver's framing and
    /// checksums must catch.
    case discard
}
