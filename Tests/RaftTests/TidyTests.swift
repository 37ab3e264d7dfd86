import Foundation
import Testing

/// Keeps the replication code in shape (after TigerBeetle's tidy.zig): small files, and a Raft core
/// that imports nothing, so it can never grow I/O, clocks or threads.
@Suite("Tidy")
struct TidyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Longest file allowed in the replication folders, in lines.
    static let fileLinesLimit = 500
    static let importModifiers: Set<String> = ["public", "package", "internal", "private", "fileprivate"]
    static let importKinds: Set<String> = ["struct", "class", "enum", "protocol", "typealias", "func", "let", "var"]

    static func swiftFiles(_ folder: String) -> [URL] {
        let url = root.appendingPathComponent(folder).resolvingSymlinksInPath()
        guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
            .sorted { $0.path < $1.path }
    }

    @Test("files stay under the line limit",
          arguments: ["Sources/Raft", "Sources/RaftSimulator", "Sources/spool-sim", "Tests/RaftTests"])
    func fileLength(folder: String) throws {
        let files = Self.swiftFiles(folder)
        #expect(!files.isEmpty, "no Swift files under \(folder)")
        for file in files {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).count
            #expect(lines <= Self.fileLinesLimit, "\(file.lastPathComponent) has \(lines) lines")
        }
    }

    @Test("the Raft core imports nothing; the simulator imports only Raft",
          arguments: [("Sources/Raft", [String]()), ("Sources/RaftSimulator", ["Raft"])])
    func imports(folder: String, allowed: [String]) throws {
        let files = Self.swiftFiles(folder)
        #expect(!files.isEmpty, "no Swift files under \(folder)")
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            // Any import declaration, also with attributes or modifiers (`@preconcurrency import`,
            // `public import`, `import struct Foundation.Date`): the module is the first dotted
            // name after `import` and an optional kind.
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard let at = words.firstIndex(of: "import"), words[..<at].allSatisfy({ $0.hasPrefix("@") || Self.importModifiers.contains($0) })
                else { continue }
                var rest = words[(at + 1)...].drop { $0.isEmpty }
                if let kind = rest.first, Self.importKinds.contains(kind) { rest = rest.dropFirst() }
                let module = rest.first.map { String($0.split(separator: ".").first ?? "") } ?? ""
                #expect(allowed.contains(module), "\(file.lastPathComponent) imports \(module)")
            }
        }
    }
}
