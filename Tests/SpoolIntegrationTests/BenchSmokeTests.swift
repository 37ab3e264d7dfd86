import Foundation
import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

/// `spool-bench` builds and runs: one tiny run of the whole suite against a spoold it spawns,
/// and one produce run against an in-process broker. These prove the tool works and prints its
/// JSON line; they never assert speed (docs/performance.md has the figures).
@Suite("spool-bench smoke runs", .timeLimit(.minutes(3)))
struct BenchSmokeTests {
    @Test func wholeSuiteRunsOnATinyWorkload() async throws {
        let bench = try #require(ChildProcess.builtProduct("spool-bench"), "spool-bench is built by swift test")
        let spoold = try #require(ChildProcess.builtProduct("spoold"))
        let result = try await ChildProcess.run(
            bench,
            [
                "all", "--spawn", spoold.path, "--sizes", "1,100", "--sqlite-seconds", "0.1", "--records", "2000",
                "--consume-records", "3000", "--single-seconds", "0.05", "--e2e-rate", "2000", "--e2e-seconds", "0.5",
                "--connections", "2", "--depth", "64", "--rounds", "2", "--phase-timeout", "60",
            ],
            timeout: .seconds(150))
        #expect(result.status == 0, "stderr: \(result.err)")
        let report = try Self.jsonLine(result.out)
        #expect(report["bench"] as? String == "all")
        #expect((report["sqlite"] as? [[String: Any]])?.count == 2)
        // The loopback references: both variants ran, each committed what it answered (the tool
        // checks that itself) and is compared with the raw 1-row rate of the same run.
        let loopback = try #require(report["loopback"] as? [[String: Any]])
        #expect(loopback.compactMap { $0["variant"] as? String } == ["inline", "handoff"])
        for reference in loopback {
            #expect((reference["records"] as? Int ?? 0) > 0, "\(reference)")
            #expect(reference["ratio_to_raw_1_row"] is Double, "\(reference)")
        }
        let phases = try #require(report["phases"] as? [[String: Any]])
        #expect(
            phases.compactMap { $0["name"] as? String }
                == ["produce-1p", "produce-4p", "produce-1tx", "preload", "consume-fetch", "consume-sub", "e2e"])
        for phase in phases {
            #expect(phase["errors"] as? Int == 0, "\(phase)")
            #expect((phase["records"] as? Int ?? 0) > 0, "\(phase)")
            #expect(phase["broker_rss_max_mb"] is Double, "a spawned broker's memory is sampled")
        }
        #expect(phases.first { $0["name"] as? String == "consume-fetch" }?["records"] as? Int == 3000)
        // The pipelined runs take turns for --rounds 2 and are reported by their median round.
        for name in ["produce-1p", "produce-4p"] {
            let phase = try #require(phases.first { $0["name"] as? String == name })
            let rounds = try #require(phase["rounds_records_per_s"] as? [Double], "\(name)")
            #expect(rounds.count == 2)
            #expect(rounds.contains(try #require(phase["records_per_s"] as? Double)), "\(name) reports one of its rounds")
        }
        #expect(phases.first { $0["name"] as? String == "produce-1tx" }?["rounds_records_per_s"] == nil)
        #expect(phases.first { $0["name"] as? String == "e2e" }?["records"] as? Int == 1000)
        #expect((report["targets"] as? [[String: Any]])?.isEmpty == false)
    }

    @Test("spool-bench cluster: a single broker, then three, in one tiny run; every figure is reported")
    func clusterRuns() async throws {
        let bench = try #require(ChildProcess.builtProduct("spool-bench"))
        let spoold = try #require(ChildProcess.builtProduct("spoold"))
        try await withTemporaryFolder { scratch in
            let result = try await ChildProcess.run(
                bench,
                [
                    "cluster", "--spawn", spoold.path, "--scratch-dir", scratch, "--records", "2000", "--connections", "2", "--depth", "64",
                    "--kills", "1", "--catch-up-records", "1000", "--idle-partitions", "3", "--idle-seconds", "1",
                ],
                timeout: .seconds(150))
            #expect(result.status == 0, "stderr: \(result.err)")
            let report = try Self.jsonLine(result.out)
            #expect((report["single"] as? [String: Any])?["records"] as? Int == 2000)
            #expect((report["replicated"] as? [String: Any])?["records"] as? Int == 2000)
            #expect((report["replicated"] as? [String: Any])?["errors"] as? Int == 0)
            #expect((report["failover_seconds"] as? [Double])?.count == 1)
            #expect((report["catch_up_records_per_s"] as? Double ?? 0) > 0)
            #expect(report["idle_cpu_percent"] is Double)
            // Its brokers' folders are gone with it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
        }
    }

    @Test func produceRunsAgainstAGivenServer() async throws {
        let bench = try #require(ChildProcess.builtProduct("spool-bench"))
        try await withTestBroker { broker in
            let result = try await ChildProcess.run(
                bench,
                [
                    "produce", "--server", "127.0.0.1:\(broker.port)", "--records", "500", "--keys", "7", "--partitions", "3",
                    "--connections", "2", "--depth", "16", "--phase-timeout", "60",
                ],
                timeout: .seconds(60))
            #expect(result.status == 0, "stderr: \(result.err)")
            let report = try Self.jsonLine(result.out)
            let phase = try #require(report["result"] as? [String: Any])
            #expect(phase["records"] as? Int == 500)
            #expect(phase["errors"] as? Int == 0)
            #expect(phase["broker_rss_max_mb"] == nil, "no pid given, so no memory figure")
            // The run drops its topic: nothing is left behind on the broker.
            let client = try await broker.client()
            #expect(try await client.topics().isEmpty)
            await client.close()
        }
    }

    /// The byte-level PUB reply the server uses on its hot path says exactly what the reference
    /// line (ReplyLine.published) says.
    @Test(arguments: [(0, Int64?.some(0)), (7, 1_234_567_890_123), (2_147_483_647, Int64.max), (3, nil)])
    func publishReplyMatchesTheReferenceLine(partition: Int, offset: Int64?) throws {
        let topic = try #require(TopicName("orders.v2_x-y"))
        var buffer = ByteBuffer()
        PublishReply.write(topic: topic, partition: PartitionID(partition), offset: offset.map { Offset($0) }, into: &buffer)
        let expected = ReplyLine.published(topic, PartitionID(partition), offset: offset.map { Offset($0) }) + "\n"
        #expect(String(buffer: buffer) == expected)
    }

    /// The last line of the output, parsed: the one JSON object scripts read.
    static func jsonLine(_ output: String) throws -> [String: Any] {
        let last = try #require(output.split(separator: "\n").last, "no output")
        let object = try JSONSerialization.jsonObject(with: Data(last.utf8))
        return try #require(object as? [String: Any], "last line is not a JSON object: \(last)")
    }
}
