/// Something the application wants replicated: a payload and its kind. The leader assigns the
/// index and term.
public struct Proposal: Hashable, Sendable {
    public var kind: EntryKind
    public var payload: [UInt8]

    public init(kind: EntryKind = .record, payload: [UInt8]) {
        self.kind = kind
        self.payload = payload
    }
}
