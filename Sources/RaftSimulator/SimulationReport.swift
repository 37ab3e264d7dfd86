import Raft

/// The outcome of one run: pass/fail, the violations, a digest of the whole trace, and (on
/// failure) the fault plan, the last trace events and every node's state.
public struct SimulationReport: Sendable {
    public var seed: UInt64
    public var nodeCount: Int
    public var profile: SimulationProfile
    public var violations: [Violation]
    public var ticks: UInt64
    public var convergedAtTick: UInt64?
    public var digest: UInt64
    public var eventCount: Int
    public var stats: SimulationStats
    public var highestCommitted: LogIndex
    public var plan: FaultPlan
    public var trace: Trace
    public var nodeStatus: String
    /// The `spool-sim` command line that replays this run.
    public var reproduceCommand: String

    init(simulation: Simulation) {
        seed = simulation.options.seed
        nodeCount = simulation.options.nodeCount
        profile = simulation.options.profile
        violations = simulation.checker.violations
        ticks = simulation.tick
        convergedAtTick = simulation.convergedAtTick
        digest = simulation.trace.digest
        eventCount = simulation.trace.eventCount
        stats = simulation.stats
        highestCommitted = simulation.checker.highestCommitted
        plan = simulation.plan
        trace = simulation.trace
        nodeStatus = simulation.nodeStatus()
        let options = simulation.options
        var command = "swift run -c release spool-sim --seed \(seed) --nodes \(nodeCount)"
        if options.safetyTicks != SimulationOptions(seed: seed, nodeCount: nodeCount).safetyTicks {
            command += " --steps \(options.safetyTicks)"
        }
        if options.corruptionPerMille > 0 { command += " --inject-corruption" }
        reproduceCommand = command
    }

    public var passed: Bool { violations.isEmpty }

    public var summary: String {
        let hex = String(digest, radix: 16)
        return "seed=\(seed) nodes=\(nodeCount) profile=\(profile) \(passed ? "PASS" : "FAIL") ticks=\(ticks)"
            + " converged@\(convergedAtTick.map(String.init) ?? "-") commit=\(highestCommitted.rawValue)"
            + " proposed=\(stats.proposed) refused=\(stats.proposalsRefused) acked=\(stats.acknowledged) elections=\(stats.elections)"
            + " crashes=\(stats.crashes) compactions=\(stats.compactions) snapshots=\(stats.snapshotsInstalled)"
            + " transfers=\(stats.leadershipTransfers)"
            + " delivered=\(stats.messagesDelivered) dropped=\(stats.messagesDropped) digest=\(hex)"
    }

    /// The full failure report: how to reproduce, what broke, the plan, the trace, the nodes.
    public func render() -> String {
        var lines = [summary]
        guard !passed else { return lines.joined() }
        lines.append("reproduce: \(reproduceCommand)")
        lines.append(contentsOf: violations.map(\.description))
        lines.append("fault plan:")
        lines.append(contentsOf: plan.events.map { "  t=\($0.tick) \($0.fault)" })
        lines.append("last \(trace.lines.count) of \(eventCount) events:")
        lines.append(trace.render())
        lines.append("nodes at the end:")
        lines.append(nodeStatus)
        lines.append("FAILED seed=\(seed) nodes=\(nodeCount)")
        return lines.joined(separator: "\n")
    }
}
