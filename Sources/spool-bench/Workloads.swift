import NIOCore
import NIOPosix
import SpoolClient
import SpoolCore

/// The load the generator puts on a broker, phase by phase. Every phase runs on its own topic,
/// created first and dropped afterwards, so phases never see each other's records.
struct Workloads {
    let broker: BrokerUnderTest
    let group: EventLoopGroup
    /// Upper bound on any one phase, so a broker that stops answering ends the run with an error
    /// instead of hanging it.
    let phaseTimeout: TimeAmount

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: Topics

    func createTopic(_ prefix: String, partitions: Int) async throws -> String {
        let name = "bench-\(prefix)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        let client = try await SpoolClient.connect(host: broker.host, port: broker.port, group: group)
        do {
            try await client.createTopic(name, partitions: partitions)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return name
    }

    func dropTopic(_ name: String) async {
        guard let client = try? await SpoolClient.connect(host: broker.host, port: broker.port, group: group) else { return }
        _ = try? await client.dropTopic(name)
        await client.close()
    }

    /// The next offset of each partition (how many records each holds, from offset 0).
    func highWatermarks(_ topic: String, partitions: Int) async throws -> [Int] {
        let client = try await SpoolClient.connect(host: broker.host, port: broker.port, group: group)
        var result: [Int] = []
        do {
            for partition in 0..<partitions {
                result.append(Int(try await client.offsets(topic: topic, partition: partition).latest))
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return result
    }

    /// Runs `body`, then drops `topic` (also when `body` throws), so runs leave no data behind.
    func dropping<T>(_ topic: String, _ body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await dropTopic(topic)
            return result
        } catch {
            await dropTopic(topic)
            throw error
        }
    }

    private func connect(_ makeHandler: @escaping @Sendable () -> any ChannelHandler) async throws -> Channel {
        try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .connect(host: broker.host, port: broker.port).get()
    }

    private func withTimeout<T: Sendable>(_ future: EventLoopFuture<T>, _ what: String) async throws -> T {
        let timeout = future.eventLoop.scheduleTask(in: phaseTimeout) {}
        let timedOut = future.eventLoop.makePromise(of: T.self)
        timeout.futureResult.whenSuccess { timedOut.fail(Failure(description: "\(what) took longer than \(phaseTimeout)")) }
        future.cascade(to: timedOut)
        defer { timeout.cancel() }
        return try await timedOut.futureResult.get()
    }

    // MARK: Produce

    struct ProduceSettings: Sendable {
        var records: Int
        var valueBytes: Int
        var keys: Int
        var partitions: Int
        var connections: Int
        var depth: Int
        var acks: String
        /// Keyless records: each connection sends to one partition (`partition=` connection mod
        /// partitions), like Kafka's sticky partitioner, instead of the broker's round-robin.
        /// Spreading one connection's window over every partition makes its replies wait for the
        /// slowest partition's commit (they come in request order).
        var sticky = false

        var dictionary: [String: String] {
            [
                "records": "\(records)", "value_bytes": "\(valueBytes)", "keys": "\(keys)", "partitions": "\(partitions)",
                "connections": "\(connections)", "depth": "\(depth)", "acks": acks,
                "spread": keys > 0 ? "key" : (partitions == 1 ? "one-partition" : (sticky ? "sticky" : "broker")),
            ]
        }
    }

    /// Publishes `records` records over `connections` pipelined connections into `topic`.
    func produce(into topic: String, _ settings: ProduceSettings, name: String = "produce") async throws -> PhaseResult {
        let connections = max(1, min(settings.connections, settings.records))
        let sampler = MemorySampler(broker)
        var channels: [Channel] = []
        var futures: [EventLoopFuture<ProducerTally>] = []
        let start = WallClock.monotonicNs()
        for index in 0..<connections {
            let loop = group.next()
            let done = loop.makePromise(of: ProducerTally.self)
            // Connection i sends records i, i + connections, ...
            let count = settings.records / connections + (index < settings.records % connections ? 1 : 0)
            let sticky = settings.sticky && settings.keys == 0 && settings.partitions > 1
            let shape = RecordShape(
                topic: topic, valueBytes: settings.valueBytes, keys: settings.keys, acks: settings.acks,
                partition: sticky ? index % settings.partitions : nil)
            channels.append(
                try await connect {
                    ProducerHandler(shape: shape, first: index, stride: connections, count: count, depth: settings.depth, done: done)
                })
            futures.append(done.futureResult)
        }
        var tally = ProducerTally()
        for future in futures {
            let one = try await withTimeout(future, "producing")
            tally.acked += one.acked
            tally.errors += one.errors
            tally.firstError = tally.firstError ?? one.firstError
            tally.latency.add(one.latency)
        }
        let seconds = Double(WallClock.monotonicNs() - start) / 1e9
        for channel in channels { try? await channel.close() }
        return PhaseResult(
            name: name, records: tally.acked, errors: tally.errors, seconds: seconds,
            recordsPerSecond: Double(tally.acked) / seconds,
            megabytesPerSecond: Double(tally.acked * settings.valueBytes) / seconds / 1e6,
            latency: tally.latency.summary, latencyOf: "PUB sent -> OK received", brokerRSSMaxMB: sampler.stop(),
            settings: settings.dictionary, firstError: tally.firstError)
    }

    func produce(_ settings: ProduceSettings, name: String = "produce") async throws -> PhaseResult {
        let topic = try await createTopic(name, partitions: settings.partitions)
        return try await dropping(topic) { try await produce(into: topic, settings, name: name) }
    }

    // MARK: Consume

    enum ConsumeMode: String, Sendable, CaseIterable {
        case fetch
        case sub
    }

    /// Reads every record of `topic` (partitions `0..<partitions`, `perPartition` records each,
    /// from offset 0): back-to-back FETCHes, one connection per partition, or one SUB.
    func consume(
        from topic: String, partitions: Int, perPartition: [Int], mode: ConsumeMode, fetchMax: Int, valueBytes: Int
    ) async throws -> PhaseResult {
        let sampler = MemorySampler(broker)
        let total = perPartition.reduce(0, +)
        var channels: [Channel] = []
        var futures: [EventLoopFuture<ConsumerTally>] = []
        let start = WallClock.monotonicNs()
        switch mode {
        case .fetch:
            for partition in 0..<partitions where perPartition[partition] > 0 {
                let done = group.next().makePromise(of: ConsumerTally.self)
                let handlerMode = ConsumerHandler.Mode.fetch(partition: partition, from: 0, until: perPartition[partition], max: fetchMax)
                channels.append(try await connect { ConsumerHandler(topic: topic, mode: handlerMode, done: done) })
                futures.append(done.futureResult)
            }
        case .sub:
            let done = group.next().makePromise(of: ConsumerTally.self)
            channels.append(try await connect { ConsumerHandler(topic: topic, mode: .subscribe(records: total), done: done) })
            futures.append(done.futureResult)
        }
        var tally = ConsumerTally()
        for future in futures {
            let one = try await withTimeout(future, "consuming")
            tally.records += one.records
            tally.valueBytes += one.valueBytes
            tally.latency.add(one.latency)
            tally.error = tally.error ?? one.error
        }
        let seconds = Double(WallClock.monotonicNs() - start) / 1e9
        for channel in channels { try? await channel.close() }
        return PhaseResult(
            name: "consume-\(mode.rawValue)", records: tally.records, errors: tally.error == nil ? 0 : 1, seconds: seconds,
            recordsPerSecond: Double(tally.records) / seconds, megabytesPerSecond: Double(tally.valueBytes) / seconds / 1e6,
            latency: tally.latency.summary, latencyOf: mode == .fetch ? "FETCH round trip" : "none (one SUB)",
            brokerRSSMaxMB: sampler.stop(),
            settings: [
                "records": "\(total)", "partitions": "\(partitions)", "mode": mode.rawValue, "fetch_max": "\(fetchMax)",
                "value_bytes": "\(valueBytes)", "from": "0",
            ],
            firstError: tally.error)
    }

    // MARK: End to end

    struct EndToEndSettings: Sendable {
        var rate: Double
        var records: Int
        var valueBytes: Int
        var keys: Int
        var partitions: Int
        var window: Int
        var acks: String
    }

    /// Publishes at a fixed rate while one `SUB` connection tails the topic; the latency is from
    /// each record's scheduled send time to its `MSG` arriving.
    func endToEnd(_ settings: EndToEndSettings) async throws -> PhaseResult {
        let topic = try await createTopic("e2e", partitions: settings.partitions)
        return try await dropping(topic) { try await endToEnd(settings, topic: topic) }
    }

    private func endToEnd(_ settings: EndToEndSettings, topic: String) async throws -> PhaseResult {
        let shape = RecordShape(topic: topic, valueBytes: max(20, settings.valueBytes), keys: settings.keys, acks: settings.acks)
        let sampler = MemorySampler(broker)
        let subscriberLoop = group.next()
        let subscribed = subscriberLoop.makePromise(of: Void.self)
        let received = subscriberLoop.makePromise(of: ConsumerTally.self)
        let records = settings.records
        let subscriber = try await connect {
            LatencySubscriber(topic: topic, records: records, subscribed: subscribed, done: received)
        }
        try await withTimeout(subscribed.futureResult, "subscribing")
        let acked = group.next().makePromise(of: ProducerTally.self)
        let start = WallClock.monotonicNs()
        let producer = try await connect {
            PacedProducer(shape: shape, count: records, rate: settings.rate, window: settings.window, tick: .milliseconds(1), done: acked)
        }
        let produced = try await withTimeout(acked.futureResult, "end-to-end producing")
        if produced.errors > 0 { subscriber.pipeline.fireUserInboundEventTriggered(LatencySubscriber.ExpectAcked(acked: produced.acked)) }
        let consumed = try await withTimeout(received.futureResult, "end-to-end consuming")
        let seconds = Double(WallClock.monotonicNs() - start) / 1e9
        try? await producer.close()
        try? await subscriber.close()
        return PhaseResult(
            name: "e2e", records: consumed.records, errors: produced.errors + (consumed.error == nil ? 0 : 1), seconds: seconds,
            recordsPerSecond: Double(consumed.records) / seconds,
            megabytesPerSecond: Double(consumed.valueBytes) / seconds / 1e6,
            latency: consumed.latency.summary, latencyOf: "PUB due -> MSG received", brokerRSSMaxMB: sampler.stop(),
            settings: [
                "rate": "\(Int(settings.rate))", "records": "\(records)", "value_bytes": "\(shape.valueBytes)",
                "partitions": "\(settings.partitions)", "acks": settings.acks, "window": "\(settings.window)",
                "produce_ack_p99_ms": fixed(produced.latency.ms(atPercentile: 99), 3),
            ],
            firstError: produced.firstError ?? consumed.error)
    }
}

#if canImport(Glibc)
import Glibc
#endif
