/// A pushed consumer-group line: `ASSIGNED <topic> <p,p,...> group=<g> generation=<n>` or
/// `REVOKED ...`.
public struct GroupEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case assigned = "ASSIGNED"
        case revoked = "REVOKED"
    }

    public var kind: Kind
    public var topic: String
    public var partitions: [Int]
    public var group: String
    public var generation: Int64

    public init(kind: Kind, topic: String, partitions: [Int], group: String, generation: Int64) {
        self.kind = kind
        self.topic = topic
        self.partitions = partitions
        self.group = group
        self.generation = generation
    }

    /// Parses a pushed line; nil for any other line.
    public init?(line: String) {
        // Cheap test first: every reply line passes through here.
        guard line.hasPrefix("ASSIGNED ") || line.hasPrefix("REVOKED ") else { return nil }
        let parts = line.split(separator: " ")
        guard parts.count == 5, let kind = Kind(rawValue: String(parts[0])) else { return nil }
        let f = fields(line)
        guard let group = f["group"], let generation = Int64(f["generation"] ?? "") else { return nil }
        let partitions = parts[2].split(separator: ",").compactMap { Int($0) }
        self.init(kind: kind, topic: String(parts[1]), partitions: partitions, group: group, generation: generation)
    }
}
