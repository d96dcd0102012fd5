import Glibc

/// The pipes every process of one unit writes its stdout and stderr to, and the thread that copies them
/// into the unit's `UnitLog`.
///
/// One pair per unit rather than per process: a forking daemon inherits the pipe of the `ExecStart=`
/// process that started it and keeps writing after that process exits, and its output must still land in
/// the unit's log. The supervisor holds the write ends for the pump's lifetime, so the pipes never report
/// EOF between runs; `finish()` drains what is buffered and ends the thread.
///
/// Across an agent restart the pipes are kept open by a `PipeHolder` process, and the next agent's pump
/// reopens them through `/proc` (`init(reopening:log:)`), so the unit never sees EPIPE.
final class OutputPump: Sendable {
    let stdoutWriteEnd: Int32
    let stderrWriteEnd: Int32
    /// The read ends, for the holder process to inherit; owned (and closed) by the pump's thread.
    let stdoutReadEnd: Int32
    let stderrReadEnd: Int32
    private let wakeWriteEnd: Int32

    /// New pipes, as large as the system allows unprivileged (`fs.pipe-max-size`, 1 MiB by default): that
    /// is what a unit can write while no agent reads, during a restart, before its writes block.
    convenience init?(log: UnitLog) {
        guard let out = makePipe() else { return nil }
        guard let err = makePipe() else {
            close(out.read)
            close(out.write)
            return nil
        }
        for fd in [out.read, err.read] { _ = fcntl(fd, Self.setPipeSize, Int32(1 << 20)) }
        self.init(out: out, err: err, log: log)
    }

    /// The pipes a `PipeHolder` keeps open, reopened through `/proc/<holder>/fd`.
    convenience init?(reopening pipes: PipeHolder.Pipes, log: UnitLog) {
        self.init(out: (pipes.stdoutRead, pipes.stdoutWrite), err: (pipes.stderrRead, pipes.stderrWrite), log: log)
    }

    private init?(out: (read: Int32, write: Int32), err: (read: Int32, write: Int32), log: UnitLog) {
        guard let wake = makePipe() else {
            for fd in [out.read, out.write, err.read, err.write] { close(fd) }
            return nil
        }
        stdoutWriteEnd = out.write
        stderrWriteEnd = err.write
        stdoutReadEnd = out.read
        stderrReadEnd = err.read
        wakeWriteEnd = wake.write
        for fd in [out.read, err.read] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let reads = (out: out.read, err: err.read, wake: wake.read)
        BlockingThread.start { Self.pump(reads, into: log) }
    }

    /// `F_SETPIPE_SZ` (Linux; not exported by Swift's Glibc module).
    private static let setPipeSize: Int32 = 1031

    /// Drains the pipes and stops the thread. Processes that still hold the write ends (a detached unit)
    /// get EPIPE on their next write unless a `PipeHolder` keeps a read end open.
    func finish() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriteEnd, &byte, 1)
        close(wakeWriteEnd)
        close(stdoutWriteEnd)
        close(stderrWriteEnd)
    }

    private static func pump(_ fds: (out: Int32, err: Int32, wake: Int32), into log: UnitLog) {
        var polled = [
            pollfd(fd: fds.out, events: Int16(POLLIN), revents: 0),
            pollfd(fd: fds.err, events: Int16(POLLIN), revents: 0),
            pollfd(fd: fds.wake, events: Int16(POLLIN), revents: 0),
        ]
        let streams: [LogStream] = [.stdout, .stderr]
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        /// Reads until the pipe is empty; returns false at EOF.
        func drain(_ fd: Int32, _ stream: LogStream) -> Bool {
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    log.append(buffer[..<count], stream: stream)
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                }
            }
        }
        // An unterminated line is written out once its stream has been quiet this long, so the last words of
        // a process that exits without a newline show up without waiting for the next run's output.
        let partialLineTimeout: Int32 = 200
        var unflushed = false
        loop: while true {
            let ready = poll(&polled, nfds_t(polled.count), unflushed ? partialLineTimeout : -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 {
                for stream in streams { log.flush(stream: stream) }
                unflushed = false
                continue
            }
            for index in 0..<2 where polled[index].fd >= 0 && polled[index].revents != 0 {
                unflushed = true
                if !drain(polled[index].fd, streams[index]) {
                    log.flush(stream: streams[index])
                    polled[index].fd = -1
                }
            }
            if polled[2].revents != 0 { break loop }
        }
        for index in 0..<2 {
            _ = drain(index == 0 ? fds.out : fds.err, streams[index])
            log.flush(stream: streams[index])
        }
        close(fds.out)
        close(fds.err)
        close(fds.wake)
    }
}
