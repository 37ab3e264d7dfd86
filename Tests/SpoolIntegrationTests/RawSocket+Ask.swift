import Foundation

extension RawSocket {
    /// Sends one request line and reads the one-line reply.
    func ask(_ line: String) throws -> String {
        try send(line + "\n")
        return try readLine()
    }

    /// Sends one request line and reads lines up to and including the one starting with `end`
    /// (or a first-line `ERR`).
    func askBlock(_ line: String, until end: String = "END") throws -> [String] {
        try send(line + "\n")
        var lines: [String] = []
        while true {
            let reply = try readLine()
            lines.append(reply)
            if reply.hasPrefix(end) || (lines.count == 1 && reply.hasPrefix("ERR ")) { return lines }
        }
    }
}
