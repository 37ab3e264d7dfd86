/// The telnet commands of RFC 854 (the byte after `IAC`), and how the broker answers them.
///
/// The broker is the "server" side of telnet with no options at all: it refuses every option it
/// is offered or asked for, except that it answers `DO TIMING-MARK` (RFC 860), which is what a
/// telnet client waits for after Ctrl-C before it shows output again.
enum TelnetCommand: UInt8 {
    /// Subnegotiation end.
    case se = 240
    case nop = 241
    /// Data mark, the data-stream part of a Synch.
    case dm = 242
    /// Break.
    case brk = 243
    /// Interrupt process (Ctrl-C in telnet).
    case ip = 244
    /// Abort output.
    case ao = 245
    /// Are you there.
    case ayt = 246
    /// Erase character.
    case ec = 247
    /// Erase line.
    case el = 248
    /// Go ahead.
    case ga = 249
    /// Subnegotiation begin: skipped whole, up to `IAC SE`.
    case sb = 250
    case will = 251
    case wont = 252
    case `do` = 253
    case dont = 254
    /// Interpret as command; `IAC IAC` is a data byte 255.
    case iac = 255

    static let iacByte: UInt8 = 255
    /// The TIMING-MARK option (RFC 860).
    static let timingMark: UInt8 = 6

    /// The visible line that answers `IAC AYT`: telnet shows it, and a person knows the broker
    /// is alive (the bracket keeps it apart from every reply word).
    static let areYouThereReply: [UInt8] = Array("[spool: yes]\n".utf8)

    /// `WILL`, `WONT`, `DO` and `DONT`, which an option byte follows.
    var isNegotiation: Bool { rawValue >= TelnetCommand.will.rawValue && rawValue <= TelnetCommand.dont.rawValue }

    /// The answer to `IAC <verb> <option>`, appended to `replies`.
    ///
    /// RFC 854 ("the receiver may refuse"): `DO x` gets `WONT x` and `WILL x` gets `DONT x`.
    /// `WONT` and `DONT` are never answered: the broker is already in the refused state, and
    /// acknowledging them is how two peers start a negotiation loop. RFC 860: `DO TIMING-MARK`
    /// gets `WILL TIMING-MARK`, in order after the replies to everything received before it.
    static func answer(_ verb: TelnetCommand, option: UInt8, into replies: inout [UInt8]) {
        switch verb {
        case .do:
            let reply: TelnetCommand = option == timingMark ? .will : .wont
            replies += [iacByte, reply.rawValue, option]
        case .will:
            replies += [iacByte, TelnetCommand.dont.rawValue, option]
        default:
            break
        }
    }
}
