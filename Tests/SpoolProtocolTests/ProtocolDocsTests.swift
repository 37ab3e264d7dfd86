import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps docs/protocol.md, `ErrorCode`, `HelpText` and the parser in agreement.
@Suite("docs/protocol.md and help agree with the code")
struct ProtocolDocsTests {
    static var docsURL: String {
        // #filePath is .../Tests/SpoolProtocolTests/ProtocolDocsTests.swift; the repo root is two up.
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/docs/protocol.md"
    }

    static func docs() throws -> String {
        guard let file = fopen(docsURL, "r") else { throw DocsMissing(path: docsURL) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    struct DocsMissing: Error { var path: String }

    /// The codes listed in the "Error codes" table: rows that start with "| `CODE` |".
    static func documentedCodes(_ text: String) -> Set<String> {
        var codes: Set<String> = []
        var inSection = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { inSection = line == "## Error codes" }
            guard inSection, line.hasPrefix("| `") else { continue }
            let word = line.dropFirst(3).prefix { $0 != "`" }
            codes.insert(String(word))
        }
        return codes
    }

    @Test("every ErrorCode is documented, and every documented code exists")
    func errorCodes() throws {
        let documented = Self.documentedCodes(try Self.docs())
        let wire = Set(ErrorCode.allCases.map(\.wire))
        #expect(documented == wire, "only in docs: \(documented.subtracting(wire)); undocumented: \(wire.subtracting(documented))")
    }

    @Test("every command has help, a section in the reference, and parses its own example")
    func commands() throws {
        let text = try Self.docs()
        for help in HelpText.commands {
            #expect(text.contains("### \(help.verb)"), "no section for \(help.verb)")
            #expect(HelpText.replyLines(for: help.verb.lowercased())?.last == "END HELP")
            var parser = RequestParser(limits: SpoolLimits())
            var input = ByteBuffer(string: help.example + "\n")
            guard case .request(let request)? = parser.next(from: &input) else {
                Issue.record("example of \(help.verb) does not parse: \(help.example)")
                continue
            }
            #expect(request.verb == help.verb)
            for line in help.description { #expect(line.count <= 100 && !line.contains("\n")) }
        }
        #expect(HelpText.replyLines(for: "NOSUCH") == nil)
        #expect(HelpText.replyLines(for: nil)?.count == HelpText.commands.count + 1)
    }

    @Test("every limit is in the Limits table with its default, and the flags named here too")
    func limits() throws {
        let text = try Self.docs()
        // Every stored limit, found by reflection so a new one cannot be missed: its row starts
        // with its name and its default value.
        let defaults = Mirror(reflecting: SpoolLimits()).children.compactMap { child in
            child.label.map { ($0, "\(child.value)") }
        }
        #expect(defaults.count >= 18)
        for (name, value) in defaults {
            #expect(text.contains("| `\(name)` | \(value) "), "limit \(name) with default \(value)")
        }
        let flags = [
            "lineBytes": "--line-bytes", "payloadBytes": "--payload-bytes", "keyBytes": "--key-bytes",
            "connections": "--max-connections", "pendingRequestsPerConnection": "--pending-requests",
            "fetchRecords": "--fetch-records", "fetchBytes": "--fetch-bytes", "fetchWaitMs": "--fetch-wait-ms",
            "partitionsPerTopic": "--partitions-per-topic", "topics": "--max-topics",
            "topicNameBytes": "--topic-name-bytes", "commitBatchRecords": "--commit-batch-records",
            "commitBatchBytes": "--commit-batch-bytes", "subscriptionBatchBytes": "--subscription-batch-bytes",
            "groupSessionTimeoutMs": "--group-session-timeout-ms", "groupSessionTimeoutMaxMs": "--group-session-timeout-max-ms",
            "autoCommitIntervalMs": "--auto-commit-interval-ms", "groups": "--max-groups",
            "writeRecoveryRetryMs": "--write-recovery-retry-ms", "requestTimeoutMs": "--request-timeout-ms",
        ]
        for (name, flag) in flags.sorted(by: { $0.key < $1.key }) {
            #expect(text.contains("| `\(name)` |") && text.contains("`\(flag)`"), "limit \(name) / \(flag)")
        }
        for name in ReplyLine.statNames { #expect(text.contains("`\(name)`"), "stat \(name)") }
    }

    @Test("ERR lines are always one line")
    func errorLine() {
        #expect(ReplyLine.error(SpoolError(.badArgument, "a\nb\rc")) == "ERR BAD_ARGUMENT a b c")
        #expect(ReplyLine.error(SpoolError(.storage, "")) == "ERR STORAGE")
    }
}
