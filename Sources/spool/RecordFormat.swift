import ArgumentParser
import NIOCore
import SpoolCore
import SpoolProtocol

/// How `fetch`, `tail` and `consume` print a record.
enum RecordFormat: String, ExpressibleByArgument, CaseIterable {
    /// The value's bytes as they are, then `\n`.
    case value
    /// The protocol's own form: the `MSG` header line, the value, `\n`.
    case msg
    /// One JSON object per line.
    case json

    func write(_ message: Message, to output: OutputWriter) throws {
        switch self {
        case .value:
            try output.write(message.value)
            try output.write("\n")
        case .msg:
            // The broker's own renderer, so the two forms cannot drift apart.
            let prefix = Array("MSG \(message.topic) \(message.partition) ".utf8)
            var buffer = ByteBuffer()
            message.value.withUnsafeReadableBytes { value in
                func render(_ key: UnsafeRawBufferPointer?) {
                    prefix.withUnsafeBytes {
                        MessageRenderer.render(
                            RecordView(offset: message.offset, timestamp: message.timestamp, key: key, value: value), prefix: $0, into: &buffer)
                    }
                }
                if let key = message.key { key.withUnsafeBytes { render($0) } } else { render(nil) }
            }
            try output.write(buffer)
        case .json:
            try output.write(Self.json(message))
            try output.write("\n")
        }
    }

    /// `{"topic":..,"partition":..,"offset":..,"timestamp_ms":..,"key":..,"value":..}`. A key or
    /// value that is not valid UTF-8 is written as `key_base64` / `value_base64` instead; no key
    /// is `"key":null`.
    static func json(_ message: Message) -> String {
        var text = "{\"topic\":\(jsonString(message.topic)),\"partition\":\(message.partition)"
        text += ",\"offset\":\(message.offset),\"timestamp_ms\":\(message.timestamp)"
        text += "," + jsonField("key", message.key)
        text += "," + jsonField("value", Array(message.value.readableBytesView))
        return text + "}"
    }

    private static func jsonField(_ name: String, _ bytes: [UInt8]?) -> String {
        guard let bytes else { return "\"\(name)\":null" }
        if let text = String(validating: bytes, as: UTF8.self) { return "\"\(name)\":\(jsonString(text))" }
        return "\"\(name)_base64\":\"\(Base64.encode(bytes))\""
    }

    /// A JSON string literal (RFC 8259: quote, backslash and controls escaped).
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
