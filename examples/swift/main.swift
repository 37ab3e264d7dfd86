// spool-example: the SpoolClient library in one page.
//
//   swift run spool-example                  # broker at 127.0.0.1:7070
//   swift run spool-example 127.0.0.1:7181   # or SPOOL_SERVER=127.0.0.1:7181
//   swift run spool-example 10.0.0.1:7070,10.0.0.2:7070   # a list: the first broker that answers
//
// Creates a topic, publishes a pipelined batch, fetches it back, then subscribes and receives
// one record pushed by the broker.
import SpoolClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let address = CommandLine.arguments.dropFirst().first
    ?? getenv("SPOOL_SERVER").map { String(cString: $0) }
    ?? "127.0.0.1:7070"
guard let addresses = ServerAddress.list(address) else {
    print("usage: spool-example [HOST:PORT[,HOST:PORT...]]")
    exit(2)
}

do {
    // Tried in order; `SpoolConnection` adds moving to another broker when this one goes away.
    let client = try await SpoolClient.connect(to: addresses)

    // 1. A topic with a unique name, so the example can run again and again.
    let topic = "example-\(UInt32.random(in: 0...UInt32.max))"
    print(try await client.createTopic(topic, partitions: 1))

    // 2. Ten records in one pipelined write; the acks come back in order.
    let records = (0..<10).map { OutgoingRecord(topic: topic, key: "user-\($0 % 3)", value: "order \($0)") }
    let acks = try await client.publish(batch: records)
    print("published \(acks.count) records, offsets \(acks.first!.offset!)...\(acks.last!.offset!)")

    // 3. Read them back.
    let batch = try await client.fetch(topic: topic, partition: 0, from: .earliest)
    for message in batch.messages {
        print("fetched \(message.offset) key=\(message.keyString ?? "-") \(message.valueString)")
    }
    print("next offset \(batch.next), high watermark \(batch.high)")

    // 4. Subscribe from the end, publish one more record: the broker pushes it to `deliveries`.
    //    (After SUB this connection may not FETCH any more; it may still PUB.)
    try await client.subscribe(topic: topic, from: .latest)
    _ = try await client.publish(topic: topic, value: "pushed to subscribers")
    for await message in client.deliveries {
        print("received \(message.topic) \(message.partition) \(message.offset): \(message.valueString)")
        break
    }

    try await client.dropTopic(topic)
    print("dropped \(topic)")
    await client.close()
} catch let error as SpoolClientError {
    print("spool-example: \(error)")  // e.g. "ERR UNKNOWN_TOPIC ..." from the broker
    exit(1)
} catch {
    print("spool-example: cannot talk to \(address): \(error)")
    exit(69)
}
