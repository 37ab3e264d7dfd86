/// Volatile state the application may want to observe (who leads, in which role this node is).
/// It need not be persisted.
public struct SoftState: Hashable, Sendable {
    public var leader: NodeID
    public var role: Role

    public init(leader: NodeID, role: Role) {
        self.leader = leader
        self.role = role
    }
}
