import Foundation
import Testing

/// The cluster's pure parts stay pure: no sockets, files, clocks or threads can creep in, because
/// the module may import only the id and Raft cores and NIOCore's byte buffers.
@Suite("Tidy: SpoolCluster")
struct ClusterTidyTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/SpoolCluster")
    static let allowed: Set<String> = ["SpoolCore", "Raft", "NIOCore"]

    @Test func importsOnlyPureModules() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard let at = words.firstIndex(of: "import"), words[..<at].allSatisfy({ $0.hasPrefix("@") || ["public", "internal", "package"].contains($0) })
                else { continue }
                let module = words.dropFirst(at + 1).first { !["struct", "class", "enum", "func"].contains($0) } ?? ""
                #expect(Self.allowed.contains(String(module.split(separator: ".").first ?? "")), "\(file) imports \(module)")
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            #expect(lines <= 500, "\(file) has \(lines) lines")
        }
    }
}
