import SpoolCore

/// A broker address: `HOST:PORT`, `[IPv6]:PORT`, or `HOST` alone (port 7070).
public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
    public static let defaultPort = 7070
    public static let fallback = ServerAddress(host: "127.0.0.1", port: defaultPort)

    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Returns nil for an empty host or a port outside 1...65535.
    public init?(_ text: String) {
        var host = Substring(text)
        var port = ServerAddress.defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    /// A comma-separated list, `h1:p1,h2:p2,...` (Kafka's `bootstrap.servers` form; spaces after
    /// a comma are allowed). Nil when the list is empty or any entry is not an address. A repeated
    /// address is kept once (its first place), so a reconnect never "moves" to the broker it lost.
    public static func list(_ text: String) -> [ServerAddress]? {
        var result: [ServerAddress] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = entry.trimmingPrefix(while: { $0 == " " })
            guard let address = ServerAddress(String(trimmed)) else { return nil }
            if !result.contains(address) { result.append(address) }
        }
        return result.isEmpty ? nil : result
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The order in which a list of addresses is tried.
public enum AddressOrder: Sendable, Equatable {
    /// As listed: the first address is always preferred (predictable; what the CLI does).
    case listed
    /// A permutation chosen by `seed` (NATS shuffles its server list by default, Kafka picks a
    /// random bootstrap server), so many clients given the same list spread over the brokers. The
    /// same seed gives the same order, so a test can reproduce it.
    case shuffled(seed: UInt64)

    /// `addresses` in this order.
    public func arrange(_ addresses: [ServerAddress]) -> [ServerAddress] {
        switch self {
        case .listed: return addresses
        case .shuffled(let seed):
            var generator = SplitMix64(seed: seed)
            return addresses.shuffled(using: &generator)
        }
    }
}
