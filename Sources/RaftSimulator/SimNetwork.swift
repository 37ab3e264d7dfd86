import Raft

/// Messages in flight between simulated nodes, with per-link cuts. Delivery order is decided by
/// (delivery tick, send sequence), so it depends on the seed only.
struct SimNetwork {
    struct InFlight {
        var deliverAt: UInt64
        var sequence: UInt64
        var message: Message
    }

    private(set) var inFlight: [InFlight] = []
    private var sequence: UInt64 = 0
    /// Cut links as (from, to) pairs; looked up, never iterated.
    private var cut: Set<Link> = []

    struct Link: Hashable {
        var from: NodeID
        var to: NodeID
    }


    func isCut(from: NodeID, to: NodeID) -> Bool { cut.contains(Link(from: from, to: to)) }

    mutating func cutLink(from: NodeID, to: NodeID) { cut.insert(Link(from: from, to: to)) }

    mutating func partition(_ groups: [[NodeID]]) {
        for (i, group) in groups.enumerated() {
            for (j, other) in groups.enumerated() where i != j {
                for a in group { for b in other { cut.insert(Link(from: a, to: b)) } }
            }
        }
    }

    mutating func heal() { cut.removeAll() }

    mutating func enqueue(_ message: Message, deliverAt: UInt64) {
        sequence += 1
        inFlight.append(InFlight(deliverAt: deliverAt, sequence: sequence, message: message))
    }

    /// Removes and returns the messages due by `tick`, in delivery order.
    mutating func takeDue(by tick: UInt64) -> [Message] {
        var due: [InFlight] = []
        var remaining: [InFlight] = []
        remaining.reserveCapacity(inFlight.count)
        for item in inFlight {
            if item.deliverAt <= tick { due.append(item) } else { remaining.append(item) }
        }
        inFlight = remaining
        due.sort { ($0.deliverAt, $0.sequence) < ($1.deliverAt, $1.sequence) }
        return due.map(\.message)
    }
}
