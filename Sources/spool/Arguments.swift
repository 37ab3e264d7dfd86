import ArgumentParser
import SpoolCore

/// `earliest`, `latest` or an offset, as `--from` takes it.
extension StartPosition: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "earliest": self = .earliest
        case "latest": self = .latest
        default:
            guard argument.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let value = Int64(argument)
            else { return nil }
            self = .offset(Offset(value))
        }
    }

    public static var allValueStrings: [String] { ["earliest", "latest", "<offset>"] }
}

/// `--acks none|leader|all`.
extension Acks: ExpressibleByArgument {}

/// Throws a usage error unless `name` is a legal topic name (so a typo never reaches the broker).
func validateTopic(_ name: String) throws {
    guard TopicName(name) != nil else {
        throw ValidationError("illegal topic name '\(name)': use 1 to 249 characters from [a-zA-Z0-9._-], not '.' or '..'")
    }
}

/// Throws a usage error unless `value` is at least `minimum`.
func validateAtLeast(_ value: (some BinaryInteger)?, _ minimum: Int, _ flag: String) throws {
    if let value, value < minimum { throw ValidationError("\(flag) must be at least \(minimum)") }
}
