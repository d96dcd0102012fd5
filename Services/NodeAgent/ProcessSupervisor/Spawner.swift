import Glibc
import Subprocess
import SupervisorCore
import SystemPackage

/// Why a command could not be started; reported to the core as `.spawnFailed`.
public struct SpawnError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs one `SpawnRequest` with swift-subprocess.
///
/// Why swift-subprocess rather than `posix_spawn`: glibc's `posix_spawn` can start a new session but cannot
/// change uid/gid/supplementary groups, and a hand-written `fork` is not safe in a multithreaded Swift
/// process. Subprocess's C shim does `setsid`, `setgroups`/`setgid`/`setuid`, `chdir` and `execve` between
/// `fork` and `exec`, reports exec failures through a CLOEXEC pipe, and waits with a pidfd on its own epoll
/// thread, so no cooperative thread ever blocks in `waitpid` and nothing else's children are reaped.
///
/// Consequences, documented rather than hidden: Subprocess kills (SIGKILL) the process if the *calling task*
/// is cancelled, so `UnitSupervisor` runs each process in its own unstructured task that it never cancels —
/// processes outlive the supervisor only when it detaches. Subprocess reports a signal death without the
/// core-dump bit, so `coreDumped` is always false (`Result=signal`, never `core-dump`).
enum Spawner {
    struct Outcome: Sendable {
        var pid: Int32
        var status: ProcessExitStatus
    }

    /// Starts the command, calls `spawned` with its pid as soon as it exists, and returns when it has
    /// exited and been reaped.
    static func run(
        _ request: SpawnRequest,
        stdout: Int32,
        stderr: Int32,
        notifySocket: String?,
        spawned: @Sendable (Int32) -> Void
    ) async throws -> Outcome {
        var environment = request.environment
        if request.notifySocket, let notifySocket { environment["NOTIFY_SOCKET"] = notifySocket }
        var options = PlatformOptions()
        // Each command leads a new session (and so a new process group): `kill(-pgid)` reaches everything it
        // forks that does not call setsid itself, and no terminal signals reach it from the agent's session.
        options.createSession = true
        var home = environment["HOME"]
        if geteuid() == 0, request.user != nil || request.group != nil {
            let credentials = try Credentials(user: request.user, group: request.group)
            options.userID = credentials.uid
            options.groupID = credentials.gid
            options.supplementaryGroups = credentials.supplementaryGroups
            if let userHome = credentials.home { home = userHome }
            if request.user != nil {
                // What systemd sets for User= services.
                environment["USER"] = request.user
                environment["LOGNAME"] = request.user
                if let userHome = credentials.home { environment["HOME"] = userHome }
            }
        }
        let directory = try workingDirectory(request.workingDirectory, home: home)
        let arguments = Arguments(executablePathOverride: request.argv.first, remainingValues: Array(request.argv.dropFirst()))
        var custom: [Environment.Key: String] = [:]
        for (key, value) in environment {
            if let key = Environment.Key(rawValue: key) { custom[key] = value }
        }
        let pid = PIDBox()
        let result = try await Subprocess.run(
            .path(FilePath(request.path)),
            arguments: arguments,
            environment: .custom(custom),
            workingDirectory: FilePath(directory),
            platformOptions: options,
            input: .none,
            output: .fileDescriptor(FileDescriptor(rawValue: stdout), closeAfterSpawningProcess: false),
            error: .fileDescriptor(FileDescriptor(rawValue: stderr), closeAfterSpawningProcess: false)
        ) { execution in
            pid.value = execution.processIdentifier.value
            spawned(execution.processIdentifier.value)
        }
        switch result.terminationStatus {
        case .exited(let code): return Outcome(pid: pid.value, status: .exited(code))
        case .signaled(let signal): return Outcome(pid: pid.value, status: .signaled(SupervisorCore.Signal(rawValue: signal)))
        }
    }

    /// `WorkingDirectory=`: default `/` as for system services; `~` is the home of `User=` (or the agent's);
    /// with the `-` prefix a missing directory falls back to the default instead of failing the spawn.
    private static func workingDirectory(_ setting: WorkingDirectory?, home: String?) throws -> String {
        guard let setting else { return "/" }
        let path: String
        switch setting.location {
        case .path(let value): path = value
        case .home:
            guard let home else { throw SpawnError("WorkingDirectory=~ but no home directory is known") }
            path = home
        }
        var info = stat()
        if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { return path }
        if setting.optional { return "/" }
        throw SpawnError("WorkingDirectory=\(path) is not a directory")
    }

    /// Written once by the body closure and read after `run` returns, on the same task.
    private final class PIDBox: @unchecked Sendable {
        var value: Int32 = 0
    }
}

/// `User=`/`Group=` resolved through NSS, as systemd does (`getpwnam`, `getgrnam`, `getgrouplist`).
struct Credentials {
    var uid: UInt32?
    var gid: UInt32?
    var supplementaryGroups: [UInt32]?
    var home: String?

    init(user: String?, group: String?) throws(SpawnError) {
        if let user {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: 16 << 10)
            if let number = UInt32(user) {
                getpwuid_r(number, &entry, &buffer, buffer.count, &result)
            } else {
                getpwnam_r(user, &entry, &buffer, buffer.count, &result)
            }
            guard let found = result?.pointee else { throw SpawnError("User=\(user) does not exist") }
            uid = found.pw_uid
            gid = found.pw_gid
            home = found.pw_dir.map { String(cString: $0) }
            var count: Int32 = 64
            var groups = [UInt32](repeating: 0, count: Int(count))
            if getgrouplist(found.pw_name, found.pw_gid, &groups, &count) >= 0 {
                supplementaryGroups = Array(groups.prefix(Int(count)))
            } else {
                supplementaryGroups = [found.pw_gid]
            }
        }
        if let group {
            if let number = UInt32(group) {
                gid = number
            } else {
                var entry = Glibc.group()
                var result: UnsafeMutablePointer<Glibc.group>?
                var buffer = [CChar](repeating: 0, count: 16 << 10)
                getgrnam_r(group, &entry, &buffer, buffer.count, &result)
                guard let found = result?.pointee else { throw SpawnError("Group=\(group) does not exist") }
                gid = found.gr_gid
            }
            if user == nil { supplementaryGroups = [] }
        }
    }
}
