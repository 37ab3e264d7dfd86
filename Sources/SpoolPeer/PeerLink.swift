import NIOConcurrencyHelpers
import NIOCore
import Raft
import SpoolCluster

/// One peer as seen from this broker: its established connection (if any) and the messages
/// waiting for it. Messages of every partition to this peer are coalesced into shared frames: a
/// `send` only queues, and one flush per event-loop task writes everything queued.
final class PeerLink: Sendable {
    let peer: NodeID
    let address: PeerAddress
    private let state = NIOLockedValueBox(State())

    struct State {
        var channel: Channel?
        var pending: [AddressedMessage] = []
        var pendingBytes = 0
        /// Request and response frames, encoded, for the current connection only (a request's
        /// answer can only come on the connection it went out on).
        var frames = ByteBuffer()
        var flushQueued = false
        var reconnectDelayMs: Int64 = 0
        /// A connect in flight, or a scheduled retry: shutdown waits for the one and cancels the other.
        var dialing: EventLoopFuture<Channel>?
        var retry: Scheduled<Void>?
        /// When the last frame of any kind arrived from the peer (monotonic ns; 0 before any).
        var lastHeardNs: UInt64 = 0
        /// The generation of the peer's last keepalive (`PeerFrame.keepalive`).
        var generation: UInt64 = 0
    }

    init(peer: NodeID, address: PeerAddress) {
        self.peer = peer
        self.address = address
    }

    var isConnected: Bool { state.withLockedValue { $0.channel != nil } }

    /// A frame arrived from the peer now (with a keepalive's generation).
    func heard(at nowNs: UInt64, generation: UInt64? = nil) {
        state.withLockedValue { state in
            state.lastHeardNs = nowNs
            if let generation { state.generation = generation }
        }
    }

    /// Connected and heard from within `timeoutNs` of `nowNs`; with the peer's last generation.
    func liveness(at nowNs: UInt64, timeoutNs: UInt64) -> PeerLiveness {
        state.withLockedValue { state in
            let live = state.channel != nil && state.lastHeardNs != 0 && nowNs &- state.lastHeardNs <= timeoutNs
            return PeerLiveness(live: live, generation: state.generation)
        }
    }
    var channel: Channel? { state.withLockedValue { $0.channel } }

    /// Queues `messages`; false for the ones over `limitBytes` (dropped; the caller counts them).
    func enqueue(_ messages: [AddressedMessage], limitBytes: Int) -> (accepted: Int, flushOn: Channel?) {
        state.withLockedValue { state in
            var accepted = 0
            for message in messages {
                let bytes = Self.estimatedBytes(message)
                guard state.pendingBytes + bytes <= limitBytes || state.pending.isEmpty else { continue }
                state.pending.append(message)
                state.pendingBytes += bytes
                accepted += 1
            }
            guard let channel = state.channel, !state.flushQueued, !state.pending.isEmpty else { return (accepted, nil) }
            state.flushQueued = true
            return (accepted, channel)
        }
    }

    /// Queues `frame` for a write on `channel`, with whatever else goes out in the next flush:
    /// many requests and answers share one write. False when `channel` is not the current
    /// connection (the frame is dropped: its requests fail with the connection); with the channel
    /// to schedule a flush on when none is queued.
    func enqueueFrame(_ frame: PeerFrame, on channel: Channel) -> (queued: Bool, flushOn: Channel?) {
        state.withLockedValue { state in
            guard state.channel === channel else { return (false, nil) }
            PeerFrameEncoder.encode(frame, into: &state.frames)
            guard !state.flushQueued else { return (true, nil) }
            state.flushQueued = true
            return (true, channel)
        }
    }

    /// Takes what is queued for a write on `channel` (nothing when another connection replaced it,
    /// or the socket's send buffer is full: then writability resumes the flush).
    func takePending(for channel: Channel) -> (messages: [AddressedMessage], frames: ByteBuffer?) {
        state.withLockedValue { state in
            state.flushQueued = false
            guard state.channel === channel, channel.isWritable else { return ([], nil) }
            let taken = state.pending
            state.pending = []
            state.pendingBytes = 0
            var frames: ByteBuffer?
            if state.frames.readableBytes > 0 {
                frames = state.frames
                state.frames = ByteBuffer()
            }
            return (taken, frames)
        }
    }

    /// The connection is established (hello exchanged). Returns the connection it replaces, to close.
    func up(_ channel: Channel, at nowNs: UInt64) -> (replaced: Channel?, flush: Bool) {
        state.withLockedValue { state in
            let old = state.channel
            state.channel = channel
            state.lastHeardNs = nowNs
            // Frames were for the old connection (its requests failed with it).
            if old !== channel { state.frames = ByteBuffer() }
            state.reconnectDelayMs = 0
            let flush = !state.pending.isEmpty && !state.flushQueued
            if flush { state.flushQueued = true }
            return (old === channel ? nil : old, flush)
        }
    }

    /// The connection closed; true when it was the current one.
    func down(_ channel: Channel) -> Bool {
        state.withLockedValue { state in
            guard state.channel === channel else { return false }
            state.channel = nil
            state.flushQueued = false
            state.frames = ByteBuffer()
            return true
        }
    }

    /// The wait before the next dial, doubling from `initial` to `max`.
    func nextReconnectDelay(initial: Int64, max: Int64) -> Int64 {
        state.withLockedValue { state in
            state.reconnectDelayMs = state.reconnectDelayMs == 0 ? initial : min(max, state.reconnectDelayMs * 2)
            return state.reconnectDelayMs
        }
    }

    func dialStarted(_ future: EventLoopFuture<Channel>) { state.withLockedValue { $0.dialing = future } }

    func retryScheduled(_ task: Scheduled<Void>) { state.withLockedValue { $0.retry = task } }

    /// Cancels a scheduled retry and returns a connect still in flight.
    func stopDialing() -> EventLoopFuture<Channel>? {
        state.withLockedValue { state in
            state.retry?.cancel()
            state.retry = nil
            defer { state.dialing = nil }
            return state.dialing
        }
    }

    /// What a message adds to a frame, near enough to bound memory and split frames.
    static func estimatedBytes(_ m: AddressedMessage) -> Int {
        var bytes = 96
        for entry in m.message.entries { bytes += 21 + entry.payload.count }
        if let snapshot = m.message.snapshot { bytes += 24 + snapshot.voters.count * 8 + snapshot.data.count }
        return bytes
    }
}

/// Whether a peer is live now (connected, and heard from within the liveness timeout) and the
/// generation of its replicas it last told (`PeerFrame.keepalive`).
public struct PeerLiveness: Hashable, Sendable {
    public var live: Bool
    public var generation: UInt64

    public init(live: Bool, generation: UInt64) {
        self.live = live
        self.generation = generation
    }
}
