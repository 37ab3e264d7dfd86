/// Append messages sent to one follower and not yet acknowledged, as the last index each carried
/// (etcd-io/raft's tracker/inflights.go). Bounds the data a leader pushes ahead of a follower.
struct Inflights: Sendable {
    /// Maximum messages in flight.
    let capacity: Int
    private var lastIndexes: [LogIndex] = []
    private var head = 0

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { lastIndexes.count - head }
    var isFull: Bool { count >= capacity }

    mutating func add(_ lastIndex: LogIndex) {
        precondition(!isFull, "inflights overflow")
        if let last = lastIndexes.last, head < lastIndexes.count {
            precondition(lastIndex >= last, "inflight indexes must not decrease")
        }
        lastIndexes.append(lastIndex)
    }

    /// Frees every message whose last index is ≤ `index` (acknowledged).
    mutating func freeLE(_ index: LogIndex) {
        while head < lastIndexes.count, lastIndexes[head] <= index { head += 1 }
        compactIfNeeded()
    }

    mutating func reset() {
        lastIndexes.removeAll(keepingCapacity: true)
        head = 0
    }

    private mutating func compactIfNeeded() {
        if head == lastIndexes.count {
            reset()
        } else if head > capacity {
            lastIndexes.removeFirst(head)
            head = 0
        }
    }
}
