import Foundation
import Testing

/// What `spoold` says when it cannot start: one plain line, exit status 1.
@Suite("spoold startup errors", .timeLimit(.minutes(1)))
struct SpooldStartupTests {
    /// Runs a second spoold; returns its result.
    func spoold(_ arguments: [String]) async throws -> ChildProcess.Result {
        let binary = try #require(ChildProcess.builtProduct("spoold"), "spoold is built by swift test")
        return try await ChildProcess.run(binary, arguments + ["--log-level", "warning"])
    }

    @Test("a port in use: '127.0.0.1:<port> is already in use', no errno dump")
    func portInUse() async throws {
        try await withSpoold { first in
            try await withTemporaryFolder { otherFolder in
                let second = try await spoold(["--listen", "127.0.0.1:\(first.port)", "--data-dir", otherFolder])
                #expect(second.status == 1)
                #expect(second.err.contains("spoold: 127.0.0.1:\(first.port) is already in use"), "\(second.err)")
                #expect(!second.err.contains("errno") && !second.err.contains("IOError"), "\(second.err)")
            }
        }
    }

    @Test("a data folder in use: the message names the broker holding it and its pid")
    func dataFolderInUse() async throws {
        try await withSpoold { first in
            let second = try await spoold(["--listen", "127.0.0.1:0", "--data-dir", first.dataDirectory])
            #expect(second.status == 1)
            let pid = first.process.processIdentifier
            #expect(second.err.contains("\(first.dataDirectory) is in use by another broker, spoold (pid \(pid))"), "\(second.err)")
        }
    }
}
