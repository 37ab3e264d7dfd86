import SpoolCore

/// One row of `GROUP <g>`: a partition's owner, committed offset and lag.
public struct GroupLag: Sendable, Equatable {
    public var topic: String
    public var partition: Int
    public var owner: String?
    public var committed: Int64?
    public var end: Int64
    public var lagRecords: Int64
    public var lagMs: Int64
}

/// `GROUP <g>` as data.
public struct GroupDescription: Sendable, Equatable {
    public var generation: Int64
    /// Member id → the partitions it owns (`topic/partition`).
    public var members: [String: [String]]
    public var lag: [GroupLag]
}

extension SpoolClient {
    /// Joins consumer group `group` for `topics`. Assignments arrive on `groupEvents`, records on
    /// `deliveries`. Returns the broker's `OK` line (it names this member's id).
    @discardableResult
    public func subscribe(
        topics: [String], group: String, from: StartPosition = .latest, autoCommit: Bool = true, sessionTimeoutMs: Int64? = nil
    ) async throws -> String {
        for topic in topics { _ = try topicName(topic) }
        try checkGroupName(group)
        var line = "SUB \(topics.joined(separator: ",")) group=\(group) from=\(from) commit=\(autoCommit ? "auto" : "manual")"
        if let sessionTimeoutMs { line += " session=\(sessionTimeoutMs)" }
        return try await send(line: line)[0]
    }

    /// `COMMIT`: the group's next offset to read in a partition this member owns.
    @discardableResult
    public func commit(topic: String, partition: Int, offset: Int64) async throws -> String {
        _ = try topicName(topic)
        return try await send(line: "COMMIT \(topic) \(partition) \(offset)")[0]
    }

    /// `GROUPS`: group name → (generation, live members).
    public func groups() async throws -> [String: (generation: Int64, members: Int)] {
        var result: [String: (generation: Int64, members: Int)] = [:]
        for line in try await send(line: "GROUPS", expectingBlock: true) where line.hasPrefix("GROUP ") {
            let parts = line.split(separator: " ")
            let f = fields(line)
            result[String(parts[1])] = (Int64(f["generation"] ?? "") ?? 0, Int(f["members"] ?? "") ?? 0)
        }
        return result
    }

    /// `GROUP <g>`.
    public func describeGroup(_ group: String) async throws -> GroupDescription {
        try checkGroupName(group)
        var description = GroupDescription(generation: 0, members: [:], lag: [])
        for line in try await send(line: "GROUP \(group)", expectingBlock: true) {
            let parts = line.split(separator: " ")
            let f = fields(line)
            switch parts.first {
            case "GROUP": description.generation = Int64(f["generation"] ?? "") ?? 0
            case "MEMBER":
                let owned = f["partitions"] ?? "-"
                description.members[String(parts[1])] = owned == "-" ? [] : owned.split(separator: ",").map(String.init)
            case "LAG":
                description.lag.append(
                    GroupLag(
                        topic: String(parts[1]), partition: Int(parts[2]) ?? -1, owner: f["owner"] == "-" ? nil : f["owner"],
                        committed: f["committed"] == "-" ? nil : Int64(f["committed"] ?? ""), end: Int64(f["end"] ?? "") ?? 0,
                        lagRecords: Int64(f["lag"] ?? "") ?? 0, lagMs: Int64(f["lag_ms"] ?? "") ?? 0))
            default: break
            }
        }
        return description
    }
}
