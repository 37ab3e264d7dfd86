import NIOCore

/// The options every accepted connection gets, set at the level they belong to.
///
/// `TCP_NODELAY` is an `IPPROTO_TCP` option: asked for as a `socketOption` it would set
/// `SOL_SOCKET` option 1 (`SO_DEBUG`), which only root may set and which leaves Nagle on.
enum SocketTuning {
    static func apply(to channel: Channel, failures: RateLimitedLog) {
        guard let options = channel.syncOptions else { return }
        let wanted: [(name: String, set: () throws -> Void)] = [
            // Replies are small and pipelined: Nagle would hold them for the peer's delayed ACK.
            ("TCP_NODELAY", { try options.setOption(.tcpOption(.tcp_nodelay), value: 1) }),
            ("SO_KEEPALIVE", { try options.setOption(.socketOption(.so_keepalive), value: 1) }),
        ]
        for option in wanted {
            do {
                try option.set()
            } catch {
                failures.record(["option": "\(option.name)", "error": "\(error)"])
            }
        }
    }
}
