import NIOCore
import Raft
import SpoolCore

/// Writes peer frames (see `PeerFrame` for the layout). Pure: bytes in a buffer, no I/O.
public enum PeerFrameEncoder {
    /// Appends `frame` to `buffer`: header placeholder, body, then the real length and checksum.
    public static func encode(_ frame: PeerFrame, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(UInt32(0))
        let bodyStart = buffer.writerIndex
        switch frame {
        case .hello(let hello):
            buffer.writeInteger(PeerFrameKind.hello.rawValue)
            buffer.writeInteger(hello.version)
            writeString(hello.clusterID, into: &buffer)
            buffer.writeInteger(hello.node.rawValue)
            writeString(hello.clientAddress, into: &buffer)
        case .refused(let reason):
            buffer.writeInteger(PeerFrameKind.refused.rawValue)
            writeString(reason, into: &buffer)
        case .raft(let messages):
            buffer.writeInteger(PeerFrameKind.raft.rawValue)
            buffer.writeInteger(UInt32(messages.count))
            for addressed in messages {
                buffer.writeInteger(addressed.group.rawValue)
                write(addressed.message, into: &buffer)
            }
        case .request(let request):
            buffer.writeInteger(PeerFrameKind.request.rawValue)
            buffer.writeInteger(request.id)
            buffer.writeInteger(request.service.rawValue)
            buffer.writeInteger(UInt32(request.payload.count))
            buffer.writeBytes(request.payload)
        case .keepalive(let generation):
            buffer.writeInteger(PeerFrameKind.keepalive.rawValue)
            buffer.writeInteger(generation)
        case .response(let response):
            buffer.writeInteger(PeerFrameKind.response.rawValue)
            buffer.writeInteger(response.id)
            buffer.writeInteger(UInt8(response.served ? 1 : 0))
            buffer.writeInteger(UInt32(response.payload.count))
            buffer.writeBytes(response.payload)
        }
        let bodyBytes = buffer.writerIndex - bodyStart
        let crc = buffer.withUnsafeReadableBytes { all in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[(bodyStart - buffer.readerIndex)...]))
        }
        buffer.setInteger(UInt32(bodyBytes), at: start)
        buffer.setInteger(crc, at: start + 4)
    }

    public static func encode(_ frame: PeerFrame) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(frame, into: &buffer)
        return buffer
    }

    /// Flags byte of a message.
    enum Flag {
        static let reject: UInt8 = 1
        static let leaderTransfer: UInt8 = 2
        static let snapshot: UInt8 = 4
        static let quiesce: UInt8 = 8
        static let all: UInt8 = reject | leaderTransfer | snapshot | quiesce
    }

    static func write(_ m: Message, into buffer: inout ByteBuffer) {
        buffer.writeInteger(m.kind.rawValue)
        buffer.writeInteger(m.from.rawValue)
        buffer.writeInteger(m.to.rawValue)
        buffer.writeInteger(m.term.rawValue)
        buffer.writeInteger(m.logTerm.rawValue)
        buffer.writeInteger(m.index.rawValue)
        buffer.writeInteger(m.commit.rawValue)
        buffer.writeInteger(m.rejectHint.rawValue)
        buffer.writeInteger(m.transferee.rawValue)
        var flags: UInt8 = 0
        if m.reject { flags |= Flag.reject }
        if m.isLeaderTransfer { flags |= Flag.leaderTransfer }
        if m.snapshot != nil { flags |= Flag.snapshot }
        if m.quiesce { flags |= Flag.quiesce }
        buffer.writeInteger(flags)
        buffer.writeInteger(UInt32(m.entries.count))
        for entry in m.entries {
            buffer.writeInteger(entry.index.rawValue)
            buffer.writeInteger(entry.term.rawValue)
            buffer.writeInteger(entry.kind.rawValue)
            buffer.writeInteger(UInt32(entry.payload.count))
            buffer.writeBytes(entry.payload)
        }
        if let snapshot = m.snapshot {
            buffer.writeInteger(snapshot.index.rawValue)
            buffer.writeInteger(snapshot.term.rawValue)
            buffer.writeInteger(UInt32(snapshot.voters.count))
            for voter in snapshot.voters { buffer.writeInteger(voter.rawValue) }
            buffer.writeInteger(UInt32(snapshot.data.count))
            buffer.writeBytes(snapshot.data)
        }
    }

    static func writeString(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(clamping: text.utf8.count))
        buffer.writeBytes(text.utf8.prefix(Int(UInt16.max)))
    }
}
