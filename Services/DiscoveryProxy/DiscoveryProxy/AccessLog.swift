#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The access log in the Common Log Format, to a file (appended) or stdout: one line per request,
/// `host ident authuser [date] "request line" status bytes`. Lines are buffered and written at least every
/// 100 ms, so the event loops never wait on the disk for more than one write of a full buffer.
final class AccessLog: Sendable {
    private struct Buffer {
        var bytes: [UInt8] = []
        var second: Int = -1
        var stamp = ""
    }

    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let buffer = Mutex(Buffer())
    private static let flushThreshold = 64 * 1024

    /// `destination` is `-` for stdout or a path.
    init(destination: String) throws {
        if destination == "-" {
            descriptor = STDOUT_FILENO
            ownsDescriptor = false
        } else {
            let fd = open(destination, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw AccessLogError(description: "cannot open access log \(destination): \(String(cString: strerror(errno)))")
            }
            descriptor = fd
            ownsDescriptor = true
        }
    }

    deinit {
        flush()
        if ownsDescriptor { close(descriptor) }
    }

    func record(client: String, method: String, uri: String, version: String, status: Int, bytes: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let full = buffer.withLock { buffer -> Bool in
            if buffer.second != now.tv_sec {
                buffer.second = now.tv_sec
                buffer.stamp = Self.commonLogDate(seconds: now.tv_sec)
            }
            let line = "\(client) - - [\(buffer.stamp)] \"\(method) \(Self.sanitized(uri)) \(version)\" \(status) \(bytes == 0 ? "-" : String(bytes))\n"
            buffer.bytes.append(contentsOf: line.utf8)
            return buffer.bytes.count >= Self.flushThreshold
        }
        if full { flush() }
    }

    func flush() {
        let bytes = buffer.withLock { buffer -> [UInt8] in
            defer { buffer.bytes.removeAll(keepingCapacity: true) }
            return buffer.bytes
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }

    /// `10/Oct/2000:13:55:36 +0000`, in UTC.
    static func commonLogDate(seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(parts.tm_year + 1900):\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }

    /// A request line is client input: quotes and control bytes must not break the log's fields.
    private static func sanitized(_ uri: String) -> String {
        guard uri.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x7F }) else { return uri }
        var result = ""
        for scalar in uri.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x22 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

struct AccessLogError: Error, CustomStringConvertible {
    let description: String
}
