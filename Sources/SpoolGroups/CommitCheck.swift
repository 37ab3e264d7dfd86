/// The answer to "may this member commit an offset for this partition?".
///
/// Only the partition's current owner may commit. During a pending revocation that is still the
/// old owner (it may commit what it processed before letting go); after the revocation completes
/// (or is forced) the old owner gets `.notOwner` and the driver answers `ERR`.
public enum CommitCheck: Sendable, Equatable, CustomStringConvertible {
    /// The member owns the partition in the current generation.
    case allowed
    /// The member is in the group but does not own the partition (never did, or it was moved).
    case notOwner(message: String)
    /// The member is not in the group (never joined, left, or its session expired).
    case unknownMember(message: String)

    /// True for `.allowed`.
    public var isAllowed: Bool { self == .allowed }

    /// The human message for `ERR`, or nil when the commit is allowed.
    public var message: String? {
        switch self {
        case .allowed: nil
        case .notOwner(let message), .unknownMember(let message): message
        }
    }

    public var description: String { message ?? "allowed" }
}
