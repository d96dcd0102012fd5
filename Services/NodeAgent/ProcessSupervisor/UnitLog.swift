// Linux only, like fleet and systemd: /proc, pipe2, SO_PASSCRED.
import Glibc
import Synchronization

/// Which output of the unit's processes a line came from.
public enum LogStream: String, Sendable, Hashable {
    case stdout, stderr
}

/// One journal line. On disk it is `<RFC 3339 UTC timestamp, µs> <stdout|stderr> <text>\n`: plain text
/// so `tail -f` works on a node, and unambiguous because the first two fields never contain spaces and the
/// text never contains a newline.
public struct LogLine: Sendable, Hashable, CustomStringConvertible {
    public var timestamp: String
    public var stream: LogStream
    public var text: String

    public init(timestamp: String, stream: LogStream, text: String) {
        self.timestamp = timestamp
        self.stream = stream
        self.text = text
    }

    /// Parses one line as written to disk (without its newline).
    public init?(parsing line: Substring) {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let stream = LogStream(rawValue: String(parts[1])) else { return nil }
        self.init(timestamp: String(parts[0]), stream: stream, text: parts.count == 3 ? String(parts[2]) : "")
    }

    public var description: String { "\(timestamp) \(stream.rawValue) \(text)" }
}

/// The captured output of one unit: `<directory>/<unit>.log`, rotated to `<unit>.log.1` … when it would
/// exceed `maxFileBytes`, keeping `maxFiles` files in all.
///
/// Writers (the output pump's thread) and readers (the journal API) may be on any thread; the state is
/// behind a `Mutex` and every operation is short and bounded, so no task ever waits long on the lock.
public final class UnitLog: Sendable {
    public let path: String
    public let maxFileBytes: Int
    public let maxFiles: Int
    /// Longer lines are split, so one runaway process cannot hold unbounded memory in a partial line.
    public let maxLineBytes: Int

    private struct State {
        var fd: Int32 = -1
        var size = 0
        var partial: [LogStream: [UInt8]] = [:]
        var followers: [UInt64: AsyncStream<LogLine>.Continuation] = [:]
        var nextFollower: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(directory: String, unitName: String, maxFileBytes: Int = 1 << 20, maxFiles: Int = 3, maxLineBytes: Int = 16 << 10) {
        path = directory + "/" + unitName + ".log"
        self.maxFileBytes = max(maxFileBytes, 256)
        self.maxFiles = max(maxFiles, 1)
        self.maxLineBytes = max(maxLineBytes, 64)
        mkdir(directory, 0o755)
    }

    deinit {
        state.withLock { state in
            if state.fd >= 0 { close(state.fd) }
            for follower in state.followers.values { follower.finish() }
        }
    }

    /// Appends a chunk of a stream's output. Complete lines are written at once; the rest waits for the
    /// next chunk, so a line split across `read`s is never split in the file.
    public func append<Bytes: Collection<UInt8>>(_ bytes: Bytes, stream: LogStream) {
        state.withLock { state in
            var pending = state.partial[stream] ?? []
            for byte in bytes {
                if byte == UInt8(ascii: "\n") {
                    write(pending, stream: stream, into: &state)
                    pending.removeAll(keepingCapacity: true)
                } else {
                    pending.append(byte)
                    if pending.count >= maxLineBytes {
                        write(pending, stream: stream, into: &state)
                        pending.removeAll(keepingCapacity: true)
                    }
                }
            }
            state.partial[stream] = pending
        }
    }

    /// Writes out an unterminated last line, as when the stream reached EOF.
    public func flush(stream: LogStream) {
        state.withLock { state in
            if let pending = state.partial[stream], !pending.isEmpty { write(pending, stream: stream, into: &state) }
            state.partial[stream] = nil
        }
    }

    /// A line written by the supervisor itself (spawn failures and the like), attributed to stderr.
    public func note(_ text: String) {
        state.withLock { state in write(Array(text.utf8), stream: .stderr, into: &state) }
    }

    private func write(_ text: [UInt8], stream: LogStream, into state: inout State) {
        let line = LogLine(timestamp: Self.timestamp(), stream: stream, text: String(decoding: text, as: UTF8.self))
        let bytes = Array((line.description + "\n").utf8)
        if state.fd >= 0 && state.size > 0 && state.size + bytes.count > maxFileBytes {
            rotate(&state)
        }
        if state.fd < 0 {
            state.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            var info = Glibc.stat()
            state.size = state.fd >= 0 && fstat(state.fd, &info) == 0 ? Int(info.st_size) : 0
            if state.fd >= 0 && state.size > 0 && state.size + bytes.count > maxFileBytes { rotate(&state) }
        }
        if state.fd >= 0 {
            let written = bytes.withUnsafeBytes { Glibc.write(state.fd, $0.baseAddress, $0.count) }
            if written > 0 { state.size += written }
        }
        for follower in state.followers.values { follower.yield(line) }
    }

    /// `unit.log.(k)` → `unit.log.(k+1)`, dropping the oldest, then `unit.log` → `unit.log.1`.
    private func rotate(_ state: inout State) {
        if state.fd >= 0 { close(state.fd) }
        state.fd = -1
        if maxFiles == 1 {
            unlink(path)
        } else {
            unlink("\(path).\(maxFiles - 1)")
            for index in stride(from: maxFiles - 2, through: 1, by: -1) {
                rename("\(path).\(index)", "\(path).\(index + 1)")
            }
            rename(path, "\(path).1")
        }
        state.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        state.size = 0
    }

    /// The newest `count` lines, oldest first, reading rotated files as far back as needed.
    public func lastLines(_ count: Int) -> [LogLine] {
        guard count > 0 else { return [] }
        // Under the lock so a rotation cannot move files between the reads.
        return state.withLock { _ in
            var lines: [LogLine] = []
            for index in 0..<maxFiles {
                let file = index == 0 ? path : "\(path).\(index)"
                guard let text = ProcessTable.readSmallFile(file, limit: maxFileBytes + maxLineBytes + 128) else { break }
                let parsed = text.split(separator: "\n").compactMap(LogLine.init(parsing:))
                lines.insert(contentsOf: parsed.suffix(count - lines.count), at: 0)
                if lines.count >= count { break }
            }
            return lines
        }
    }

    /// Every line written from now on, across rotations, until the consumer stops iterating or the log is
    /// deallocated. A slow consumer keeps the newest `buffer` lines.
    public func follow(buffer: Int = 10_000) -> AsyncStream<LogLine> {
        let (stream, continuation) = AsyncStream.makeStream(of: LogLine.self, bufferingPolicy: .bufferingNewest(buffer))
        let id = state.withLock { state in
            state.nextFollower += 1
            state.followers[state.nextFollower] = continuation
            return state.nextFollower
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.followers.removeValue(forKey: id) }
        }
        return stream
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2025-01-02T03:04:05.123456Z`: sortable as text.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
            + ".\(pad(now.tv_nsec / 1000, 6))Z"
    }
}
