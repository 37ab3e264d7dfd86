import SpoolCore

/// Where each file lives under the data folder. docs/schema.md shows the same layout.
struct DataLayout: Sendable {
    let root: String

    var brokerDatabase: String { root + "/broker.sqlite3" }
    var topicsDirectory: String { root + "/topics" }
    /// Where CREATE builds a topic's files before renaming the folder into `topics/`, so a crash
    /// never leaves a half-built topic there. Emptied at start.
    var stagingDirectory: String { root + "/staging" }
    /// Where DROP (and CREATE over a leftover folder) renames a topic's folder before deleting
    /// its files, so the name is free at once and a crash mid-delete leaves nothing in
    /// `topics/`. Emptied at start.
    var trashDirectory: String { root + "/trash" }

    func stagingTopicDirectory(_ topic: TopicName) -> String { stagingDirectory + "/" + topic.value }

    func stagingPartitionDatabase(_ topic: TopicName, _ partition: PartitionID) -> String {
        stagingTopicDirectory(topic) + "/\(partition.rawValue).sqlite3"
    }

    func topicDirectory(_ topic: TopicName) -> String { topicsDirectory + "/" + topic.value }

    /// In a cluster, the metadata's id of the topic whose replicas the folder holds: a folder of
    /// a topic that was dropped while this broker was down, and created again, is told apart.
    func topicIDFile(_ topic: TopicName) -> String { topicDirectory(topic) + "/topic.id" }

    func stagingTopicIDFile(_ topic: TopicName) -> String { stagingTopicDirectory(topic) + "/topic.id" }

    func partitionDatabase(_ topic: TopicName, _ partition: PartitionID) -> String {
        topicDirectory(topic) + "/\(partition.rawValue).sqlite3"
    }
}
