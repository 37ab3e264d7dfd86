// spool-sim: runs the seeded Raft cluster simulation. Exit status 0 when every check holds,
// 1 when an invariant broke (the report names the seed and prints the trace), 2 on bad usage.
//
//   spool-sim --seed N --nodes 3|5 [--steps K] [--seeds-count C] [--trace]
//
// --steps K: ticks of the safety (fault) phase; the liveness phase follows with its own budget.
// --seeds-count C: run seeds N, N+1, ..., N+C-1 and stop at the first failure.
// --trace: print the retained trace even when the run passes.
// --inject-corruption: bug injection (the network alters 5% of append messages without any
//   checksum), to watch the checkers catch it; such runs are expected to fail.
import RaftSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let usage = "usage: spool-sim --seed N --nodes 3|5 [--steps K] [--seeds-count C] [--trace] [--inject-corruption]"

/// A usage error: the message and the usage on standard error, exit status 2.
func fail(_ message: String) -> Never {
    let text = "spool-sim: \(message)\n\(usage)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

func number(_ text: String, _ option: String) -> UInt64 {
    guard let value = UInt64(text) else { fail("\(option) takes an unsigned integer, not \(text)") }
    return value
}

var seed: UInt64?
var nodes: Int?
var steps: UInt64?
var seedsCount: UInt64 = 1
var printTrace = false
var corruption = false
var arguments = CommandLine.arguments.dropFirst()[...]
while let argument = arguments.popFirst() {
    func value() -> String {
        guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
        return value
    }
    switch argument {
    case "--seed": seed = number(value(), argument)
    case "--nodes": nodes = Int(number(value(), argument))
    case "--steps": steps = number(value(), argument)
    case "--seeds-count": seedsCount = number(value(), argument)
    case "--trace": printTrace = true
    case "--inject-corruption": corruption = true
    case "--help", "-h":
        print(usage)
        exit(0)
    default: fail("unknown argument \(argument)")
    }
}
guard let seed else { fail("--seed is required") }
guard let nodes, nodes == 3 || nodes == 5 else { fail("--nodes must be 3 or 5") }
if let steps, steps == 0 { fail("--steps must be positive") }
if seedsCount == 0 { fail("--seeds-count must be positive") }

for current in seed ..< seed + seedsCount {
    var options = SimulationOptions(seed: current, nodeCount: nodes)
    if let steps { options.safetyTicks = steps }
    if corruption { options.corruptionPerMille = 50 }
    let report = Simulation(options: options).run()
    print(report.render())
    if printTrace && report.passed { print(report.trace.render()) }
    if !report.passed { exit(1) }
}
exit(0)
