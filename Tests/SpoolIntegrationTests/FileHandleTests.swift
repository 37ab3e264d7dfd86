import Foundation
import SpoolCore
import SpoolEngine
import Testing

/// Issue 9 item 2 (engine half): the broker raises its file descriptor limit, budgets
/// descriptors so that every connection and every open partition fit, refuses a CREATE that
/// would not fit, and says at start when the data folder cannot fit.
@Suite("File descriptor budget", .timeLimit(.minutes(2)))
struct FileHandleTests {
    /// With --max-connections 100 and 8 storage threads, a limit of 400 leaves room for
    /// (400 - 64 - 100 - 16) / 7 = 31 partitions.
    private let arguments = ["--max-connections", "100"]

    @Test func aCreateThatWouldNotFitIsRefused() async throws {
        try await withSpoold(arguments: arguments, shell: "ulimit -n 400") { spoold in
            let socket = try RawSocket(port: spoold.port)
            #expect(try socket.ask("CREATE a partitions=20") == "OK a partitions=20 replication=1")
            let refused = try socket.ask("CREATE b partitions=20")
            #expect(refused.hasPrefix("ERR LIMIT_REACHED not enough file descriptors"), "\(refused)")
            #expect(try socket.ask("CREATE b partitions=11") == "OK b partitions=11 replication=1")
            // Every partition still works under the limit.
            for partition in 0..<20 { #expect(try socket.ask("PUB a partition=\(partition) :x") == "OK a \(partition) 0") }
            for partition in 0..<11 { #expect(try socket.askBlock("FETCH b \(partition) 0").last == "END b \(partition) next=0 high=0") }
        }
    }

    @Test func theSoftLimitIsRaisedTowardTheHardLimit() async throws {
        try await withSpoold(arguments: arguments, shell: "ulimit -S -n 300; ulimit -H -n 4000") { spoold in
            let limits = try String(contentsOfFile: "/proc/\(spoold.process.processIdentifier)/limits", encoding: .utf8)
            let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
            #expect(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2) == ["4000", "4000"], "\(line)")
            // 300 would hold no partition at all beside 100 connections; 4000 holds 200.
            #expect(try RawSocket(port: spoold.port).ask("CREATE wide partitions=200") == "OK wide partitions=200 replication=1")
        }
    }

    @Test func aDataFolderThatCannotFitIsRefusedAtStartWithWhatToDo() async throws {
        try await withTemporaryFolder { directory in
            try await withSpoold(on: directory, arguments: arguments) { spoold in
                let reply = try RawSocket(port: spoold.port).ask("CREATE big partitions=60")
                #expect(reply == "OK big partitions=60 replication=1")
            }
            let binary = try #require(ChildProcess.builtProduct("spoold"))
            let result = try await ChildProcess.run(
                URL(fileURLWithPath: "/bin/bash"),
                ["-c", "ulimit -n 400; exec \"$0\" \"$@\"", binary.path, "--listen", "127.0.0.1:0", "--data-dir", directory] + arguments)
            #expect(result.status != 0)
            #expect(result.err.contains("60 partitions and 100 connections need 600 file descriptors"), "\(result.err)")
            #expect(result.err.contains("may open 400 (ulimit -n)"), "\(result.err)")
            #expect(result.err.contains("raise the limit"), "\(result.err)")
        }
    }

    /// The budget per partition is what a partition really holds: measured on a running spoold
    /// whose partitions are all written and read by many connections at once.
    @Test func aPartitionCostsAtMostItsBudget() async throws {
        try await withSpoold { spoold in
            let pid = spoold.process.processIdentifier
            let sockets = try (0..<8).map { _ in try RawSocket(port: spoold.port) }
            let before = try openDescriptors(pid)
            let partitions = 10
            #expect(try sockets[0].ask("CREATE m partitions=\(partitions)").hasPrefix("OK"))
            for round in 0..<5 {
                for (index, socket) in sockets.enumerated() {
                    for partition in 0..<partitions { try socket.send("PUB m partition=\(partition) :\(round)-\(index)\n") }
                    for partition in 0..<partitions { try socket.send("FETCH m \(partition) 0 max=1\n") }
                }
                for socket in sockets {
                    for _ in 0..<partitions { #expect(try socket.readLine().hasPrefix("OK m ")) }
                    for _ in 0..<partitions {
                        while !(try socket.readLine().hasPrefix("END m ")) {}
                    }
                }
            }
            let after = try openDescriptors(pid)
            let budget = partitions * FileHandleBudget.perPartition + 8 * FileHandleBudget.perStorageThread
            #expect(after - before <= budget, "\(after - before) descriptors for \(partitions) partitions; budget \(budget)")
            // And the writer with its WAL and shared memory is really counted (not a loose bound).
            #expect(after - before >= partitions * 3)
        }
    }

    private func openDescriptors(_ pid: Int32) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }
}
