import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `spool`'s exit statuses for a stopping broker and for a reader that leaves early (docs/cli.md,
/// Exit codes).
// Three minutes: writing 20 000 records through `spool produce` took over a minute on a loaded
// 2-core machine during a full suite.
@Suite("spool exit statuses", .timeLimit(.minutes(3)))
struct CLIExitStatusTests {
    @Test("ERR SHUTTING_DOWN: exit 75 (EX_TEMPFAIL), the broker's line on standard error")
    func shuttingDown() async throws {
        let broker = try OneLineBroker(reply: "ERR SHUTTING_DOWN the broker is shutting down")
        defer { broker.close() }
        let cli = try SpoolCLI(port: broker.port)
        for arguments in [["fetch", "t", "0"], ["produce", "t", "x"], ["topics"]] {
            let result = try await cli.run(arguments)
            #expect(result.status == 75, "spool \(arguments.joined(separator: " ")): \(result.err)")
            #expect(result.err.hasSuffix("spool: ERR SHUTTING_DOWN the broker is shutting down\n"), "\(result.err)")
        }
        // Any other ERR is still 1: only "try again" gets its own status.
        let refused = try OneLineBroker(reply: "ERR UNKNOWN_TOPIC no topic named t")
        defer { refused.close() }
        #expect(try await SpoolCLI(port: refused.port).run("fetch", "t", "0").status == 1)
    }

    @Test("spool fetch ... | head -1: the first record, then spool ends quietly, killed by SIGPIPE like cat (141)")
    func readerLeavesEarly() async throws {
        try await DocShell.with { shell in
            // Far more than a pipe holds, so spool is still writing when head has gone.
            let lines = (0..<20_000).map { "record \($0)" }
            #expect(try await shell.run("spool create numbers").status == 0)
            #expect(try await shell.run("spool produce numbers", stdin: Array(lines.joined(separator: "\n").utf8)).status == 0)
            // Under `set -o pipefail` the pipeline's status is spool's. Here spool starts with
            // SIGPIPE ignored (inherited from this test process), the case where cat would say
            // "Broken pipe" and exit 1.
            let result = try await shell.run("set -o pipefail; spool fetch numbers 0 | head -1")
            #expect(result.out == "record 0\n")
            #expect(result.err.isEmpty, "\(result.err)")
            #expect(result.status == 141)
            #expect(try await shell.run("set -o pipefail; spool fetch numbers 0 --format json | head -1").status == 141)
        }
    }
}

/// A stand-in broker on 127.0.0.1 that answers every line it receives with `reply`: the honest
/// way to see what `spool` does with one reply the real broker only gives in a narrow window.
final class OneLineBroker: @unchecked Sendable {  // fd is set once; close() is called once, at the end
    let port: Int
    private let fd: Int32
    private let thread: Thread

    init(reply: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard listener >= 0, bound else {
            Glibc.close(listener)
            throw RawSocketError.failed("bind/listen")
        }
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let answer = Array((reply + "\n").utf8)
        // One connection at a time: read what arrives, answer one reply per line end.
        thread = Thread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }  // the listener was closed
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = recv(connection, &chunk, chunk.count, 0)
                    guard n > 0 else { break }
                    let lineEnds = chunk[..<n].filter { $0 == UInt8(ascii: "\n") }.count
                    for _ in 0..<lineEnds { _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
                }
                Glibc.close(connection)
            }
        }
        thread.start()
    }

    /// Stops accepting (the accept thread returns).
    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}
