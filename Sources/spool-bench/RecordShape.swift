/// What each generated record looks like: value size, key cardinality and the `PUB` options.
/// Values are printable ASCII (stored as TEXT, like most real payloads); key `k<n>` cycles through
/// `keys` distinct keys (0: keyless, so the broker spreads records round-robin).
struct RecordShape: Sendable {
    var topic: String
    var valueBytes: Int
    var keys: Int
    var acks: String
    /// Explicit partition, or nil to let the broker choose (key hash or round-robin).
    var partition: Int?

    /// `PUB <topic>` up to (not including) the key; options after it are in `suffix`.
    var prefix: [UInt8] { Array("PUB \(topic)".utf8) }
    /// ` [partition=p] [acks=x] <n>\n`
    var suffix: [UInt8] {
        var text = ""
        if let partition { text += " partition=\(partition)" }
        text += " acks=\(acks)"  // always, so old and new brokers (whose defaults differ) get the same
        return Array("\(text) \(valueBytes)\n".utf8)
    }

    /// A value of `valueBytes` printable bytes.
    var value: [UInt8] {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        return (0..<valueBytes).map { alphabet[($0 * 7 + 3) % alphabet.count] }
    }
}
