import SpoolCore
import SpoolProtocol
import Testing

@Suite("Base64 and KeyCodec")
struct KeyCodecTests {
    /// RFC 4648 §10 test vectors.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test("RFC 4648 vectors encode and decode")
    func rfcVectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(Array(encoded.utf8)) == Array(plain.utf8))
        }
        #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
    }

    @Test("non-canonical or malformed Base64 is refused", arguments: ["Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zm9v=", "Zm 9", "Zm-_", "=Zm9", "Zg==Zg=="])
    func refused(text: String) {
        #expect(Base64.decode(Array(text.utf8)) == nil)
    }

    @Test("random bytes round-trip through Base64")
    func randomBase64() {
        var random = SplitMix64(seed: 4648)
        for count in 0..<200 {
            let bytes = random.bytes(count)
            #expect(Base64.decode(Array(Base64.encode(bytes).utf8)) == bytes)
        }
    }

    @Test("keys render as raw tokens only when that is unambiguous")
    func rendering() {
        #expect(KeyCodec.renderString(nil as [UInt8]?) == "-")
        #expect(KeyCodec.renderString(Array("user-42".utf8)) == "user-42")
        #expect(KeyCodec.renderString(Array("ключ".utf8)) == "ключ")
        #expect(KeyCodec.renderString([UInt8]()) == "base64:")
        #expect(KeyCodec.renderString(Array("-".utf8)) == "base64:LQ==")
        #expect(KeyCodec.renderString(Array("a b".utf8)) == "base64:YSBi")
        #expect(KeyCodec.renderString(Array("a\u{7F}".utf8)) == "base64:YX8=")
        #expect(KeyCodec.renderString(Array("base64:x".utf8)) == "base64:YmFzZTY0Ong=")
        #expect(KeyCodec.renderString(Array("base64".utf8)) == "base64")
        #expect(KeyCodec.renderString([0]) == "base64:AA==")
        // 0xFF is telnet's IAC in a request line, so a raw token holding it could not come back.
        #expect(KeyCodec.render([0x61, 0xFF]) == Array("base64:Yf8=".utf8))
    }

    @Test("parse is the inverse of render")
    func parsing() throws {
        #expect(try KeyCodec.parse(Array("-".utf8)) == nil)
        #expect(try KeyCodec.parse(Array("user-42".utf8)) == Array("user-42".utf8))
        #expect(try KeyCodec.parse(Array("base64:".utf8)) == [])
        #expect(throws: KeyCodec.ParseError.invalidBase64) { try KeyCodec.parse(Array("base64:!!!!".utf8)) }
        #expect(throws: KeyCodec.ParseError.empty) { try KeyCodec.parse([UInt8]()) }
    }

    @Test("random keys round-trip, and the rendered token is always one safe token")
    func randomKeys() throws {
        var random = SplitMix64(seed: 42)
        let alphabet = Array("ab-:= \t\r\n\u{7F}".utf8) + [0, 0xFF, 0x80]
        for round in 0..<2000 {
            let count = Int.random(in: 0...12, using: &random)
            // Half the keys from a small tricky alphabet, so "-", "base64:" and blanks come up.
            let key: [UInt8] = round % 2 == 0
                ? random.bytes(count)
                : (0..<count).map { _ in alphabet.randomElement(using: &random)! }
            let token = KeyCodec.render(key)
            #expect(!token.isEmpty)
            // 0x7F and 0xFF would be edited out of a request line as DEL and telnet's IAC.
            #expect(!token.contains { $0 <= 0x20 || $0 == 0x7F || $0 == 0xFF })
            #expect(try KeyCodec.parse(token) == key, "key \(key)")
        }
    }
}
