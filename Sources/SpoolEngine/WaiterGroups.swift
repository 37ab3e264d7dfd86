/// The results of one group commit, grouped by who they go to (a connection, or an event loop),
/// in order of first appearance, each group's results in the order they were added.
///
/// A commit holds runs of records from the same connection, so the waiter is looked up only when
/// it changes: linearly while there are few groups, through a table once there are more. No
/// allocation per result beyond the growth of the result arrays.
///
/// Generic (and the waiter's identity passed in) so it can be tested without connections.
struct WaiterGroups<Waiter, Result> {
    /// Up to this many groups a linear scan beats hashing.
    static var linearLimit: Int { 8 }

    private(set) var groups: [(waiter: Waiter, results: [Result])] = []
    private var identities: [ObjectIdentifier] = []
    /// Group position by waiter; filled once there are more than `linearLimit` groups.
    private var positions: [ObjectIdentifier: Int] = [:]
    private var current = -1

    /// Adds `result` for `waiter`, whose identity is `id` (its `ObjectIdentifier`).
    mutating func add(_ result: Result, for waiter: Waiter, id: ObjectIdentifier) {
        if current < 0 || identities[current] != id {
            current = position(of: id) ?? newGroup(for: waiter, id: id)
        }
        groups[current].results.append(result)
    }

    private func position(of id: ObjectIdentifier) -> Int? {
        if groups.count <= Self.linearLimit { return identities.firstIndex(of: id) }
        return positions[id]
    }

    private mutating func newGroup(for waiter: Waiter, id: ObjectIdentifier) -> Int {
        groups.append((waiter, []))
        identities.append(id)
        let position = groups.count - 1
        if groups.count == Self.linearLimit + 1 {
            for (index, identity) in identities.enumerated() { positions[identity] = index }
        } else if groups.count > Self.linearLimit + 1 {
            positions[id] = position
        }
        return position
    }
}
