import Foundation
import Testing

/// `spool-sim` as CI and people run it: exit 0 when every check holds, non-zero when one breaks.
@Suite("spool-sim command line", .timeLimit(.minutes(1)))
struct SimulatorCLITests {
    static var binary: String {
        SpooldProcess.binaryPath.replacingOccurrences(of: "/spoold", with: "/spool-sim", options: .backwards)
    }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func aHealthyRunPassesAndAPlantedBugFailsWithItsSeed() throws {
        let pass = try run(["--seed", "11", "--nodes", "3"])
        #expect(pass.status == 0, "\(pass.output)")
        #expect(pass.output.contains("PASS"))
        let broken = try run(["--seed", "11", "--nodes", "3", "--inject-corruption"])
        #expect(broken.status != 0)
        #expect(broken.output.contains("seed=11") || broken.output.contains("--seed 11"), "\(broken.output.prefix(400))")
        let usage = try run(["--nodes", "4"])
        #expect(usage.status == 2)
    }
}
