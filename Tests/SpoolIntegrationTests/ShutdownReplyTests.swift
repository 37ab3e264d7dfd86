import Foundation
import SpoolCore
import Testing

/// Issue 9 item 11: what the broker cannot finish while stopping answers ERR SHUTTING_DOWN.
@Suite("Replies while spoold stops", .timeLimit(.minutes(1)))
struct ShutdownReplyTests {
    @Test func aLongPollingFetchAnswersShuttingDownOnSigterm() async throws {
        let status = try await withSpoold { spoold in
            let socket = try RawSocket(port: spoold.port)
            #expect(try socket.ask("CREATE s") == "OK s partitions=1 replication=1")
            try socket.send("FETCH s 0 latest wait=30000\n")
            // The FETCH has started (and, at the high watermark with wait=, is waiting) once the
            // broker counts it: requests_total counts CREATE, FETCH and each STATS asked here.
            let admin = try RawSocket(port: spoold.port)
            var asked = 0
            try await eventually(timeout: .seconds(30), "the FETCH to start") {
                asked += 1
                let stats = try admin.askBlock("STATS")
                let total = stats.first { $0.hasPrefix("STAT requests_total ") }.flatMap { Int($0.split(separator: " ")[2]) } ?? 0
                return total - asked >= 2
            }
            let status = spoold.terminate()
            #expect(try socket.readLine().hasPrefix("ERR SHUTTING_DOWN"))
            return status
        }
        #expect(status == 0)
    }
}
