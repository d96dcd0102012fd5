import Glibc

/// A unit's `NOTIFY_SOCKET`: a unix datagram socket the unit's processes send `sd_notify` messages to.
///
/// `SO_PASSCRED` makes the kernel attach the sender's pid (`SCM_CREDENTIALS`) to every datagram, which is
/// what `NotifyAccess=main|exec` filter on; a datagram arriving without credentials is reported as pid 0
/// and therefore only honoured with `NotifyAccess=all`. Note that `systemd-notify` sends from its own,
/// short-lived process, so shell scripts need `NotifyAccess=all` — exactly as under systemd.
final class NotifySocket: Sendable {
    let path: String
    private let socket: Int32
    private let wakeWriteEnd: Int32

    /// Binds `path` (replacing a stale socket file) and starts receiving on a dedicated thread.
    init(path: String, onMessage: @escaping @Sendable (_ pid: Int32, _ datagram: String) -> Void) throws(SpawnError) {
        self.path = path
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SpawnError("notify socket: \(errnoDescription())") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(fd)
            throw SpawnError("notify socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        var on: Int32 = 1
        guard bound == 0, setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let message = errnoDescription()
            Glibc.close(fd)
            throw SpawnError("notify socket \(path): \(message)")
        }
        // Services running under `User=` must be able to send too.
        chmod(path, 0o666)
        guard let wake = makePipe() else {
            Glibc.close(fd)
            throw SpawnError("notify socket: \(errnoDescription())")
        }
        socket = fd
        wakeWriteEnd = wake.write
        BlockingThread.start { Self.receive(socket: fd, wake: wake.read, path: path, onMessage: onMessage) }
    }

    /// Stops the receiving thread, which closes the socket and removes its file.
    func close() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriteEnd, &byte, 1)
        Glibc.close(wakeWriteEnd)
    }

    private static func receive(socket: Int32, wake: Int32, path: String, onMessage: @Sendable (Int32, String) -> Void) {
        var polled = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        var payload = [UInt8](repeating: 0, count: 4096)
        // Room for one cmsghdr + ucred, and for a few passed descriptors (which are closed, not kept).
        var control = [UInt64](repeating: 0, count: 32)
        while true {
            if poll(&polled, 2, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if polled[1].revents != 0 { break }
            guard polled[0].revents != 0 else { continue }
            let received = payload.withUnsafeMutableBytes { payloadBytes in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: payloadBytes.baseAddress, iov_len: payloadBytes.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                        let count = recvmsg(socket, &message, Int32(MSG_DONTWAIT) | Int32(MSG_CMSG_CLOEXEC))
                        return (count, Self.senderPID(controlBytes, length: Int(message.msg_controllen)))
                    }
                }
            }
            guard received.0 > 0 else { continue }
            onMessage(received.1 ?? 0, String(decoding: payload[..<received.0], as: UTF8.self))
        }
        Glibc.close(socket)
        Glibc.close(wake)
        unlink(path)
    }

    /// `struct ucred` and `SCM_CREDENTIALS` are only declared with `_GNU_SOURCE`, which Swift's Glibc module
    /// does not define; the layout is fixed by the Linux ABI.
    private struct Credentials {
        var pid: Int32
        var uid: UInt32
        var gid: UInt32
    }

    private static let scmCredentials: Int32 = 2

    /// Walks the control messages by hand: `CMSG_FIRSTHDR`/`CMSG_NXTHDR` are C macros Swift cannot import.
    /// Descriptors passed with `SCM_RIGHTS` (systemd's `FDSTORE=1`) are unsupported and closed.
    private static func senderPID(_ control: UnsafeMutableRawBufferPointer, length: Int) -> Int32? {
        let headerSize = MemoryLayout<cmsghdr>.size
        var offset = 0
        var pid: Int32?
        while offset + headerSize <= min(length, control.count) {
            let header = control.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
            let messageLength = Int(header.cmsg_len)
            guard messageLength >= headerSize, offset + messageLength <= length else { break }
            let dataOffset = offset + headerSize
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Self.scmCredentials
                && messageLength - headerSize >= MemoryLayout<Credentials>.size
            {
                pid = control.loadUnaligned(fromByteOffset: dataOffset, as: Credentials.self).pid
            } else if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Int32(SCM_RIGHTS) {
                for index in 0..<(messageLength - headerSize) / 4 {
                    Glibc.close(control.loadUnaligned(fromByteOffset: dataOffset + index * 4, as: Int32.self))
                }
            }
            // CMSG_ALIGN: round up to the size of `size_t`.
            offset += (messageLength + 7) & ~7
        }
        return pid
    }
}
