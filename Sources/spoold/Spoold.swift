import ArgumentParser
import Dispatch
import Logging
import NIOCore  // IOError, to say what a failed bind means (comes with SpoolServer)
import SpoolCore
import SpoolEngine
import SpoolServer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `spoold`: the Spool broker. With no arguments: one node, data in ./spool-data, listening on
/// 127.0.0.1:7070.
@main
struct Spoold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spoold",
        abstract: "Spool broker: durable topics in SQLite, a line protocol you can type.",
        discussion: "Every limit below is documented in docs/protocol.md (Limits).")

    @Option(help: "Address to listen on, HOST:PORT ([v6]:PORT for IPv6). Port 0 picks a free one.")
    var listen = "127.0.0.1:7070"

    @Option(help: "Data folder: broker.sqlite3 and topics/<topic>/<partition>.sqlite3.")
    var dataDir = "./spool-data"

    @Option(help: "Threads for SQLite and file work.")
    var storageThreads = 8

    @Option(help: "Threads for network I/O.")
    var networkThreads = 2

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @OptionGroup var limits: LimitOptions

    @OptionGroup(title: "Cluster") var cluster: ClusterOptions

    /// ArgumentParser's own `main`, except that usage errors exit 2 as `spool`'s do (what shell
    /// users expect, as grep and bash builtins do) instead of 64.
    static func main() async {
        do {
            var command = try parseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                let message = Array((fullMessage(for: error) + "\n").utf8)
                _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }

    func validate() throws {
        guard ListenAddress(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        guard storageThreads >= 1, networkThreads >= 1 else { throw ValidationError("thread counts must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        try limits.validate()
        try cluster.validate()
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "spoold")
        let address = ListenAddress(listen)!
        let limits = self.limits.spoolLimits
        let dataDirectory = absolutePath(dataDir)
        let membership = try cluster.resolve()

        try installTestStorageMode(logger: logger)

        let signals = ShutdownSignals()
        FileHandleBudget.raiseSoftLimit(logger: logger)
        let broker: Broker
        do {
            broker = try await Broker.open(
                config: BrokerConfig(
                    dataDirectory: dataDirectory, limits: limits, storageThreads: storageThreads, nodeID: membership.identity.node),
                logger: Logger(label: "spool.engine"))
        } catch {
            throw Failure("spoold: cannot open the data folder: \(error)")
        }
        try await checkClusterMemory(broker, membership.identity, dataDirectory: dataDirectory, logger: logger)
        let server: SpoolServer
        do {
            server = try await SpoolServer.start(
                config: ServerConfig(
                    host: address.host, port: address.port, limits: limits, networkThreads: networkThreads,
                    cluster: Self.clusterView(membership.identity)),
                broker: broker, logger: Logger(label: "spool.server"))
        } catch {
            await broker.shutdown()
            throw Failure(Self.listenFailure(error, address: "\(address.displayHost):\(address.port)"))
        }
        let peers = try await startPeerTransport(membership, server: server, broker: broker)
        let port = server.localAddress?.port ?? address.port
        // The one line that says where the broker is (tests and scripts read the port from it).
        print("spoold listening on \(address.displayHost):\(port) data=\(dataDirectory)\(Self.clusterSuffix(membership))")
        fflush(nil)

        let signal = await signals.wait()
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        // Stop taking connections, let queued writes commit and their replies go out, then close.
        // In a cluster, leaderships move to caught-up followers first (a rolling restart then
        // pauses each partition for a round trip, not an election timeout).
        if peers != nil { await broker.handOffLeadership() }
        await server.stopAccepting()
        await broker.shutdown(on: server.eventLoop)
        await server.shutdown()
        await peers?.shutdown(router: broker.router)
        logger.info("stopped")
    }

    /// What a failed bind means, in words (NIO's error is an errno dump): the common causes have
    /// their own sentence.
    static func listenFailure(_ error: any Error, address: String, option: String = "--listen") -> String {
        guard let io = error as? IOError else { return "spoold: cannot listen on \(address): \(error)" }
        switch io.errnoCode {
        case EADDRINUSE:
            return "spoold: \(address) is already in use (another spoold, or another program, listens there; choose another with \(option))"
        case EACCES:
            return "spoold: not allowed to listen on \(address) (ports below 1024 need privileges; choose another with \(option))"
        case EADDRNOTAVAIL:
            return "spoold: cannot listen on \(address): no interface of this machine has that address"
        default:
            return "spoold: cannot listen on \(address): \(String(cString: strerror(io.errnoCode)))"
        }
    }

    private func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return cwd + "/" + relative
    }
}

/// A startup failure: printed as one line, exit status 1.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// HOST:PORT or [IPv6]:PORT.
struct ListenAddress {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    var displayHost: String { host.contains(":") ? "[\(host)]" : host }
}

/// Waits for SIGINT or SIGTERM (the first one wins).
final class ShutdownSignals: @unchecked Sendable {  // sources are set once in init, then only read
    private let sources: [DispatchSourceSignal]
    private let state = Mutex<(fired: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))

    init() {
        var sources: [DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            sources.append(DispatchSource.makeSignalSource(signal: number, queue: .global()))
        }
        self.sources = sources
        for (source, number) in zip(sources, [SIGINT, SIGTERM]) {
            source.setEventHandler { [self] in self.fire(number) }
            source.resume()
        }
    }

    private func fire(_ number: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32, Never>? in
            guard state.fired == nil else { return nil }
            state.fired = number
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: number)
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state -> Int32? in
                if let fired = state.fired { return fired }
                state.waiter = continuation
                return nil
            }
            if let fired { continuation.resume(returning: fired) }
        }
    }
}
