/// A broker address: `HOST:PORT`, `[IPv6]:PORT`, or `HOST` alone (port 7070).
struct ServerAddress: Sendable, Equatable, CustomStringConvertible {
    static let defaultPort = 7070
    static let fallback = ServerAddress(host: "127.0.0.1", port: defaultPort)

    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Returns nil for an empty host or a port outside 1...65535.
    init?(_ text: String) {
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

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
