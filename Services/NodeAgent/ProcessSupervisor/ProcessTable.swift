// Linux only, like fleet and systemd: /proc, pipe2, SO_PASSCRED.
import Glibc

/// What the shell can learn about processes without being their parent: `/proc` and `kill(_, 0)`.
///
/// The agent is not a child subreaper, so processes that leave the process tree (daemons, orphaned
/// grandchildren) are reaped by init; their exit status is unknowable and only their absence is observed.
enum ProcessTable {
    /// A process that exists and is not a zombie. `kill(pid, 0)` alone counts zombies, which linger when
    /// PID 1 (e.g. a container's init) does not reap orphans promptly.
    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        guard let stat = stat(of: pid) else { return false }
        return stat.state != "Z"
    }

    /// Whether any live (non-zombie) process remains in one of these process groups or sessions (each
    /// spawned command leads its own session, so both ids equal its pid; a descendant that calls `setpgid`
    /// keeps the session, one that calls `setsid` leaves both and is not found).
    static func hasLiveMembers(_ ids: Set<Int32>) -> Bool {
        !members(ofGroupOrSession: ids).isEmpty
    }

    /// Live processes whose process group or session is one of `ids`.
    static func members(ofGroupOrSession ids: Set<Int32>) -> [Int32] {
        guard !ids.isEmpty, let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var result: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let pid = Int32(name), let stat = stat(of: pid), stat.state != "Z" else { continue }
            if ids.contains(stat.pgid) || ids.contains(stat.sid) { result.append(pid) }
        }
        return result
    }

    struct Stat {
        var state: Character
        var ppid: Int32
        var pgid: Int32
        var sid: Int32
        /// Field 22, in clock ticks since boot: with the pid it identifies a process across pid reuse.
        var startTime: UInt64
    }

    /// The start time of a live process (see `Stat.startTime`); nil if it is gone or a zombie.
    static func startTime(of pid: Int32) -> UInt64? {
        guard pid > 0, let stat = stat(of: pid), stat.state != "Z" else { return nil }
        return stat.startTime
    }

    /// Whether `pid` is still the live process that had `startTime` (not a reused pid).
    static func isSameProcess(_ pid: Int32, startTime: UInt64?) -> Bool {
        guard let startTime else { return false }
        return Self.startTime(of: pid) == startTime
    }

    /// Fields 3–6 and 22 of `/proc/<pid>/stat`; the command name (field 2) may contain spaces and parentheses, so
    /// parsing starts after its last `)`.
    static func stat(of pid: Int32) -> Stat? {
        guard let text = readSmallFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let ppid = Int32(fields[1]), let pgid = Int32(fields[2]),
            let sid = Int32(fields[3]), let startTime = UInt64(fields[19])
        else { return nil }
        return Stat(state: state, ppid: ppid, pgid: pgid, sid: sid, startTime: startTime)
    }

    /// Reads a small file whole (PID files, environment files, `/proc` entries); nil if it cannot be opened.
    /// Blocking, but bounded by `limit` and only used on local files.
    static func readSmallFile(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A thread outside Swift's cooperative pool, for the few loops that must block in the kernel (`poll` on
/// pipes and the notify socket). Blocking a cooperative thread would starve every other task on a 2-core
/// machine.
enum BlockingThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}

/// A pipe whose ends are closed on exec; `dup2` onto a child's stdout clears the flag on the copy only.
/// `pipe2` is not visible without `_GNU_SOURCE`; the window between `pipe` and `fcntl` is harmless because
/// Subprocess closes every descriptor above 2 in its children anyway.
func makePipe() -> (read: Int32, write: Int32)? {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return nil }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return (fds[0], fds[1])
}

func errnoDescription(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
