import Testing

@testable import SpoolEngine

/// How a commit's results are split among the connections waiting for them.
@Suite("Grouping a commit's results by waiter")
struct WaiterGroupsTests {
    final class Waiter {
        let name: Int
        init(_ name: Int) { self.name = name }
    }

    /// The plain definition: for each waiter in order of first appearance, its results in order.
    static func reference(_ sequence: [(Waiter, Int)]) -> [(Int, [Int])] {
        var order: [Int] = []
        var results: [Int: [Int]] = [:]
        for (waiter, result) in sequence {
            if results[waiter.name] == nil { order.append(waiter.name) }
            results[waiter.name, default: []].append(result)
        }
        return order.map { ($0, results[$0]!) }
    }

    static func grouped(_ sequence: [(Waiter, Int)]) -> [(Int, [Int])] {
        var groups = WaiterGroups<Waiter, Int>()
        for (waiter, result) in sequence { groups.add(result, for: waiter, id: ObjectIdentifier(waiter)) }
        return groups.groups.map { ($0.waiter.name, $0.results) }
    }

    static func check(_ sequence: [(Waiter, Int)], sourceLocation: SourceLocation = #_sourceLocation) {
        let got = grouped(sequence)
        let want = reference(sequence)
        #expect(got.map(\.0) == want.map(\.0), sourceLocation: sourceLocation)
        #expect(got.map(\.1) == want.map(\.1), sourceLocation: sourceLocation)
    }

    @Test func oneWaiterGetsEverythingInOrder() {
        let waiter = Waiter(0)
        Self.check((0..<100).map { (waiter, $0) })
    }

    @Test func runsAndInterleavingsAroundTheLinearLimit() {
        // From a few waiters (linear scan) to many (the table), in runs and interleaved, and
        // with waiters coming back after others: every result reaches its own waiter in order.
        for waiterCount in [1, 2, WaiterGroups<Waiter, Int>.linearLimit, WaiterGroups<Waiter, Int>.linearLimit + 1, 40] {
            let waiters = (0..<waiterCount).map(Waiter.init)
            var interleaved: [(Waiter, Int)] = []
            var runs: [(Waiter, Int)] = []
            var scattered: [(Waiter, Int)] = []
            var random = SystemRandomNumberGenerator()
            for index in 0..<(waiterCount * 25) {
                interleaved.append((waiters[index % waiterCount], index))
                runs.append((waiters[(index / 7) % waiterCount], index))
                scattered.append((waiters[Int.random(in: 0..<waiterCount, using: &random)], index))
            }
            Self.check(interleaved)
            Self.check(runs)
            Self.check(scattered)
        }
    }

    @Test func nothingAddedMeansNoGroups() {
        #expect(WaiterGroups<Waiter, Int>().groups.isEmpty)
    }
}
