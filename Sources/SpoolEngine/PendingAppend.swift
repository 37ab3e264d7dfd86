import NIOCore
import SpoolCore
import SpoolStorage

/// A produced record waiting in its partition's queue for the next group commit.
struct PendingAppend: AppendRecord, QueuedRecord, Sendable {
    var key: ByteBuffer?
    var value: ByteBuffer
    /// Told the record's offset once it is durable or committed (`.none` for acks=none).
    var completion: AppendCompletion

    var byteCount: Int { value.readableBytes + (key?.readableBytes ?? 0) }

    func withKeyAndValue<R>(_ body: (UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try value.withUnsafeReadableBytes { valueBytes in
            if let key {
                return try key.withUnsafeReadableBytes { keyBytes in try body(keyBytes, valueBytes) }
            }
            return try body(nil, valueBytes)
        }
    }
}
