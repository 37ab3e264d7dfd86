/// Telnet (RFC 854) and line editing in the request line being typed, done in place.
///
/// A person in telnet sends more than the characters of a line: Ctrl-C is `IAC IP IAC DO
/// TIMING-MARK`, a client may offer options (`IAC WILL x`), and a terminal may send BS or DEL for
/// a correction. This editor turns the raw bytes of a line into the line the person meant:
/// telnet commands are removed (and answered, see `TelnetCommand`), `IP`, `AO` and `EL` discard
/// what was typed so far, and BS, DEL and `EC` erase the previous character.
///
/// It only ever sees request lines (including an inline `:` value, which a person types): the
/// parser never gives it a byte-counted payload, so those stay binary-safe.
///
/// The state survives between calls, so a command split across reads (`IAC` at the end of one
/// read, `DO TIMING-MARK` in the next) is read once and never buffered twice.
struct TelnetLineEditor: Sendable, Equatable {
    private enum State: Sendable, Equatable {
        /// Reading characters of the line.
        case data
        /// After `IAC`.
        case command
        /// After `IAC WILL|WONT|DO|DONT`, waiting for the option byte.
        case option(TelnetCommand)
        /// Inside `IAC SB ...`, waiting for `IAC SE`.
        case subnegotiation
        /// After an `IAC` inside a subnegotiation.
        case subnegotiationCommand
    }

    private var state = State.data

    /// True when no command is half read: the parser may then look for a line end with a plain
    /// scan (`stopsScan`) and only call `edit` at a byte that is not `\n`.
    var isIdle: Bool { state == .data }

    static let backspace: UInt8 = 0x08
    static let delete: UInt8 = 0x7F

    /// Whether `byte` ends the line (`\n`) or starts editing (`IAC`, BS, DEL): the only bytes the
    /// parser's scan of a line stops at. 0x0A and 0x08 differ in one bit, as do 0xFF and 0x7F,
    /// so two comparisons test all four on the hot path.
    @inline(__always)
    static func stopsScan(_ byte: UInt8) -> Bool {
        (byte | 0x80) == 0xFF || (byte | 0x02) == 0x0A
    }

    /// What `edit` did.
    struct Edit: Equatable {
        /// The line's bytes, edited, are `line[0..<cooked]`.
        var cooked: Int
        /// The bytes up to `read` were read; `line[cooked..<read]` is garbage to remove.
        var read: Int
        /// `line[read]` is the `\n` that ends the line.
        var foundLineEnd: Bool
    }

    /// Edits `line` (the unconsumed line, from its first byte) from `start`, where `line[0..<start]`
    /// is already edited text, until a line end or the end of `line`. Answers to commands are
    /// appended to `replies`, in the order the commands came.
    ///
    /// `lineBytes` bounds the line as it was sent: `rawOffset` bytes of it were already removed
    /// by earlier edits. Editing stops once the line is too long, exactly where a parser fed byte
    /// by byte would notice, so no command after that is answered however the bytes were split
    /// into reads.
    mutating func edit(
        _ line: UnsafeMutableRawBufferPointer, from start: Int, rawOffset: Int, lineBytes: Int, replies: inout [UInt8]
    ) -> Edit {
        precondition(start <= line.count, "edit starts past the bytes it was given")
        var cooked = start
        var read = start
        while read < line.count {
            // The line as sent so far, less a last `\r` that may begin a `\r\n` (as
            // `RequestParser` counts an unterminated line). Checked before each byte, so a line
            // already too long when editing resumes gets no further answers either.
            let pendingReturn = cooked > 0 && line[cooked - 1] == UInt8(ascii: "\r") ? 1 : 0
            if rawOffset + read - pendingReturn > lineBytes { break }
            let byte = line[read]
            switch state {
            case .data:
                switch byte {
                case UInt8(ascii: "\n"):
                    return Edit(cooked: cooked, read: read, foundLineEnd: true)
                case TelnetCommand.iacByte:
                    state = .command
                case Self.backspace, Self.delete:
                    cooked = Self.erasingLastCharacter(line, count: cooked)
                default:
                    line[cooked] = byte
                    cooked += 1
                }
            case .command:
                state = .data
                switch TelnetCommand(rawValue: byte) {
                case .iac?:
                    line[cooked] = byte
                    cooked += 1
                case .ec?:
                    cooked = Self.erasingLastCharacter(line, count: cooked)
                case .ip?, .ao?, .el?:
                    cooked = 0
                case .ayt?:
                    replies += TelnetCommand.areYouThereReply
                case let verb? where verb.isNegotiation:
                    state = .option(verb)
                case .sb?:
                    state = .subnegotiation
                default:
                    // NOP, DM, BRK, GA, a stray SE, and bytes RFC 854 defines no command for.
                    break
                }
            case .option(let verb):
                state = .data
                TelnetCommand.answer(verb, option: byte, into: &replies)
            case .subnegotiation:
                if byte == TelnetCommand.iacByte { state = .subnegotiationCommand }
            case .subnegotiationCommand:
                if byte == TelnetCommand.iacByte {
                    state = .subnegotiation  // a data byte 255 of the subnegotiation
                } else if byte == TelnetCommand.se.rawValue {
                    state = .data
                } else {
                    // A command without `IAC SE` ends the subnegotiation and is read as a command.
                    state = .command
                    continue
                }
            }
            read += 1
        }
        return Edit(cooked: cooked, read: read, foundLineEnd: false)
    }

    /// The length of `line[0..<count]` without its last character: a whole UTF-8 sequence when
    /// the line ends in one, else one byte. Never past the line's start.
    static func erasingLastCharacter(_ line: UnsafeMutableRawBufferPointer, count: Int) -> Int {
        guard count > 0 else { return 0 }
        var start = count - 1
        // At most three continuation bytes (10xxxxxx) precede a lead byte.
        while start > 0, count - start < 4, line[start] & 0xC0 == 0x80 { start -= 1 }
        let lead = line[start]
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: length = 1
        }
        return length == count - start ? start : count - 1
    }
}
