import NIOCore

extension ByteBuffer {
    /// Appends a reply line and its `\n`.
    mutating func writeLine(_ line: String) {
        writeString(line)
        writeInteger(UInt8(ascii: "\n"))
    }
}

/// A reply rendered as bytes, ready to go out in request order.
enum Reply {
    static func line(_ line: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(line.utf8.count + 1)
        buffer.writeLine(line)
        return buffer
    }

    static func lines(_ lines: [String]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for line in lines { buffer.writeLine(line) }
        return buffer
    }
}
