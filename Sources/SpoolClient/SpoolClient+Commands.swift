import NIOCore
import SpoolCore
import SpoolProtocol

extension SpoolClient {
    public func ping() async throws {
        let lines = try await send(line: "PING")
        guard lines == ["PONG"] else { throw SpoolClientError.protocolViolation("PING answered \(lines)") }
    }

    /// `CREATE`; returns the broker's `OK` line.
    @discardableResult
    public func createTopic(_ name: String, partitions: Int = 1) async throws -> String {
        _ = try topicName(name)
        return try await send(line: "CREATE \(name) partitions=\(partitions)")[0]
    }

    public func dropTopic(_ name: String) async throws {
        _ = try topicName(name)
        _ = try await send(line: "DROP \(name)")
    }

    public func topics() async throws -> [TopicInfo] {
        let lines = try await send(line: "TOPICS", expectingBlock: true)
        return lines.dropLast().compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[0] == "TOPIC" else { return nil }
            return TopicInfo(name: String(parts[1]), partitions: Int(fields(line)["partitions"] ?? "") ?? 0)
        }
    }

    public func describe(_ name: String) async throws -> [PartitionInfo] {
        _ = try topicName(name)
        let lines = try await send(line: "DESCRIBE \(name)", expectingBlock: true)
        return lines.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count >= 3, parts[0] == "PARTITION", let partition = Int(parts[2]) else { return nil }
            let f = fields(line)
            return PartitionInfo(
                partition: partition, low: Int64(f["low"] ?? "") ?? 0, high: Int64(f["high"] ?? "") ?? 0,
                records: Int64(f["records"] ?? "") ?? 0, bytes: Int64(f["bytes"] ?? "") ?? 0)
        }
    }

    /// Publishes one record (byte-counted form, so any bytes are fine) and waits for its ack.
    public func publish(_ record: OutgoingRecord) async throws -> PublishAck {
        try await publishFuture(record, flush: true).get()
    }

    /// Convenience: publish a text value.
    public func publish(topic: String, key: String? = nil, value: String, partition: Int? = nil, acks: Acks = .all) async throws -> PublishAck {
        try await publish(OutgoingRecord(topic: topic, key: key, value: value, partition: partition, acks: acks))
    }

    /// Publishes many records pipelined in one write, and waits for every ack (in order). The
    /// first failure is thrown after all replies arrived; use `publishResults` to see each one.
    public func publish(batch records: [OutgoingRecord]) async throws -> [PublishAck] {
        try await publishResults(batch: records).map { try $0.get() }
    }

    /// Like `publish(batch:)`, but returns each record's own result.
    public func publishResults(batch records: [OutgoingRecord]) async throws -> [Result<PublishAck, Error>] {
        guard !records.isEmpty else { return [] }
        var futures: [EventLoopFuture<PublishAck>] = []
        futures.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            futures.append(try publishFuture(record, flush: index == records.count - 1))
        }
        var results: [Result<PublishAck, Error>] = []
        results.reserveCapacity(futures.count)
        for future in futures {
            do {
                results.append(.success(try await future.get()))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    func publishFuture(_ record: OutgoingRecord, flush: Bool) throws -> EventLoopFuture<PublishAck> {
        _ = try topicName(record.topic)
        var line = "PUB \(record.topic)"
        if let key = record.key { line += " key=" + KeyCodec.renderString(key) }
        if let partition = record.partition { line += " partition=\(partition)" }
        line += " acks=\(record.acks.rawValue)"  // always: brokers before 2026-12-03 defaulted to leader
        line += " \(record.value.readableBytes)\n"
        var bytes = channel.allocator.buffer(capacity: line.utf8.count + record.value.readableBytes + 1)
        bytes.writeString(line)
        var value = record.value
        bytes.writeBuffer(&value)
        bytes.writeString("\n")
        return requestFuture(bytes, shape: .line, flush: flush).flatMapThrowing { reply in
            try Self.parseAck(reply.lines[0])
        }
    }

    static func parseAck(_ line: String) throws -> PublishAck {
        let parts = line.split(separator: " ")
        guard parts.count == 4, parts[0] == "OK", let partition = Int(parts[2]) else {
            throw SpoolClientError.protocolViolation("unexpected PUB reply: \(line)")
        }
        return PublishAck(topic: String(parts[1]), partition: partition, offset: parts[3] == "-" ? nil : Int64(parts[3]))
    }

    /// `FETCH`: records from `from`, at most `max`, waiting up to `waitMs` for a first record.
    public func fetch(topic: String, partition: Int, from: StartPosition, max: Int? = nil, waitMs: Int64 = 0) async throws -> FetchBatch {
        _ = try topicName(topic)
        var line = "FETCH \(topic) \(partition) \(from)"
        if let max { line += " max=\(max)" }
        if waitMs > 0 { line += " wait=\(waitMs)" }
        var bytes = channel.allocator.buffer(capacity: line.utf8.count + 1)
        bytes.writeString(line + "\n")
        let reply = try await request(bytes, shape: .records)
        guard let end = reply.lines.last, end.hasPrefix("END ") else {
            throw SpoolClientError.protocolViolation("FETCH reply without END")
        }
        let f = fields(end)
        guard let next = Int64(f["next"] ?? ""), let high = Int64(f["high"] ?? "") else {
            throw SpoolClientError.protocolViolation("bad END line: \(end)")
        }
        return FetchBatch(messages: reply.messages, next: next, high: high)
    }

    public func offsets(topic: String, partition: Int, time: Int64? = nil) async throws -> PartitionOffsets {
        _ = try topicName(topic)
        let line = try await send(line: "OFFSETS \(topic) \(partition)" + (time.map { " time=\($0)" } ?? ""))[0]
        let f = fields(line)
        guard let earliest = Int64(f["earliest"] ?? ""), let latest = Int64(f["latest"] ?? "") else {
            throw SpoolClientError.protocolViolation("bad OFFSETS reply: \(line)")
        }
        return PartitionOffsets(earliest: earliest, latest: latest, atTime: f["offset"].flatMap { Int64($0) })
    }

    /// `SUB`: from now on every record of every partition of `topic` arrives on `deliveries`.
    @discardableResult
    public func subscribe(topic: String, from: StartPosition = .latest) async throws -> String {
        _ = try topicName(topic)
        return try await send(line: "SUB \(topic) from=\(from)")[0]
    }

    @discardableResult
    public func unsubscribe(topic: String? = nil) async throws -> String {
        try await send(line: topic.map { "UNSUB \($0)" } ?? "UNSUB")[0]
    }

    /// `STATS` as a dictionary.
    public func stats() async throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for line in try await send(line: "STATS", expectingBlock: true) {
            let parts = line.split(separator: " ")
            if parts.count == 3, parts[0] == "STAT", let value = Int64(parts[2]) { result[String(parts[1])] = value }
        }
        return result
    }
}
