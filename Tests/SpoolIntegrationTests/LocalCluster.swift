import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Free loopback ports for brokers' peer listeners, which must be known before they start (every
/// broker's --peers names them all).
///
/// They come from below the kernel's ephemeral range (`ip_local_port_range`, 32768-60999 by
/// default): a port picked there, released and bound by a spoold a moment later could meanwhile
/// be handed to any other test's bind(0) or outgoing connection (seen in a full run: "already in
/// use"). Below that range only another picker like this one could take it.
enum FreePorts {
    /// `count` distinct ports below the ephemeral range that were free a moment ago.
    static func pick(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var ports: [Int] = []
        let range = 20_000..<min(32_768, ephemeralLow)
        for _ in 0..<(count * 200) where ports.count < count {
            let port = Int.random(in: range)
            guard !ports.contains(port) else { continue }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw RawSocketError.failed("socket") }
            sockets.append(fd)  // held until all are picked, so no port is handed out twice
            if bind(fd, port: port) != nil { ports.append(port) }
        }
        guard ports.count == count else { throw RawSocketError.failed("no \(count) free ports below \(range.upperBound)") }
        return ports
    }

    /// The low end of the kernel's ephemeral port range (32768 when it cannot be read).
    static let ephemeralLow: Int = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32_768
    }()

    /// `count` consecutive free ports (the example scripts take a base port and count up).
    static func consecutive(_ count: Int) throws -> Int {
        for _ in 0..<200 {
            let base = Int.random(in: 20_000...(min(32_768, ephemeralLow) - count))
            var sockets: [Int32] = []
            defer { for fd in sockets { close(fd) } }
            var free = true
            for port in base..<(base + count) {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                sockets.append(fd)
                if fd < 0 || bind(fd, port: port) == nil {
                    free = false
                    break
                }
            }
            if free { return base }
        }
        throw RawSocketError.failed("no \(count) consecutive free ports")
    }

    /// Binds `fd` to 127.0.0.1:`port` (0: any); the bound port, or nil.
    private static func bind(_ fd: Int32, port: Int) -> Int? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// One broker as `METADATA` shows it.
struct MetadataBroker: Equatable, CustomStringConvertible {
    var id: Int
    var address: String
    var up: Bool
    var description: String { "BROKER \(id) \(address) \(up ? "up" : "down")" }
}

/// `METADATA [topic]` over a raw socket: every line up to and including `END ...`.
func metadata(port: Int, topic: String? = nil) throws -> [String] {
    let socket = try RawSocket(port: port, timeoutSeconds: 5)
    try socket.send(topic.map { "METADATA \($0)\n" } ?? "METADATA\n")
    var lines: [String] = []
    while true {
        let line = try socket.readLine()
        lines.append(line)
        if line.hasPrefix("END") || line.hasPrefix("ERR") { return lines }
    }
}

/// The BROKER lines of `METADATA` on the broker at `port`.
func metadataBrokers(port: Int) throws -> [MetadataBroker] {
    try metadata(port: port).compactMap { line in
        let words = line.split(separator: " ").map(String.init)
        guard words.count == 4, words[0] == "BROKER", let id = Int(words[1]) else { return nil }
        return MetadataBroker(id: id, address: words[2], up: words[3] == "up")
    }
}

/// Runs `body` with a `LocalCluster` of `size` brokers (none started yet) and afterwards kills
/// what still runs and removes every folder, however `body` ended.
func withLocalCluster<T>(size: Int, _ body: (LocalCluster) async throws -> T) async throws -> T {
    let cluster = try LocalCluster(size: size)
    return try await always(body: { try await body(cluster) }, then: { cluster.stopAndRemove() })
}

/// Real spoold processes forming one cluster on 127.0.0.1: clients on free ports, peers on
/// ports picked free before the start, a temporary folder per broker. Made by `withLocalCluster`,
/// which stops and removes it whatever the test did.
final class LocalCluster: @unchecked Sendable {  // used by one test at a time
    let peerPorts: [Int]
    let folders: [String]
    private(set) var brokers: [SpooldProcess?]

    /// Picks the ports and folders; starts nothing.
    fileprivate init(size: Int) throws {
        peerPorts = try FreePorts.pick(size)
        folders = try (0..<size).map { _ in try TestBroker.makeTemporaryDirectory() }
        brokers = Array(repeating: nil, count: size)
    }

    /// `1=127.0.0.1:<peer port>,...`
    var peers: String { peerPorts.enumerated().map { "\($0.offset + 1)=127.0.0.1:\($0.element)" }.joined(separator: ",") }

    /// The cluster options of node `id` (1-based).
    func arguments(_ id: Int, extra: [String] = []) -> [String] {
        ["--node-id", "\(id)", "--peer-listen", "127.0.0.1:\(peerPorts[id - 1])", "--peers", peers] + extra
    }

    /// Starts node `id` (1-based) in its folder.
    @discardableResult
    func start(_ id: Int, extra: [String] = [], logFile: String? = nil, environment: [String: String] = [:]) throws -> SpooldProcess {
        // A log file takes the broker's stderr (the shell redirects it before spoold starts).
        let shell = logFile.map { "exec 2>>'\($0)'" }
        let process = try SpooldProcess.start(
            dataDirectory: folders[id - 1], extraArguments: arguments(id, extra: extra), environment: environment, shell: shell)
        brokers[id - 1] = process
        return process
    }

    func startAll() throws {
        for id in 1...brokers.count { try start(id) }
    }

    func port(_ id: Int) -> Int { brokers[id - 1]!.port }

    /// SIGTERM to node `id`; its exit status.
    func terminate(_ id: Int) -> Int32? {
        defer { brokers[id - 1] = nil }
        return brokers[id - 1]?.terminate()
    }

    /// SIGKILL to node `id`, waiting until it is gone.
    func kill(_ id: Int) {
        brokers[id - 1]?.kill()
        brokers[id - 1] = nil
    }

    /// SIGSTOP / SIGCONT to node `id`.
    func pause(_ id: Int) { brokers[id - 1]?.pause() }
    func resume(_ id: Int) { brokers[id - 1]?.resume() }

    func stopAndRemove() {
        for broker in brokers { broker?.kill() }
        brokers = brokers.map { _ in nil }
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
    }
}
