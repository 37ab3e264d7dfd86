import Foundation
import Testing

/// Keeps the pure modules pure (after TigerBeetle's tidy.zig): each may import only the modules
/// named here, so sockets, files, threads or SQLite cannot creep into a core that tests drive
/// without them. And no file in Sources/ grows past the size where it wants splitting. (Raft and
/// its simulator have their own Tidy in RaftTests.)
@Suite("Tidy: pure modules and file sizes", .timeLimit(.minutes(1)))
struct TidyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// Longest file allowed anywhere in Sources/, in lines (STYLE.md: split before ~800).
    static let fileLinesLimit = 800

    /// A pure module, what it may import, and imports allowed in one file only (with the reason).
    struct PureModule: CustomTestStringConvertible, Sendable {
        var name: String
        var allowed: Set<String>
        var fileExceptions: [String: Set<String>] = [:]
        var testDescription: String { name }
    }

    /// The C library, where a file needs it and says why.
    static let libc: Set<String> = ["Glibc", "Darwin", "Musl"]

    static let pureModules = [
        // Only the standard library; `Synchronization` (Mutex, Atomic) if it ever needs a lock.
        // WallClock reads the system clock (clock_gettime); the cores take time as an input.
        PureModule(name: "SpoolCore", allowed: ["Synchronization"], fileExceptions: ["WallClock.swift": libc]),
        // The grammar over NIOCore's byte buffers; memcmp on the hot path of topic names.
        PureModule(name: "SpoolProtocol", allowed: ["SpoolCore", "NIOCore"], fileExceptions: ["PublishArguments.swift": libc]),
        PureModule(name: "SpoolGroups", allowed: ["SpoolCore"]),
        PureModule(name: "SpoolCluster", allowed: ["SpoolCore", "SpoolGroups", "Raft", "NIOCore"]),
        // Not pure (it is the driver of a Raft group), but kept lean: SQLite only through
        // SpoolStorage, sockets only through SpoolPeer, no Foundation.
        PureModule(
            name: "SpoolReplication",
            allowed: ["Raft", "SpoolCore", "SpoolStorage", "SpoolCluster", "SpoolPeer", "NIOCore", "NIOPosix", "NIOConcurrencyHelpers"]),
    ]

    static func files(under folder: String, extension wanted: String? = nil) -> [URL] {
        let url = root.appendingPathComponent(folder).resolvingSymlinksInPath()
        guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return walker.compactMap { $0 as? URL }
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .filter { wanted == nil || $0.pathExtension == wanted }
            .sorted { $0.path < $1.path }
    }

    static let importModifiers: Set<String> = ["public", "package", "internal", "private", "fileprivate"]
    static let importKinds: Set<String> = ["struct", "class", "enum", "protocol", "typealias", "func", "let", "var"]

    /// The modules `text` imports: every import declaration, also indented (inside `#if`), with
    /// attributes or modifiers (`@preconcurrency import`, `public import`) or a kind (`import
    /// struct Foundation.Date`, module `Foundation`). Comments and prose are not declarations.
    static func importedModules(_ text: String) -> [String] {
        var modules: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard let at = words.firstIndex(of: "import"),
                words[..<at].allSatisfy({ $0.hasPrefix("@") || importModifiers.contains($0) })
            else { continue }
            var rest = words[(at + 1)...]
            if let kind = rest.first, importKinds.contains(kind) { rest = rest.dropFirst() }
            modules.append(rest.first.map { String($0.split(separator: ".").first ?? "") } ?? "")
        }
        return modules
    }

    @Test("the import parser sees every form of import and nothing else")
    func importParser() {
        let text = """
            import SpoolCore
            @preconcurrency import NIOCore
            public import struct Foundation.Date
            #if canImport(Glibc)
                import Glibc
            #endif
            // import Commented
            /// The module may import only what is named here.
            let important = 1
            """
        #expect(Self.importedModules(text) == ["SpoolCore", "NIOCore", "Foundation", "Glibc"])
    }

    @Test("pure modules import only what they may", arguments: pureModules)
    func imports(_ module: PureModule) throws {
        let files = Self.files(under: "Sources/\(module.name)", extension: "swift")
        #expect(!files.isEmpty, "no Swift files under Sources/\(module.name)")
        for file in files {
            let allowed = module.allowed.union(module.fileExceptions[file.lastPathComponent] ?? [])
            for imported in Self.importedModules(try String(contentsOf: file, encoding: .utf8)) {
                #expect(allowed.contains(imported), "\(module.name)/\(file.lastPathComponent) imports \(imported)")
            }
        }
    }

    /// Pure files inside a module that is not (SpoolEngine drives NIO and SQLite): the partition
    /// state machine and the recovery back-off decide without I/O, so they import only SpoolCore.
    /// (In SpoolEngine, not a module of their own, so the hot path's generics specialise without
    /// `@inlinable` across a module boundary.)
    static let pureFiles = [
        "Sources/SpoolEngine/PartitionState.swift", "Sources/SpoolEngine/WriteRecovery.swift",
    ]

    @Test("pure files inside a driver module import only SpoolCore", arguments: pureFiles)
    func pureFileImports(_ path: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        for imported in Self.importedModules(text) {
            #expect(imported == "SpoolCore", "\(path) imports \(imported)")
        }
    }

    /// Where a broker may be started by hand: the lifecycle helpers, and the tests of them.
    static let lifecycleFiles: Set<String> = [
        "TestBroker.swift", "SpooldProcess.swift", "TestLifecycle.swift", "TestLifecycleTests.swift", "LocalCluster.swift",
    ]

    /// A test that starts a broker itself can leak it (and its folder) when it fails; a leaked
    /// spoold holding the run's output makes `swift test` hang. `withTestBroker` and `withSpoold`
    /// stop and remove on every path.
    @Test("tests start brokers only through withTestBroker and withSpoold")
    func brokersStartThroughTheLifecycleHelpers() throws {
        let files = Self.files(under: "Tests", extension: "swift")
        #expect(files.contains { $0.lastPathComponent == "TestLifecycle.swift" }, "the helpers are where this test expects them")
        for file in files where !Self.lifecycleFiles.contains(file.lastPathComponent) {
            let text = try String(contentsOf: file, encoding: .utf8)
            // (Spelled in two parts, so that this file does not name itself.)
            for call in ["TestBroker" + ".start(", "SpooldProcess" + ".start("] where text.contains(call) {
                Issue.record("\(file.path.dropFirst(Self.root.path.count + 1)) calls \(call)...): use withTestBroker / withSpoold")
            }
        }
    }

    @Test("no file in Sources/ is longer than 800 lines")
    func fileLength() throws {
        let files = Self.files(under: "Sources")
        #expect(files.count > 50, "only \(files.count) files under Sources/")
        for file in files {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }  // not text
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            #expect(lines <= Self.fileLinesLimit, "\(file.path.dropFirst(Self.root.path.count + 1)) has \(lines) lines")
        }
    }

    /// A closure held as the value itself of a lock box (`NIOLockedValueBox<(...) -> ...?>`,
    /// `Mutex<...Handler?>`) gains a reabstraction thunk at every `withLockedValue` (inout)
    /// access with Swift 6.3: read per request, the chain grew until each call walked 10^5
    /// thunks and then overflowed the stack (a leader at 1.6 cores after ~10^6 forwarded PUBs;
    /// reproduced alone: a crash after ~95,000 reads). Hold it in a final class instead
    /// (`PeerTransport.RequestHandlerBox`); a closure inside a struct or dictionary value is fine.
    @Test("no closure is the value of a lock box")
    func noClosureAsLockBoxValue() throws {
        let pattern = #/(NIOLockedValueBox|Mutex)<(\(*@Sendable|\(\(|[A-Za-z]*Handler\??>)/#
        let files = Self.files(under: "Sources", extension: "swift")
        #expect(files.count > 50)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where line.contains(pattern) {
                Issue.record("\(file.path.dropFirst(Self.root.path.count + 1)):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
    }
}
