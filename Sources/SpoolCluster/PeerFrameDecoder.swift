import NIOCore
import Raft
import SpoolCore

/// Reads peer frames from a byte stream. Pure and incremental: `next` returns nil until a whole
/// frame has arrived. The length is checked against `PeerLimits.frameBytes` before the body is
/// awaited, the checksum before the body is parsed, and every count inside against its limit, so
/// no peer can make the broker allocate more than one frame's bytes.
public struct PeerFrameDecoder: Sendable {
    public let limits: PeerLimits

    public init(limits: PeerLimits = PeerLimits()) {
        self.limits = limits
    }

    /// The next whole frame in `buffer` (consumed), nil when more bytes are needed (nothing
    /// consumed). After a throw the connection must be closed: the stream has no resync point.
    public func next(from buffer: inout ByteBuffer) throws(PeerFrameError) -> PeerFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let crc = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self)
        else { return nil }
        let bodyBytes = Int(length)
        guard bodyBytes <= limits.frameBytes else { throw .frameTooLarge(bytes: bodyBytes, limit: limits.frameBytes) }
        guard bodyBytes >= 1 else { throw .malformed("empty body") }
        guard buffer.readableBytes >= PeerLimits.headerBytes + bodyBytes else { return nil }
        let computed = buffer.withUnsafeReadableBytes { all in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[PeerLimits.headerBytes..<(PeerLimits.headerBytes + bodyBytes)]))
        }
        guard computed == crc else { throw .checksumMismatch(expected: crc, computed: computed) }
        buffer.moveReaderIndex(forwardBy: PeerLimits.headerBytes)
        var body = buffer.readSlice(length: bodyBytes)!
        let frame = try parse(&body)
        guard body.readableBytes == 0 else { throw .malformed("\(body.readableBytes) bytes after the frame's content") }
        return frame
    }

    private func parse(_ body: inout ByteBuffer) throws(PeerFrameError) -> PeerFrame {
        let kindByte: UInt8 = try read(&body, "kind")
        guard let kind = PeerFrameKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        switch kind {
        case .hello:
            let version: UInt16 = try read(&body, "version")
            let clusterID = try readString(&body, "cluster id")
            let node: UInt64 = try read(&body, "node id")
            let address = try readString(&body, "client address")
            return .hello(PeerHello(version: version, clusterID: clusterID, node: NodeID(node), clientAddress: address))
        case .refused:
            return .refused(reason: try readString(&body, "reason"))
        case .raft:
            let count = try readCount(&body, "messages", limit: limits.messagesPerFrame)
            var messages: [AddressedMessage] = []
            messages.reserveCapacity(count)
            for _ in 0..<count {
                let raw: UInt64 = try read(&body, "group")
                guard let group = RaftGroupID(rawValue: raw) else { throw .malformed("group id \(raw)") }
                messages.append(AddressedMessage(group: group, message: try readMessage(&body)))
            }
            return .raft(messages)
        case .request:
            let id: UInt64 = try read(&body, "request id")
            let serviceByte: UInt8 = try read(&body, "service")
            guard let service = PeerService(rawValue: serviceByte) else { throw .malformed("service \(serviceByte)") }
            return .request(PeerRequest(id: id, service: service, payload: try readBytes(&body, "request payload")))
        case .keepalive:
            return .keepalive(generation: try read(&body, "generation"))
        case .response:
            let id: UInt64 = try read(&body, "request id")
            let served: UInt8 = try read(&body, "served")
            guard served <= 1 else { throw .malformed("served flag \(served)") }
            return .response(PeerResponse(id: id, served: served == 1, payload: try readBytes(&body, "response payload")))
        }
    }

    private func readMessage(_ body: inout ByteBuffer) throws(PeerFrameError) -> Message {
        let kindByte: UInt8 = try read(&body, "message kind")
        guard let kind = MessageKind(rawValue: kindByte) else { throw .malformed("message kind \(kindByte)") }
        let from: UInt64 = try read(&body, "from")
        let to: UInt64 = try read(&body, "to")
        let term: UInt64 = try read(&body, "term")
        let logTerm: UInt64 = try read(&body, "log term")
        let index: UInt64 = try read(&body, "index")
        let commit: UInt64 = try read(&body, "commit")
        let rejectHint: UInt64 = try read(&body, "reject hint")
        let transferee: UInt64 = try read(&body, "transferee")
        let flags: UInt8 = try read(&body, "flags")
        guard flags & ~PeerFrameEncoder.Flag.all == 0 else { throw .malformed("message flags \(flags)") }
        let entryCount = try readCount(&body, "entries", limit: limits.entriesPerMessage)
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            let entryIndex: UInt64 = try read(&body, "entry index")
            let entryTerm: UInt64 = try read(&body, "entry term")
            let kindRaw: UInt8 = try read(&body, "entry kind")
            guard let entryKind = EntryKind(rawValue: kindRaw) else { throw .malformed("entry kind \(kindRaw)") }
            let payload = try readBytes(&body, "entry payload")
            entries.append(Entry(index: LogIndex(entryIndex), term: Term(entryTerm), kind: entryKind, payload: payload))
        }
        var snapshot: Snapshot?
        if flags & PeerFrameEncoder.Flag.snapshot != 0 {
            let snapIndex: UInt64 = try read(&body, "snapshot index")
            let snapTerm: UInt64 = try read(&body, "snapshot term")
            let voterCount = try readCount(&body, "voters", limit: limits.votersPerSnapshot)
            var voters: [NodeID] = []
            for _ in 0..<voterCount { voters.append(NodeID(try read(&body, "voter"))) }
            let data = try readBytes(&body, "snapshot data")
            snapshot = Snapshot(index: LogIndex(snapIndex), term: Term(snapTerm), voters: voters, data: data)
        }
        return Message(
            kind: kind, from: NodeID(from), to: NodeID(to), term: Term(term), logTerm: Term(logTerm), index: LogIndex(index),
            entries: entries, commit: LogIndex(commit), reject: flags & PeerFrameEncoder.Flag.reject != 0,
            rejectHint: LogIndex(rejectHint), snapshot: snapshot, isLeaderTransfer: flags & PeerFrameEncoder.Flag.leaderTransfer != 0,
            transferee: NodeID(transferee), quiesce: flags & PeerFrameEncoder.Flag.quiesce != 0)
    }

    private func read<T: FixedWidthInteger>(_ body: inout ByteBuffer, _ what: String) throws(PeerFrameError) -> T {
        guard let value = body.readInteger(as: T.self) else { throw .malformed("truncated at \(what)") }
        return value
    }

    private func readCount(_ body: inout ByteBuffer, _ what: String, limit: Int) throws(PeerFrameError) -> Int {
        let count: UInt32 = try read(&body, what)
        guard Int(count) <= limit else { throw .malformed("\(count) \(what), over the limit of \(limit)") }
        return Int(count)
    }

    /// A u32-counted byte string; the count can never exceed what the (already bounded) frame holds.
    private func readBytes(_ body: inout ByteBuffer, _ what: String) throws(PeerFrameError) -> [UInt8] {
        let count: UInt32 = try read(&body, what)
        guard let bytes = body.readBytes(length: Int(count)) else { throw .malformed("truncated in \(what)") }
        return bytes
    }

    private func readString(_ body: inout ByteBuffer, _ what: String) throws(PeerFrameError) -> String {
        let count: UInt16 = try read(&body, what)
        guard Int(count) <= limits.stringBytes else { throw .malformed("\(what) of \(count) bytes, over the limit of \(limits.stringBytes)") }
        guard let bytes = body.readBytes(length: Int(count)) else { throw .malformed("truncated in \(what)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformed("\(what) is not UTF-8") }
        return text
    }
}
