/// Where a read starts: the first retained record, the next record to be written, or an offset.
public enum StartPosition: Equatable, Sendable, CustomStringConvertible {
    case earliest
    case latest
    case offset(Offset)

    public var description: String {
        switch self {
        case .earliest: "earliest"
        case .latest: "latest"
        case .offset(let offset): offset.description
        }
    }
}
