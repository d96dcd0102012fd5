#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX wrappers: retry `EINTR`, finish short reads and writes, and turn failures into `StorageError`s
/// that name the call, the path and `strerror`.
enum FileIO {
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(StorageError) -> Int32 {
        while true {
            #if canImport(Glibc)
            let descriptor = Glibc.open(path, flags | O_CLOEXEC, mode)
            #else
            let descriptor = Darwin.open(path, flags | O_CLOEXEC, mode)
            #endif
            if descriptor >= 0 { return descriptor }
            if errno != EINTR { throw .os("open", path, errno) }
        }
    }

    static func close(_ descriptor: Int32) {
        // Linux releases the descriptor even when close fails; durability was settled by the fsync before.
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }

    /// Writes all of `bytes` at `offset`, continuing after short writes and `EINTR`.
    static func write(_ descriptor: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(StorageError) {
        let failure: Int32? = bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let written = pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if written > 0 {
                    done += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return written < 0 ? errno : EIO  // 0 bytes for a non-empty write: treat as an I/O error
                }
            }
            return nil
        }
        if let failure { throw .os("write", path, failure) }
    }

    /// The whole file.
    static func readAll(_ path: String) throws(StorageError) -> [UInt8] {
        let descriptor = try open(path, O_RDONLY)
        defer { close(descriptor) }
        let size = try size(descriptor, path: path)
        var failure: Int32?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let count = read(descriptor, buffer.baseAddress! + initialized, size - initialized)
                if count > 0 {
                    initialized += count
                } else if count == 0 {
                    break  // the file shrank since fstat; return what is there
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
        }
        if let failure { throw .os("read", path, failure) }
        return bytes
    }

    static func size(_ descriptor: Int32, path: String) throws(StorageError) -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .os("fstat", path, errno) }
        return Int(status.st_size)
    }

    /// `fdatasync`: the data and the metadata needed to read it back (the size), not timestamps.
    static func syncData(_ descriptor: Int32, path: String) throws(StorageError) {
        #if canImport(Glibc)
        let result = fdatasync(descriptor)
        #else
        let result = fsync(descriptor)
        #endif
        guard result == 0 else { throw .os("fdatasync", path, errno) }
    }

    static func sync(_ descriptor: Int32, path: String) throws(StorageError) {
        guard fsync(descriptor) == 0 else { throw .os("fsync", path, errno) }
    }

    /// Makes creations, renames and removals of entries in `directory` durable.
    static func syncDirectory(_ directory: String) throws(StorageError) {
        let descriptor = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { close(descriptor) }
        try sync(descriptor, path: directory)
    }

    static func truncate(_ descriptor: Int32, to size: Int, path: String) throws(StorageError) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw .os("ftruncate", path, errno) }
    }

    static func rename(_ from: String, to: String) throws(StorageError) {
        #if canImport(Glibc)
        let result = Glibc.rename(from, to)
        #else
        let result = Darwin.rename(from, to)
        #endif
        guard result == 0 else { throw .os("rename to \(to)", from, errno) }
    }

    static func remove(_ path: String) throws(StorageError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .os("unlink", path, errno) }
    }

    /// `mkdir -p`; new directories are made durable in their parents.
    static func makeDirectories(_ path: String) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = prefix.isEmpty ? "/" : prefix
            prefix += "/" + component
            if mkdir(prefix, 0o755) == 0 {
                try syncDirectory(parent)
                continue
            }
            let code = errno
            var status = stat()
            guard code == EEXIST, stat(prefix, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
                throw .os("mkdir", prefix, code == EEXIST ? ENOTDIR : code)
            }
        }
    }

    /// Names in `directory`, without "." and "..".
    static func list(_ directory: String) throws(StorageError) -> [String] {
        guard let stream = opendir(directory) else { throw .os("opendir", directory, errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw .os("readdir", directory, errno) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// An exclusive `flock` on `path` (created if missing), held until the descriptor is closed.
    ///
    /// A lock that is busy is tried again for up to a second before it counts as held by someone else: a
    /// process forked by this one (any child, for any reason) shares the lock's open file until it execs, so
    /// a log closed and reopened in the same process can find its own lock briefly held by a child being born.
    static func lock(_ path: String, patience: Duration = .seconds(1)) throws(StorageError) -> Int32 {
        let descriptor = try open(path, O_RDWR | O_CREAT)
        let deadline = ContinuousClock.now + patience
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK, ContinuousClock.now < deadline {
                usleep(5_000)
                continue
            }
            close(descriptor)
            throw .os("flock", path, code, kind: code == EWOULDBLOCK ? .locked : .io)
        }
        return descriptor
    }
}
