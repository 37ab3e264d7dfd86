import NIOConcurrencyHelpers

/// Open connections per client address, for `connectionsPerAddress`: one address (a slowloris
/// host, a runaway script) cannot take every place under `connections`.
final class AddressCounts: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    /// Counts a connection from `address`; false (and nothing counted) when that address already
    /// has `limit`.
    func open(_ address: String, limit: Int) -> Bool {
        counts.withLockedValue { counts in
            let now = counts[address, default: 0]
            guard now < limit else { return false }
            counts[address] = now + 1
            return true
        }
    }

    func close(_ address: String) {
        counts.withLockedValue { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }
}
