import Histogram

/// Latencies in microseconds in an HDR histogram (3 significant digits, 1 µs to 10 minutes), so
/// p99.9 and max are exact to 0.1% whatever the spread, with a fixed memory footprint.
struct LatencyHistogram: Sendable {
    private var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)

    mutating func record(nanoseconds: UInt64) {
        let micros = max(1, min(nanoseconds / 1_000, 600_000_000))
        _ = histogram.record(micros)
    }

    mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    var count: UInt64 { histogram.totalCount }

    /// Milliseconds at a percentile (0...100).
    func ms(atPercentile percentile: Double) -> Double {
        count == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1_000
    }

    var maxMs: Double { count == 0 ? 0 : Double(histogram.max) / 1_000 }

    var summary: LatencySummary {
        LatencySummary(
            p50Ms: ms(atPercentile: 50), p99Ms: ms(atPercentile: 99), p999Ms: ms(atPercentile: 99.9), maxMs: maxMs)
    }
}

/// The percentiles every result reports.
struct LatencySummary: Sendable, Codable {
    var p50Ms: Double
    var p99Ms: Double
    var p999Ms: Double
    var maxMs: Double

    enum CodingKeys: String, CodingKey {
        case p50Ms = "p50_ms"
        case p99Ms = "p99_ms"
        case p999Ms = "p99_9_ms"
        case maxMs = "max_ms"
    }
}
