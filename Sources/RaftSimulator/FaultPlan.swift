import Raft

/// The faults of a run's safety phase, generated up front from the seed so a failing run can print
/// the whole plan. Most faults come with their own repair (restart, heal, fast disk) a random
/// duration later, so the cluster keeps moving between failures instead of staying dead.
public struct FaultPlan: Sendable {
    public struct Event: Sendable, Hashable {
        public var tick: UInt64
        public var fault: Fault
    }

    public private(set) var events: [Event] = []

    /// Generates faults between tick 1 and `safetyTicks`, a new one every
    /// `minGapTicks ..< maxGapTicks` ticks; each lasts up to `4 * maxGapTicks` ticks.
    public init(seed: UInt64, nodes: [NodeID], safetyTicks: UInt64, minGapTicks: UInt64, maxGapTicks: UInt64) {
        precondition(maxGapTicks > minGapTicks && minGapTicks > 0, "fault gaps must be a non-empty range")
        var random = SplitMix64(seed: seed ^ 0xFA17_FA17_FA17_FA17)
        var generated: [Event] = []
        /// Nodes down, with the tick of their scheduled restart.
        var down: [(node: NodeID, until: UInt64)] = []
        let minority = (nodes.count - 1) / 2
        var tick = minGapTicks + random.next(below: maxGapTicks - minGapTicks)
        while tick < safetyTicks {
            down.removeAll { $0.until <= tick }
            let duration = 1 + random.next(below: 4 * maxGapTicks)
            let node = nodes[Int(random.next(below: UInt64(nodes.count)))]
            let others = nodes.filter { $0 != node }
            let other = others[Int(random.next(below: UInt64(others.count)))]
            switch random.next(below: 100) {
            case 0 ..< 25:
                var shuffled = nodes
                for i in stride(from: shuffled.count - 1, to: 0, by: -1) {
                    shuffled.swapAt(i, Int(random.next(below: UInt64(i + 1))))
                }
                let cut = 1 + Int(random.next(below: UInt64(nodes.count - 1)))
                generated.append(Event(tick: tick, fault: .partition([Array(shuffled[..<cut]).sorted(), Array(shuffled[cut...]).sorted()])))
                generated.append(Event(tick: tick + duration, fault: .heal))
            case 25 ..< 40:
                generated.append(Event(tick: tick, fault: .cutOneWay(from: node, to: other)))
                generated.append(Event(tick: tick + duration, fault: .heal))
            case 40 ..< 65:
                // Usually keep a majority up; sometimes take the majority down too.
                let limit = random.chance(1, in: 5) ? nodes.count : minority
                if !down.contains(where: { $0.node == node }) && down.count < limit {
                    down.append((node, tick + duration))
                    generated.append(Event(tick: tick, fault: .crash(node)))
                    generated.append(Event(tick: tick + duration, fault: .restart(node)))
                }
            case 65 ..< 85:
                generated.append(Event(tick: tick, fault: .slowDisk(node, latencyTicks: 1 + Int(random.next(below: 8)))))
                generated.append(Event(tick: tick + duration, fault: .fastDisk(node)))
            default:
                generated.append(Event(tick: tick, fault: .transferLeadership(to: node)))
            }
            tick += minGapTicks + random.next(below: maxGapTicks - minGapTicks)
        }
        // Stable sort: events of one tick keep their generation order.
        events = generated.enumerated().sorted { ($0.element.tick, $0.offset) < ($1.element.tick, $1.offset) }.map(\.element)
    }

}
