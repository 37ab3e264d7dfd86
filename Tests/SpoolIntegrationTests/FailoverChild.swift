import Foundation
import NIOCore
import NIOPosix
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `spool` command running in the background for the failover tests: standard output and
/// error go to files in a folder of its own (no pipe can fill up and stall it), standard input is
/// a pipe the test writes to (or /dev/null). `stop()` kills it and removes the folder; call it in
/// a `defer` so a failing test leaves nothing behind.
final class FailoverChild: @unchecked Sendable {  // the Process is only signalled and polled
    let process: SpawnedProcess
    let folder: String
    private let input: Pipe?

    init(_ arguments: [String], withInput: Bool = false) throws {
        let executable = try #require(ChildProcess.builtProduct("spool"), "the spool binary is not built")
        folder = NSTemporaryDirectory() + "spool-failover-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["stdout", "stderr"] { _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: nil) }
        process = SpawnedProcess()
        process.executableURL = executable
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        variables["SPOOL_SERVER"] = nil
        process.environment = variables
        input = withInput ? Pipe() : nil
        process.standardInput = input ?? FileHandle(forReadingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: folder + "/stdout")
        process.standardError = FileHandle(forWritingAtPath: folder + "/stderr")
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    var out: String { (try? String(contentsOfFile: folder + "/stdout", encoding: .utf8)) ?? "" }
    var err: String { (try? String(contentsOfFile: folder + "/stderr", encoding: .utf8)) ?? "" }
    var lines: [String] { out.split(separator: "\n").map(String.init) }

    /// Writes `text` to the command's standard input.
    func write(_ text: String) throws {
        try #require(input).fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// Closes standard input: end of input for `produce`.
    func closeInput() throws {
        try input?.fileHandleForWriting.close()
    }

    /// Waits for the command to exit; its status.
    func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        try await eventually(timeout: timeout, "spool \(process.arguments?.first ?? "") to exit") { !self.process.isRunning }
        return process.terminationStatus
    }

    /// SIGKILL (if still running), then the folder goes. Safe to call twice.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? input?.fileHandleForWriting.close()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

enum FailoverPorts {
    /// A port on 127.0.0.1 that was free a moment ago and has no listener now: a broker that is
    /// down, or one that a later spoold will listen on.
    static func closed() async throws -> Int {
        // Below the ephemeral range (see `FreePorts`): no other test's bind(0) or outgoing
        // connection takes it meanwhile, and a connect to it cannot meet itself.
        try FreePorts.pick(1)[0]
    }

    /// Whether a TCP socket on this host is connected to 127.0.0.1:`port` and not yet closed by
    /// its owner (ESTABLISHED or CLOSE_WAIT in /proc/net/tcp).
    static func connected(toPort port: Int) -> Bool {
        ((try? ProcessProbe.procFile("/proc/net/tcp")) ?? "").split(separator: "\n").dropFirst().contains { row in
            let fields = row.split(separator: " ")
            guard fields.count > 3, fields[3] == "01" || fields[3] == "08" else { return false }
            let remote = fields[2].split(separator: ":")
            return remote.count == 2 && Int(remote[1], radix: 16) == port
        }
    }
}

/// A fake broker that answers every request, `PUB`s included (their payload skipped), with
/// `ERR SHUTTING_DOWN`: a broker in the middle of a graceful stop, at a moment a test can rely on.
final class StoppingBroker: Sendable {
    let port: Int
    private let channel: Channel

    static func start() async throws -> StoppingBroker {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(StoppingHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return StoppingBroker(channel: channel, port: try #require(channel.localAddress?.port))
    }

    private init(channel: Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    func close() async { try? await channel.close() }
}

private final class StoppingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var buffer = ByteBuffer()
    private var skip = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while true {
            if skip > 0 {
                let n = min(skip, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: n)
                skip -= n
                if skip > 0 { break }
            }
            guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { break }
            let line = buffer.readString(length: newline - buffer.readerIndex)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.hasPrefix("PUB "), let count = Int(line.split(separator: " ").last ?? "") { skip = count + 1 }
            context.write(wrapOutboundOut(ByteBuffer(string: "ERR SHUTTING_DOWN the broker is shutting down\n")), promise: nil)
        }
        context.flush()
    }
}
