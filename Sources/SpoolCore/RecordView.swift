/// A stored record as the storage layer hands it out while reading: borrowed bytes, valid only
/// for the duration of the callback that receives it. Renderers copy what they need straight
/// into their output buffer, so reading a record allocates nothing.
public struct RecordView {
    public var offset: Offset
    public var timestamp: TimestampMs
    /// nil when the record has no key.
    public var key: UnsafeRawBufferPointer?
    public var value: UnsafeRawBufferPointer

    public init(offset: Offset, timestamp: TimestampMs, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
    }
}
