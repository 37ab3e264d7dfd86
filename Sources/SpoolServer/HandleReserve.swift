import NIOConcurrencyHelpers
import NIOCore
import SpoolCore
import SpoolProtocol

#if canImport(Glibc)
import Glibc
#endif

/// One file handle held in reserve (`/dev/null`), so that a client who arrives while the process
/// is out of handles is told so instead of waiting in the listen backlog: when an accept fails
/// with EMFILE, the spare is closed, the next accept takes its place, that client gets
/// `ERR LIMIT_REACHED` and is closed, and the spare is opened again (the technique libev's
/// documentation describes for the same problem).
///
/// Which accepted channel is refused is decided on the listener's loop (`AcceptBackoff`); the
/// child initializer, on the child's loop, asks `takeRefusal`. Hence the lock.
final class HandleReserve: Sendable {
    private struct State {
        var spare: Int32
        var refused: Set<ObjectIdentifier> = []
        var onRestore: (@Sendable () -> Void)?
    }

    private let state: NIOLockedValueBox<State>

    init() {
        state = NIOLockedValueBox(State(spare: Self.openSpare()))
    }

    deinit {
        let spare = state.withLockedValue { $0.spare }
        if spare >= 0 { _ = Glibc.close(spare) }
    }

    private static func openSpare() -> Int32 {
        Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    /// Closes the spare so the next accept can succeed; false when it is not held (already
    /// given up for a refusal still under way, or it could not be reopened).
    func release() -> Bool {
        let spare = state.withLockedValue { state -> Int32 in
            defer { state.spare = -1 }
            return state.spare
        }
        guard spare >= 0 else { return false }
        _ = Glibc.close(spare)
        return true
    }

    /// Marks `channel`, just accepted with the spare's handle, to be refused.
    func refuse(_ channel: Channel) {
        _ = state.withLockedValue { $0.refused.insert(ObjectIdentifier(channel)) }
    }

    /// True (once) for a channel marked by `refuse`.
    func takeRefusal(_ channel: Channel) -> Bool {
        state.withLockedValue { $0.refused.remove(ObjectIdentifier(channel)) != nil }
    }

    /// Opens the spare again (after the refused client is closed, or when the freed handle was
    /// not used) and tells the listener, which may accept at once.
    func restore() {
        let onRestore = state.withLockedValue { state -> (@Sendable () -> Void)? in
            guard state.spare < 0 else { return nil }
            state.spare = Self.openSpare()
            return state.spare >= 0 ? state.onRestore : nil
        }
        onRestore?()
    }

    /// What `restore` calls; the listener clears it when it closes (it holds the listener).
    func setOnRestore(_ action: (@Sendable () -> Void)?) {
        state.withLockedValue { $0.onRestore = action }
    }
}

/// The whole life of a refused connection: one line, then closed, then the spare is restored.
final class RefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reserve: HandleReserve

    init(reserve: HandleReserve) {
        self.reserve = reserve
    }

    func channelActive(context: ChannelHandlerContext) {
        var reply = context.channel.allocator.buffer(capacity: 96)
        reply.writeLine(ReplyLine.error(SpoolError(.limitReached, "the broker is out of file handles; try again later")))
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        reserve.restore()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
