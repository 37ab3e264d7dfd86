import SpoolCore

/// Where each file lives under the data folder. docs/schema.md shows the same layout.
struct DataLayout: Sendable {
    let root: String

    var brokerDatabase: String { root + "/broker.sqlite3" }
    var topicsDirectory: String { root + "/topics" }

    func topicDirectory(_ topic: TopicName) -> String { topicsDirectory + "/" + topic.value }

    func partitionDatabase(_ topic: TopicName, _ partition: PartitionID) -> String {
        topicDirectory(topic) + "/\(partition.rawValue).sqlite3"
    }
}
