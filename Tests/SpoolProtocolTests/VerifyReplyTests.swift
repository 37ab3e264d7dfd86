import SpoolCore
import SpoolProtocol
import Testing

/// VERIFY's verdict: which replicas agree, differ or could not answer.
@Suite("VERIFY reply lines")
struct VerifyReplyTests {
    static let topic = TopicName("orders")!

    static func line(_ replicas: [ReplyLine.ReplicaSum]) -> String {
        ReplyLine.verifyPartition(topic, PartitionID(2), from: Offset(5), upTo: Offset(9), records: 4, replicas: replicas)
    }

    @Test func oneReplicaAgreesWithItself() {
        #expect(Self.line([(1, "0a0b0c0d")]) == "PARTITION orders 2 from=5 upto=9 records=4 replicas=1:0a0b0c0d agree")
    }

    @Test func theOddOneOutIsNamed() {
        #expect(Self.line([(1, "aaaaaaaa"), (2, "bbbbbbbb"), (3, "aaaaaaaa")]).hasSuffix("replicas=1:aaaaaaaa,2:bbbbbbbb,3:aaaaaaaa differ=2"))
        // The leader (listed first) in the minority is the one that differs.
        #expect(Self.line([(1, "bbbbbbbb"), (2, "aaaaaaaa"), (3, "aaaaaaaa")]).hasSuffix(" differ=1"))
    }

    @Test func aTieIsJudgedAgainstTheFirstReplica() {
        #expect(Self.line([(1, "aaaaaaaa"), (2, "bbbbbbbb")]).hasSuffix(" differ=2"))
        #expect(Self.line([(3, "cccccccc"), (1, "aaaaaaaa"), (2, "bbbbbbbb")]).hasSuffix(" differ=1,2"))
    }

    @Test func aReplicaThatDidNotAnswerIsUnverifiedNotAgreeing() {
        #expect(Self.line([(1, "aaaaaaaa"), (2, nil), (3, "aaaaaaaa")]).hasSuffix("replicas=1:aaaaaaaa,2:-,3:aaaaaaaa unverified=2"))
        #expect(Self.line([(1, "aaaaaaaa"), (2, nil), (3, "bbbbbbbb")]).hasSuffix(" differ=3 unverified=2"))
        #expect(Self.line([(1, nil)]).hasSuffix("replicas=1:- unverified=1"))
    }
}
