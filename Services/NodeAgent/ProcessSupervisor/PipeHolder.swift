import Glibc
import Subprocess
import Synchronization
import SystemPackage

/// Keeps a unit's output pipes open across an agent restart: the pipes are passed on, not re-created.
///
/// A tiny process (`sleep`, which never touches its descriptors) started in its own session with the read
/// end of the unit's stdout pipe as its fd 0 and the read end of its stderr pipe as its fd 1. As long as it
/// lives the pipes have a reader, so a unit whose agent went away never gets EPIPE/SIGPIPE; what it writes
/// meanwhile waits in the pipe (up to the pipe's size, 1 MiB by default, then its writes block) until the
/// next agent reopens both pipes through `/proc/<holder>/fd/{0,1}` — opening a pipe there opens the same
/// pipe, with the mode asked for — and pumps them into the log again.
///
/// Why not a log-writing shim process: it needs no executable of its own, and the log keeps being written
/// (and followed by the journal API) in the agent. The price is that lines written while no agent runs are
/// timestamped when the next agent reads them.
enum PipeHolder {
    struct Pipes {
        var stdoutRead: Int32
        var stdoutWrite: Int32
        var stderrRead: Int32
        var stderrWrite: Int32

        func closeAll() {
            for fd in [stdoutRead, stdoutWrite, stderrRead, stderrWrite] where fd >= 0 { close(fd) }
        }
    }

    static let executable = access("/bin/sleep", X_OK) == 0 ? "/bin/sleep" : "/usr/bin/sleep"

    /// Starts the holder for `pump`'s pipes and returns its pid once it exists (nil if it could not be
    /// started). It runs until killed; its waiter task stays behind in this process until then.
    static func start(holding pump: OutputPump) async -> Int32? {
        let (stdoutRead, stderrRead) = (pump.stdoutReadEnd, pump.stderrReadEnd)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            let once = Once(continuation)
            let resume: @Sendable (Int32?) -> Void = { pid in once.resume(pid) }
            // Unstructured and never cancelled: cancelling Subprocess.run SIGKILLs the child.
            Task {
                var options = PlatformOptions()
                options.createSession = true
                _ = try? await Subprocess.run(
                    .path(FilePath(executable)),
                    arguments: Arguments(["2147483647"]),
                    environment: .custom([:]),
                    workingDirectory: FilePath("/"),
                    platformOptions: options,
                    input: .fileDescriptor(FileDescriptor(rawValue: stdoutRead), closeAfterSpawningProcess: false),
                    output: .fileDescriptor(FileDescriptor(rawValue: stderrRead), closeAfterSpawningProcess: false),
                    error: .discarded
                ) { execution in
                    resume(execution.processIdentifier.value)
                }
                resume(nil)
            }
        }
    }

    /// Opens both pipes again from a live holder: non-blocking read ends for the pump, blocking write ends
    /// for new commands. nil unless fds 0 and 1 of `pid` are pipes.
    static func reopen(_ pid: Int32) -> Pipes? {
        var pipes = Pipes(stdoutRead: -1, stdoutWrite: -1, stderrRead: -1, stderrWrite: -1)
        // The readers first: opening a pipe for writing would block without one (it cannot: the holder is one).
        pipes.stdoutRead = open("/proc/\(pid)/fd/0", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        pipes.stderrRead = open("/proc/\(pid)/fd/1", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if pipes.stdoutRead >= 0 && pipes.stderrRead >= 0 {
            pipes.stdoutWrite = open("/proc/\(pid)/fd/0", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            pipes.stderrWrite = open("/proc/\(pid)/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        }
        let all = [pipes.stdoutRead, pipes.stdoutWrite, pipes.stderrRead, pipes.stderrWrite]
        guard all.allSatisfy({ $0 >= 0 && isPipe($0) }) else {
            pipes.closeAll()
            return nil
        }
        // The write ends are given to the unit's commands as their stdout/stderr: they must block.
        for fd in [pipes.stdoutWrite, pipes.stderrWrite] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) }
        return pipes
    }

    /// Resumes the continuation with the first value only.
    private final class Once: Sendable {
        private let continuation: Mutex<CheckedContinuation<Int32?, Never>?>

        init(_ continuation: CheckedContinuation<Int32?, Never>) {
            self.continuation = Mutex(continuation)
        }

        func resume(_ pid: Int32?) {
            continuation.withLock { $0.take() }?.resume(returning: pid)
        }
    }

    private static func isPipe(_ fd: Int32) -> Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO
    }
}
