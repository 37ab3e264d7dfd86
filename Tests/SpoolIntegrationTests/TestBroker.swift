import Foundation
import Logging
import NIOCore
import NIOPosix
import SpoolClient
import SpoolCore
import SpoolEngine
import SpoolServer
// `eventually` and `TimeoutError` for every file of these tests (test support, shared by the
// test targets).
@_exported import SpoolFaultProxy

/// A real broker and server in this process, on 127.0.0.1 with a free port. Start it with
/// `withTestBroker` (TestLifecycle.swift), which always stops it and removes its folder.
final class TestBroker: Sendable {
    let server: SpoolServer
    let broker: Broker
    let dataDirectory: String
    let port: Int

    /// Opens a broker on `dataDirectory` and starts its server; a server that cannot start shuts
    /// the broker down again (it holds the folder's lock and storage threads).
    static func start(limits: SpoolLimits = SpoolLimits(), dataDirectory: String) async throws -> TestBroker {
        _ = raisedFileLimit
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let broker = try await Broker.open(
            config: BrokerConfig(dataDirectory: dataDirectory, limits: limits, storageThreads: 4), logger: logger)
        let server: SpoolServer
        do {
            server = try await SpoolServer.start(
                config: ServerConfig(host: "127.0.0.1", port: 0, limits: limits, networkThreads: 1), broker: broker, logger: logger,
                eventLoopGroup: networkThreads)
        } catch {
            await broker.shutdown()
            throw error
        }
        return TestBroker(server: server, broker: broker, dataDirectory: dataDirectory, port: server.localAddress!.port!)
    }

    private init(server: SpoolServer, broker: Broker, dataDirectory: String, port: Int) {
        self.server = server
        self.broker = broker
        self.dataDirectory = dataDirectory
        self.port = port
    }

    func client() async throws -> SpoolClient {
        try await SpoolClient.connect(host: "127.0.0.1", port: port)
    }

    func socket(timeoutSeconds: Int = 10) throws -> RawSocket {
        try RawSocket(port: port, timeoutSeconds: timeoutSeconds)
    }

    /// Graceful stop: queued writes commit, files close. The data folder stays for a restart.
    func stop() async {
        await server.stopAccepting()
        await broker.shutdown()
        await server.shutdown()
    }

    /// The network threads every in-process test broker runs on. A full parallel run keeps about
    /// a hundred brokers alive at once; a group each was a hundred threads and 300 descriptors.
    private static let networkThreads = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    /// The broker budgets file descriptors for every allowed connection (1024 by default); as
    /// spoold does, the test process raises its soft limit so a low default cannot refuse CREATEs.
    private static let raisedFileLimit: Int = FileHandleBudget.raiseSoftLimit(logger: Logger(label: "test"))

    static func makeTemporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "spool-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Runs `body` with a deadline; throws `TimeoutError` when it takes longer.
func withDeadline<T: Sendable>(_ timeout: Duration, _ what: String = "operation", _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimeoutError(what: what)
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

/// A value handed between threads (a `Mutex` cannot be captured by an escaping closure).
final class Slot<Value>: @unchecked Sendable {  // `stored` is only touched under `lock`
    private let lock = NSLock()
    private var stored: Value?
    var value: Value? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
