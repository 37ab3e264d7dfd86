/// One measured phase, as printed and as it appears in the JSON line.
struct PhaseResult: Sendable, Codable {
    var name: String
    var records: Int
    var errors: Int
    var seconds: Double
    var recordsPerSecond: Double
    /// Value bytes per second, MB = 10^6 bytes (Kafka's perf tools count the same way).
    var megabytesPerSecond: Double
    var latency: LatencySummary
    /// What the latency measures (send→ack, FETCH round trip, PUB→MSG).
    var latencyOf: String
    /// Largest broker resident set seen while the phase ran, MB; nil when the pid is unknown.
    var brokerRSSMaxMB: Double?
    /// Filled in by `all`: recordsPerSecond over the raw SQLite rate it is compared with.
    var ratioToSQLite: Double?
    var settings: [String: String]
    var firstError: String?
    /// Filled in by `all` for phases run in several rounds: every round's rate, in run order
    /// (the figures above are the median round's).
    var roundsRecordsPerSecond: [Double]?

    enum CodingKeys: String, CodingKey {
        case name, records, errors, seconds, settings, latency
        case recordsPerSecond = "records_per_s"
        case megabytesPerSecond = "mb_per_s"
        case latencyOf = "latency_of"
        case brokerRSSMaxMB = "broker_rss_max_mb"
        case ratioToSQLite = "ratio_to_sqlite"
        case firstError = "first_error"
        case roundsRecordsPerSecond = "rounds_records_per_s"
    }

    /// The human-readable block.
    var text: String {
        var lines = [
            "\(name): \(records) records in \(fixed(seconds, 2)) s = \(fixed(recordsPerSecond, 0)) records/s, \(fixed(megabytesPerSecond, 1)) MB/s"
                + (errors > 0 ? ", \(errors) ERRORS (first: \(firstError ?? "?"))" : ""),
            "  latency (\(latencyOf)) ms: p50 \(fixed(latency.p50Ms, 3))  p99 \(fixed(latency.p99Ms, 3))  p99.9 \(fixed(latency.p999Ms, 3))  max \(fixed(latency.maxMs, 3))",
        ]
        if let brokerRSSMaxMB { lines.append("  broker RSS max: \(fixed(brokerRSSMaxMB, 1)) MB") }
        if let roundsRecordsPerSecond {
            lines.append(
                "  median of \(roundsRecordsPerSecond.count) rounds: "
                    + roundsRecordsPerSecond.map { fixed($0, 0) }.joined(separator: ", ") + " records/s")
        }
        if let ratioToSQLite { lines.append("  ratio to raw SQLite: \(fixed(ratioToSQLite, 2))") }
        lines.append("  settings: " + settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        return lines.joined(separator: "\n")
    }
}

/// `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if digits == 0 {
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    }
    return text
}
