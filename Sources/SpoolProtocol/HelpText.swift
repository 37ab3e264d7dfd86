/// Help for one command: what `HELP <command>` answers and what parse errors quote as usage.
public struct CommandHelp: Sendable, Equatable {
    /// The command word, upper case.
    public var verb: String
    /// The grammar on one line, e.g. `CREATE <topic> [partitions=N]`.
    public var usage: String
    /// One paragraph, pre-wrapped into lines of at most about 76 characters.
    public var description: [String]
    /// One example request line.
    public var example: String
}

/// The help texts of every command, as data: the server renders them, the parser quotes usages.
///
/// Reply shape (see docs/protocol.md): `HELP` answers one `HELP <usage>` line per command then
/// `END HELP`; `HELP <command>` answers `HELP <usage>`, the description lines, `HELP example: ...`
/// and `END HELP`. `replyLines(for:)` builds exactly those lines.
public enum HelpText {
    /// Every command, in the order `HELP` lists them.
    public static let commands: [CommandHelp] = [
        CommandHelp(
            verb: "PING", usage: "PING",
            description: ["Checks that the broker is alive and the connection works; answers PONG."],
            example: "PING"),
        CommandHelp(
            verb: "CREATE", usage: "CREATE <topic> [partitions=N] [replication=R]",
            description: [
                "Creates a topic with N partitions (default 1). Topic names are 1 to 249",
                "characters from [a-zA-Z0-9._-], not . or ..; answers OK <topic> partitions=<n>",
                "replication=<r>, or ERR TOPIC_EXISTS. In a cluster each partition gets R replicas",
                "on distinct brokers (default min(3, brokers)); a single broker takes only 1.",
            ],
            example: "CREATE orders partitions=3"),
        CommandHelp(
            verb: "TOPICS", usage: "TOPICS",
            description: ["Lists every topic, sorted by name, as TOPIC <name> partitions=<n> lines, then END TOPICS <count>."],
            example: "TOPICS"),
        CommandHelp(
            verb: "DESCRIBE", usage: "DESCRIBE <topic>",
            description: [
                "Shows a topic and, per partition, its earliest offset (low), next offset",
                "(high), record count and bytes on disk; ends with END DESCRIBE <topic>.",
            ],
            example: "DESCRIBE orders"),
        CommandHelp(
            verb: "DROP", usage: "DROP <topic>",
            description: ["Deletes a topic and all of its records. There is no undo."],
            example: "DROP orders"),
        CommandHelp(
            verb: "PUB", usage: "PUB <topic> [key=<k>] [partition=<p>] [acks=none|leader|all] (:<text> | <nbytes>)",
            description: [
                "Appends one record. The value is either inline, everything after the first",
                "token that starts with ':' up to the end of the line, or byte-counted: the",
                "last token is a byte count and exactly that many bytes follow on the next",
                "line, then a line end. Keyed records go to murmur2(key) % partitions like",
                "Kafka; a key that is not a plain token is written key=base64:<base64>.",
                "Answers OK <topic> <partition> <offset> (acks=none: OK <topic> <partition> -)",
                "once committed on a majority of replicas (acks=all, the default), fsynced by",
                "the leader (acks=leader), or queued (acks=none).",
            ],
            example: "PUB orders key=user-42 :{\"item\":\"book\"}"),
        CommandHelp(
            verb: "FETCH", usage: "FETCH <topic> <partition> <offset|earliest|latest> [max=<n>] [wait=<ms>]",
            description: [
                "Reads up to max records of one partition from an offset as MSG records, then",
                "END <topic> <partition> next=<offset> high=<offset>. With wait=, waits up to",
                "that many milliseconds for a first record when none is available.",
            ],
            example: "FETCH orders 1 0 max=100"),
        CommandHelp(
            verb: "OFFSETS", usage: "OFFSETS <topic> <partition> [time=<ms>]",
            description: [
                "Shows the earliest and latest offset of a partition; with time=, also the",
                "first offset whose timestamp (ms since the epoch) is at or after that time.",
            ],
            example: "OFFSETS orders 1 time=1764072000000"),
        CommandHelp(
            verb: "SUB",
            usage: "SUB <topic> [from=earliest|latest|<offset>] | SUB <topic>[,<topic>...] group=<g> [from=earliest|latest] [commit=auto|manual] [session=<ms>]",
            description: [
                "Subscribes this connection to every partition of a topic (default from=latest).",
                "Records are pushed as MSG lines as they arrive; FETCH is refused while",
                "subscribed (ERR SUBSCRIBED), every other command still works. With group=,",
                "joins consumer group g: the group's members share the partitions (each is",
                "owned by one member at a time), every group gets every record. The member is",
                "told ASSIGNED <topic> <partitions> group=<g> generation=<n> and REVOKED ...",
                "lines; delivery starts at the group's committed offset (from= decides where a",
                "group with no commit starts). commit=auto (default) commits delivered offsets.",
            ],
            example: "SUB orders group=billing from=earliest"),
        CommandHelp(
            verb: "UNSUB", usage: "UNSUB [<topic>]",
            description: [
                "Ends the subscription to one topic, or to every topic when none is named. A group",
                "member leaves its group (commit=auto members commit what was delivered first).",
            ],
            example: "UNSUB orders"),
        CommandHelp(
            verb: "COMMIT", usage: "COMMIT <topic> <partition> <offset>",
            description: [
                "Stores the group's position in a partition this member owns: the next offset",
                "to read (last processed + 1). It is fsynced in the partition's database before",
                "OK committed <topic> <partition> <offset>; ERR NOT_ASSIGNED when the partition",
                "is not (or no longer) this member's.",
            ],
            example: "COMMIT orders 1 42"),
        CommandHelp(
            verb: "GROUPS", usage: "GROUPS",
            description: [
                "Lists consumer groups (live ones and ones with commits) as GROUP <g>",
                "generation=<n> members=<m> lines, then END GROUPS <count>.",
            ],
            example: "GROUPS"),
        CommandHelp(
            verb: "GROUP", usage: "GROUP <group>",
            description: [
                "Shows a group: its generation, each MEMBER with its topics and partitions, and",
                "per partition a LAG line with owner, committed offset, end offset and lag in",
                "records and in ms (age of the oldest unconsumed record); ends with END GROUP <g>.",
            ],
            example: "GROUP billing"),
        CommandHelp(
            verb: "HELP", usage: "HELP [<command>]",
            description: ["Lists the commands, or explains one."],
            example: "HELP PUB"),
        CommandHelp(
            verb: "STATS", usage: "STATS",
            description: ["Shows broker counters as STAT <name> <value> lines, then END STATS."],
            example: "STATS"),
        CommandHelp(
            verb: "METADATA", usage: "METADATA [<topic>]",
            description: [
                "Shows the cluster: one BROKER <id> <host:port> <up|down> line per broker, then",
                "per partition of the topic (or of every topic) PARTITION <topic> <p>",
                "leader=<id> replicas=<ids> isr=<ids> high=<offset>; ends with END METADATA.",
            ],
            example: "METADATA orders"),
        CommandHelp(
            verb: "VERIFY", usage: "VERIFY <topic> [<partition>]",
            description: [
                "Checks that every replica holds the same records: per partition a line PARTITION",
                "<topic> <p> from=<offset> upto=<offset> records=<n> replicas=<id>:<crc32c>,...",
                "then agree, or differ=<ids> / unverified=<ids>; ends with END VERIFY <topic> <n>.",
            ],
            example: "VERIFY orders 0"),
        CommandHelp(
            verb: "QUIT", usage: "QUIT",
            description: ["Answers OK bye and closes the connection after earlier replies are sent."],
            example: "QUIT"),
    ]

    /// The help of one command (ASCII case-insensitive), or nil when there is no such command.
    public static func help(for verb: String) -> CommandHelp? {
        // ASCII folding only: Unicode upper-casing maps `pıng` (dotless i) to `PING`.
        let upper = String(decoding: verb.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 32 : $0 }, as: UTF8.self)
        return commands.first { $0.verb == upper }
    }

    /// The usage line of a command; `verb` must be one of `commands`.
    static func usage(_ verb: String) -> String {
        help(for: verb)?.usage ?? verb
    }

    /// The reply lines (without line ends) for `HELP` (nil command) or `HELP <command>`, ending
    /// with `END HELP`; nil for an unknown command (answer `ERR BAD_ARGUMENT`).
    public static func replyLines(for command: String?) -> [String]? {
        guard let command else {
            return commands.map { "HELP \($0.usage)" } + ["END HELP"]
        }
        guard let help = help(for: command) else { return nil }
        return ["HELP \(help.usage)"] + help.description.map { "HELP \($0)" }
            + ["HELP example: \(help.example)", "END HELP"]
    }
}
