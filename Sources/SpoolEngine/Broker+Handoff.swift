import NIOCore
import NIOPosix
import Raft
import SpoolReplication

extension Broker {
    /// How long a graceful stop waits for its leaderships to move: two election timeouts of the
    /// default settings. A transfer that has not finished by then is abandoned by the core anyway
    /// (thesis §3.10), and the stop goes on: the partition then waits an election timeout.
    static let handoffWaitMs: Int64 = 2_000

    /// Before a graceful stop in a cluster: every group this broker leads (its partitions and the
    /// metadata group) hands leadership to a follower that holds every committed entry and is
    /// connected now (Raft's leadership transfer: the follower campaigns at once, so clients see
    /// a pause of a round trip or two instead of an election timeout). Waits until none of them is
    /// led here any more, or `handoffWaitMs`. Returns (handed over, transfers started).
    @discardableResult
    public func handOffLeadership() async -> (moved: Int, started: Int) {
        var drivers: [ReplicaDriver] = []
        for topic in topics.withLockedValue({ Array($0.values) }) {
            for log in topic.partitions where log.voters.count > 1 {
                if let driver = log.activeDriver { drivers.append(driver) }
            }
        }
        if let metadata = clusterGroup { drivers.append(metadata.driver) }
        var asked: [ReplicaDriver] = []
        for driver in drivers {
            let status = driver.status
            guard status.role == .leader, !status.stopped else { continue }
            guard let transferee = status.inSync.first(where: { $0 != config.nodeID && router.isConnected($0) }) else { continue }
            driver.transferLeadership(to: transferee)
            asked.append(driver)
        }
        let started = asked
        guard !started.isEmpty else { return (0, 0) }
        let loop = ticker.eventLoop
        let deadline = NIODeadline.now() + .milliseconds(Self.handoffWaitMs)
        let promise = loop.makePromise(of: Void.self)
        @Sendable func check() {
            if started.allSatisfy({ $0.status.role != .leader }) || NIODeadline.now() >= deadline { return promise.succeed(()) }
            loop.scheduleTask(in: .milliseconds(10)) { check() }
        }
        loop.execute { check() }
        try? await promise.futureResult.get()
        let moved = started.count(where: { $0.status.role != .leader })
        logger.info(
            "handed leadership to caught-up followers before stopping",
            metadata: ["groups.moved": "\(moved)", "groups.asked": "\(started.count)"])
        return (moved, started.count)
    }
}
