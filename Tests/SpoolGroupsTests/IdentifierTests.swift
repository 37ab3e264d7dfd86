import SpoolCore
import SpoolGroups
import Testing

@Suite("Group identifiers")
struct IdentifierTests {
    @Test(arguments: ["billing", "a", "a.b_c-1", String(repeating: "g", count: 249)])
    func legalGroupNames(text: String) {
        #expect(GroupName(text)?.value == text)
    }

    @Test(arguments: ["", "has space", "slash/no", "é", ".", "..", String(repeating: "g", count: 250)])
    func illegalGroupNames(text: String) {
        #expect(GroupName(text) == nil)
    }

    @Test func topicPartitionOrdersByTopicThenNumberAndPrintsWithASlash() {
        #expect(tp("orders", 3).description == "orders/3")
        #expect([tp("b", 0), tp("a", 10), tp("a", 2)].sorted() == [tp("a", 2), tp("a", 10), tp("b", 0)])
    }

    @Test func generationStartsAtZeroAndCountsUp() {
        #expect(Generation.initial == Generation(0))
        #expect(Generation.initial.next == Generation(1))
        #expect(Generation(1) < Generation(2))
        #expect(makeGroup().generation == .initial)
    }

    @Test func memberIDsCompareByTheirText() {
        #expect(MemberID("c1") < MemberID("c2"))
        #expect(MemberID("c1") == "c1")
        #expect([MemberID("c3"), "c1", "c2"].sorted() == ["c1", "c2", "c3"])
    }

    @Test func actionsPrintForTraces() {
        let action = GroupAction.assign("c1", [tp("orders", 0), tp("orders", 1)], Generation(3))
        #expect(action.description == "ASSIGN c1 orders/0,orders/1 generation=3")
        #expect(GroupAction.removed("c2", .sessionExpired).description == "REMOVED c2 session_expired")
    }
}
