import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard output, buffered and binary-safe. Only the running command's task writes to it, one
/// call at a time, so it needs no lock.
nonisolated(unsafe) let standardOutput = OutputWriter(fileDescriptor: 1)

/// Writes straight to standard error (unbuffered: error lines must not wait behind output).
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
    try? writeAll(bytes[...], to: 2)
}

/// Exits the process with `status` (after output is flushed by the caller).
func terminate(_ status: Int32) -> Never {
    exit(status)
}

/// The reader of our output has gone (`spool fetch t 0 | head -1`): end the way `cat` does in a
/// shell, killed by SIGPIPE without a word (the shell reports status 141). SwiftNIO ignores
/// SIGPIPE for the whole process, so that a closed socket is an error and not a death; that is why
/// the write came back with EPIPE instead, and why the default is restored before raising it.
func endBecauseReaderLeft() -> Never {
    signal(SIGPIPE, SIG_DFL)
    raise(SIGPIPE)
    _exit(128 + SIGPIPE)  // only if the signal is blocked on this thread: the same status
}

/// Writes every byte, retrying short writes and EINTR.
func writeAll(_ bytes: ArraySlice<UInt8>, to fileDescriptor: Int32) throws {
    var written = 0
    try bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fileDescriptor, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { endBecauseReaderLeft() }
                throw CLIFailure(status: ExitStatus.ioError, message: "cannot write output: \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }
}

/// A byte buffer in front of a file descriptor, flushed at `flushBytes` and on `flush()`.
final class OutputWriter {
    static let flushBytes = 1 << 16

    private let fileDescriptor: Int32
    private var pending: [UInt8] = []

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        pending.reserveCapacity(Self.flushBytes)
    }

    func write(_ text: String) throws {
        pending.append(contentsOf: text.utf8)
        try flushIfFull()
    }

    func write(_ bytes: [UInt8]) throws {
        pending.append(contentsOf: bytes)
        try flushIfFull()
    }

    func write(_ buffer: ByteBuffer) throws {
        pending.append(contentsOf: buffer.readableBytesView)
        try flushIfFull()
    }

    func flush() throws {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll(keepingCapacity: true) }
        try writeAll(pending[...], to: fileDescriptor)
    }

    private func flushIfFull() throws {
        if pending.count >= Self.flushBytes { try flush() }
    }
}

/// Reads a file descriptor (standard input) one `\n`-terminated line at a time, binary-safe.
/// A `\r` before the `\n` is dropped too; a last line without `\n` still counts.
final class LineReader {
    static let chunkBytes = 1 << 16

    private let fileDescriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(fileDescriptor: Int32 = 0) {
        self.fileDescriptor = fileDescriptor
    }

    /// The next line without its line end, or nil at end of input.
    func nextLine() throws -> ArraySlice<UInt8>? {
        var searchFrom = start
        while true {
            if let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = buffer[start..<end]
                start = newline + 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                return line
            }
            // Compact before reading more so the buffer holds about one line plus one chunk.
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            searchFrom = buffer.count
            try fill()
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: Self.chunkBytes)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIFailure(status: ExitStatus.noInput, message: "cannot read standard input: \(String(cString: strerror(errno)))")
            }
            if n == 0 { atEnd = true } else { buffer.append(contentsOf: chunk[..<n]) }
            return
        }
    }
}

/// The whole file at `path`, for `produce --file`.
func readWholeFile(_ path: String) throws -> [UInt8] {
    let fileDescriptor = open(path, O_RDONLY)
    guard fileDescriptor >= 0 else {
        throw CLIFailure(status: ExitStatus.noInput, message: "cannot read \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fileDescriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw CLIFailure(status: ExitStatus.noInput, message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if n == 0 { return bytes }
        bytes.append(contentsOf: chunk[..<n])
    }
}
