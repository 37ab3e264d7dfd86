import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Socket options and running without root", .timeLimit(.minutes(1)))
struct SocketOptionTests {
    /// TCP_NODELAY is an IPPROTO_TCP option; set as a `socketOption` it was SOL_SOCKET
    /// option 1 (SO_DEBUG). Nagle was off all the same only because SwiftNIO's ServerBootstrap
    /// sets TCP_NODELAY on the listening socket by default and Linux accepted sockets inherit it;
    /// this checks the accepted socket ends up with it, whoever sets it.
    @Test func acceptedConnectionsHaveNagleOff() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket()
            try socket.send("PING\n")
            #expect(try socket.readLine() == "PONG")
            // This process hosts the broker, so the accepted end of this connection is one of our
            // own descriptors: from the broker's port to the client's.
            let accepted = try ProcessProbe.socketDescriptor(localPort: broker.port, remotePort: socket.localPort)
            #expect(try ProcessProbe.tcpOption(accepted, Int32(TCP_NODELAY)) == 1)
        }
    }

    /// The broker needs no privilege: as user 65534 (nobody) with a data folder it may write, a
    /// client gets its PONG. When the suite does not run as root it already runs unprivileged (every
    /// test that starts spoold shows it), and a process cannot switch user: there is nothing more
    /// to try then.
    @Test func spooldServesAsAnUnprivilegedUser() async throws {
        guard getuid() == 0 else { return }
        let nobody: UInt32 = 65534
        let launcher = ["/usr/bin/setpriv", "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups"]
        try await withSpoold(launcher: launcher, prepare: { folder in #expect(chown(folder, nobody, nobody) == 0) }) { spoold in
            let socket = try RawSocket(port: spoold.port)
            try socket.send("PING\nCREATE unprivileged\nPUB unprivileged :x\n")
            #expect(try socket.readLine() == "PONG")
            #expect(try socket.readLine().hasPrefix("OK unprivileged"))
            #expect(try socket.readLine() == "OK unprivileged 0 0")
            #expect(spoold.terminate() == 0)
        }
    }

    /// The client library (here through the `spool` CLI) as user 65534: it set SO_DEBUG too, so
    /// every connect failed with EACCES for anyone but root.
    @Test func theClientConnectsAsAnUnprivilegedUser() async throws {
        guard getuid() == 0 else { return }  // see spooldServesAsAnUnprivilegedUser
        let spool = try #require(ChildProcess.builtProduct("spool"))
        try await withTestBroker { broker in
            let result = try await ChildProcess.run(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=65534", "--regid=65534", "--clear-groups", spool.path, "create", "byclient", "--server", "127.0.0.1:\(broker.port)"])
            #expect(result.status == 0, "\(result.err)")
            #expect(broker.broker.listTopics().map(\.name.value) == ["byclient"])
        }
    }
}
