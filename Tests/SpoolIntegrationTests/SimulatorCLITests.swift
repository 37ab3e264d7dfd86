import Foundation
import Testing

/// `spool-sim` as CI and people run it: exit 0 when every check holds, non-zero when one breaks.
@Suite("spool-sim command line", .timeLimit(.minutes(1)))
struct SimulatorCLITests {
    func run(_ arguments: [String]) async throws -> ChildProcess.Result {
        let binary = try #require(ChildProcess.builtProduct("spool-sim"), "spool-sim is built by swift test")
        return try await ChildProcess.run(binary, arguments, timeout: .seconds(50))
    }

    @Test func aHealthyRunPassesAndAPlantedBugFailsWithItsSeed() async throws {
        let pass = try await run(["--seed", "11", "--nodes", "3"])
        #expect(pass.status == 0, "\(pass.out)")
        #expect(pass.out.contains("seed=11 nodes=3") && pass.out.contains("PASS"))
        let broken = try await run(["--seed", "11", "--nodes", "3", "--inject-corruption"])
        #expect(broken.status != 0)
        // The failure report names the seed and how to run it again.
        let report = broken.out + broken.err
        #expect(report.contains("FAILED seed=11"), "\(report.prefix(400))")
        #expect(report.contains("reproduce: swift run -c release spool-sim --seed 11 --nodes 3 --inject-corruption"))
        let noSeed = try await run(["--nodes", "3"])
        #expect(noSeed.status == 2 && noSeed.err.contains("--seed is required"), "\(noSeed.err)")
        let badNodes = try await run(["--seed", "1", "--nodes", "4"])
        #expect(badNodes.status == 2 && badNodes.err.contains("--nodes must be 3 or 5"), "\(badNodes.err)")
    }
}
