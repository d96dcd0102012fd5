import Glibc
@testable import ProcessSupervisor
import SupervisorCore
import Testing

@Suite struct ServiceTypes {
    @Test func forkingServiceFollowsItsPIDFile() async throws {
        let daemonize = "sleep 1000 & echo $! > @DIR@/daemon.pid; exit 0"
        try await withUnit("Type=forking\nPIDFile=@DIR@/daemon.pid\nExecStart=/bin/sh -c '\(daemonize)'") { unit, directory in
            unit.start()
            let running = try await unit.waitFor("running") { $0.subState == .running }
            let written = try #require(readFile(directory + "/daemon.pid").flatMap { Int32($0.filter(\.isNumber)) })
            #expect(running.mainPID == written)
            #expect(isAlive(written))
            unit.stop()
            try await unit.waitFor("dead") { $0.subState == .dead }
            #expect(!isAlive(written))
        }
    }

    @Test func forkingDaemonDeathEndsTheUnit() async throws {
        // The daemon lives until the test kills it: a daemon that exits on its own after a fixed time could be
        // gone before a loaded machine reads its PID file.
        let daemonize = "sleep 1000 & echo $! > @DIR@/daemon.pid; exit 0"
        try await withUnit("Type=forking\nPIDFile=@DIR@/daemon.pid\nExecStart=/bin/sh -c '\(daemonize)'") { unit, _ in
            unit.start()
            let running = try await unit.waitFor("running") { $0.subState == .running }
            let daemon = try #require(running.mainPID)
            _ = kill(daemon, SIGKILL)
            try await unit.waitFor("dead once the daemon exits") { $0.subState == .dead }
        }
    }

    @Test(.enabled(if: systemdNotify != nil, "systemd-notify is not installed")) func notifyServiceBecomesActiveOnREADY() async throws {
        let notify = try #require(systemdNotify)
        let script = "sleep 0.3; \(notify) --ready --status=serving; exec sleep 1000"
        try await withUnit("Type=notify\nNotifyAccess=all\nExecStart=/bin/sh -c '\(script)'") { unit, _ in
            unit.start()
            let running = try await unit.waitFor("running after READY=1") { $0.subState == .running }
            #expect(running.statusText == "serving")
        }
    }

    @Test func environmentFilesSpecifiersAndOutputReachTheLog() async throws {
        let service = """
            Type=oneshot
            Environment=FROM_UNIT=%n
            EnvironmentFile=@DIR@/env
            EnvironmentFile=-@DIR@/missing
            WorkingDirectory=@DIR@
            ExecStart=/bin/sh -c 'echo "unit=$FROM_UNIT file=$FROM_FILE pwd=$(pwd)"; echo oops >&2; printf partial'
            """
        let directory = makeTemporaryDirectory()
        writeFile(directory + "/env", "# comment\nFROM_FILE=\"quoted value\"\n")
        try await withUnit(service.replacingOccurrences("@DIR@", directory), name: "env.service") { unit, _ in
            unit.start()
            try await unit.waitFor("dead") { $0.subState == .dead && $0.result == .success }
            try await eventually("three log lines") { unit.log.lastLines(10).count >= 3 }
            let lines = unit.log.lastLines(10)
            #expect(lines.contains { $0.stream == .stdout && $0.text == "unit=env.service file=quoted value pwd=\(directory)" })
            #expect(lines.contains { $0.stream == .stderr && $0.text == "oops" })
            #expect(lines.contains { $0.stream == .stdout && $0.text == "partial" })
            for line in lines { #expect(line.timestamp.count == 27 && line.timestamp.hasSuffix("Z"), "\(line.timestamp)") }
        }
    }

    /// The notify protocol itself, without systemd installed: a child writes to `$NOTIFY_SOCKET` (Debian's
    /// python3, which the test suite already requires for python-etcd).
    @Test(.enabled(if: access("/usr/bin/python3", X_OK) == 0, "/usr/bin/python3 is not installed"))
    func notifyThroughTheSocketItself() async throws {
        // The main process itself notifies (NotifyAccess=main), then stays up.
        let program = "import os,socket,time; s=socket.socket(1,2); s.connect(os.environ['NOTIFY_SOCKET']); "
            + "time.sleep(0.2); s.send(b'READY=1'+bytes([10])+b'STATUS=warm'); time.sleep(1000)"
        try await withUnit("Type=notify\nExecStart=/usr/bin/python3 -c \"\(program)\"") { unit, _ in
            unit.start()
            let running = try await unit.waitFor("running after READY=1") { $0.subState == .running }
            #expect(running.statusText == "warm")
        }
    }

    /// `User=`/`Group=` when the agent runs as root: the unit's processes run as that user.
    @Test(.enabled(if: getuid() == 0 && getpwnam("nobody") != nil, "needs root and a nobody user"))
    func userAndGroupApplyWhenRoot() async throws {
        let nobody = getpwnam("nobody")!.pointee
        try await withUnit("User=nobody\nExecStart=/bin/sh -c 'echo $(id -u):$(id -g):$USER; exec sleep 1000'") { unit, _ in
            unit.start()
            try await unit.waitFor("running") { $0.subState == .running }
            try await eventually("the unit's output") { unit.log.lastLines(5).contains { $0.text.hasPrefix("\(nobody.pw_uid):") } }
            let line = try #require(unit.log.lastLines(5).first { $0.text.hasPrefix("\(nobody.pw_uid):") })
            #expect(line.text == "\(nobody.pw_uid):\(nobody.pw_gid):nobody", "\(line.text)")
        }
    }

    @Test func missingRequiredEnvironmentFileFailsTheStart() async throws {
        try await withUnit("EnvironmentFile=@DIR@/absent\nExecStart=/bin/sleep 1000") { unit, _ in
            unit.start()
            let failed = try await unit.waitFor("failed") { $0.subState == .failed }
            #expect(failed.result == .resources)
        }
    }
}

/// Notify tests drive the real `systemd-notify` client; they are skipped where it is not installed.
let systemdNotify: String? = {
    let candidates = ["/usr/bin/systemd-notify", "/bin/systemd-notify"]
    return candidates.first { access($0, X_OK) == 0 }
}()

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
