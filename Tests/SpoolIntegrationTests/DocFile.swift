import Foundation
import Testing

/// The commands and transcripts in a Markdown file of this repository.
struct DocFile {
    let text: String

    init(_ relativePath: String) throws {
        text = try String(contentsOf: ChildProcess.packageRoot.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// The fenced blocks, in order: their info string (`sh`, or empty) and their lines.
    var blocks: [(info: String, lines: [String])] {
        var blocks: [(String, [String])] = []
        var current: (String, [String])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let block = current {
                    blocks.append(block)
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)), [])
                }
            } else if current != nil {
                current!.1.append(line)
            }
        }
        return blocks
    }

    /// The commands of the `sh` blocks: one per line, a line ending in `\` joined with the next,
    /// blank lines and comments left out, a trailing `# comment` cut.
    var shellCommands: [String] {
        var commands: [String] = []
        for block in blocks where block.info == "sh" {
            var pending = ""
            for line in block.lines {
                if line.hasSuffix("\\") {
                    pending += line.dropLast() + " "
                    continue
                }
                let command = (pending + line).trimmingCharacters(in: .whitespaces)
                pending = ""
                if command.isEmpty || command.hasPrefix("#") { continue }
                commands.append(Self.withoutTrailingComment(command))
            }
        }
        return commands
    }

    /// `cmd   # note` → `cmd` (a `#` after two spaces; none of our commands has one inside quotes).
    static func withoutTrailingComment(_ command: String) -> String {
        guard let range = command.range(of: "  #") else { return command }
        return command[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
    }

    /// The first block after the line that contains `heading`.
    func block(after heading: String) throws -> [String] {
        let headingOffset = try #require(text.range(of: heading), "no '\(heading)' in the file").upperBound
        let rest = DocFile(text: String(text[headingOffset...]))
        return try #require(rest.blocks.first, "no block after '\(heading)'").lines
    }

    private init(text: String) {
        self.text = text
    }
}
