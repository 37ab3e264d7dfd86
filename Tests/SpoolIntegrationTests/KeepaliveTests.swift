import Foundation
import Testing

/// A group member that vanishes without closing is found by TCP: the broker sets keepalive on a
/// member's socket from its session timeout. Loopback cannot lose a peer, so this checks what the
/// kernel was told: the keepalive timer of the broker's end of the connection, in /proc/net/tcp.
@Suite("Keepalive of group members", .timeLimit(.minutes(1)))
struct KeepaliveTests {
    /// The broker-side socket's timer for a connection from `clientPort` to `brokerPort`:
    /// (timer kind, ticks left) from the `tr:tm->when` column (kind 2 = keepalive; ticks are
    /// USER_HZ, 100 per second).
    static func timer(brokerPort: Int, clientPort: Int) throws -> (kind: Int, ticks: Int)? {
        // Read to the end: proc files report size 0, and a one-shot read may stop at a page.
        let table = try ProcessProbe.procFile("/proc/net/tcp")
        let local = String(format: "0100007F:%04X", brokerPort)
        let remote = String(format: "0100007F:%04X", clientPort)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 5, fields[1] == local, fields[2] == remote else { continue }
            let timer = fields[5].split(separator: ":")
            return (Int(timer[0], radix: 16) ?? -1, Int(timer[1], radix: 16) ?? -1)
        }
        return nil
    }

    @Test func aMembersSocketProbesWithinItsSessionAndAPlainOneDoesNot() async throws {
        try await withTestBroker { broker in
            let admin = try await broker.client()
            try await admin.createTopic("t")
            let member = try broker.socket()
            try member.send("SUB t group=g session=3000\n")
            #expect(try member.readLine().hasPrefix("OK subscribed t group=g"))
            let plain = try broker.socket()
            try plain.send("SUB t\n")
            #expect(try plain.readLine().hasPrefix("OK subscribed t"))
            // The member's idle time before the first probe is a third of its session (1 s): the
            // keepalive timer never shows more than 100 ticks. A plain subscriber keeps the system
            // default (2 hours).
            try await eventually("the member's keepalive timer") {
                guard let timer = try Self.timer(brokerPort: broker.port, clientPort: member.localPort) else { return false }
                return timer.kind == 2 && timer.ticks <= 100
            }
            let plainTimer = try #require(try Self.timer(brokerPort: broker.port, clientPort: plain.localPort))
            #expect(plainTimer.kind == 2 && plainTimer.ticks > 60 * 100)
            await admin.close()
        }
    }
}
