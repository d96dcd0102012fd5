import Glibc
@testable import ProcessSupervisor
import SupervisorCore
import Testing

@Suite struct UnitLogs {
    @Test func linesSplitAcrossChunksStayWhole() {
        let log = UnitLog(directory: makeTemporaryDirectory(), unitName: "a.service")
        log.append(Array("hel".utf8), stream: .stdout)
        log.append(Array("err".utf8), stream: .stderr)
        log.append(Array("lo\nwor".utf8), stream: .stdout)
        log.append(Array("ld\n".utf8), stream: .stdout)
        log.flush(stream: .stderr)
        #expect(log.lastLines(10).map(\.text) == ["hello", "world", "err"])
        #expect(log.lastLines(10).map(\.stream) == [.stdout, .stdout, .stderr])
        #expect(log.lastLines(1).map(\.text) == ["err"])
    }

    @Test func rotationKeepsBoundedFilesAndLastLinesSpansThem() throws {
        let directory = makeTemporaryDirectory()
        let log = UnitLog(directory: directory, unitName: "r.service", maxFileBytes: 1000, maxFiles: 3)
        for index in 0..<200 { log.append(Array("line \(index)\n".utf8), stream: .stdout) }
        var info = stat()
        for file in ["r.service.log", "r.service.log.1", "r.service.log.2"] {
            #expect(stat(directory + "/" + file, &info) == 0, "\(file) missing")
            #expect(info.st_size <= 1000)
        }
        #expect(stat(directory + "/r.service.log.3", &info) != 0)
        let last = log.lastLines(40).map(\.text)
        #expect(last == (160..<200).map { "line \($0)" })
        // Older lines were rotated away: fewer than 200 survive, all of them the newest.
        let all = log.lastLines(1000).map(\.text)
        #expect(all.count < 200 && all.last == "line 199")
    }

    @Test func followDeliversNewLinesAcrossRotation() async throws {
        let log = UnitLog(directory: makeTemporaryDirectory(), unitName: "f.service", maxFileBytes: 300, maxFiles: 2)
        log.append(Array("before\n".utf8), stream: .stdout)
        let lines = log.follow()
        for index in 0..<50 { log.append(Array("follow \(index)\n".utf8), stream: .stderr) }
        var received: [String] = []
        for await line in lines {
            received.append(line.text)
            if received.count == 50 { break }
        }
        #expect(received == (0..<50).map { "follow \($0)" })
    }

    @Test func overlongLinesAreSplit() {
        let log = UnitLog(directory: makeTemporaryDirectory(), unitName: "l.service", maxLineBytes: 100)
        log.append([UInt8](repeating: UInt8(ascii: "x"), count: 250), stream: .stdout)
        log.flush(stream: .stdout)
        #expect(log.lastLines(10).map(\.text.count) == [100, 100, 50])
    }
}

@Suite struct SupervisorTests {
    static func service(_ name: String, _ directory: String) throws -> SupervisorCore.ServiceConfiguration {
        try configuration("ExecStart=/bin/sleep 1000", name: name, directory: directory)
    }

    @Test func shutdownStopStopsEveryUnit() async throws {
        let directory = makeTemporaryDirectory()
        let supervisor = Supervisor(directories: .init(logs: directory, runtime: directory))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await supervisor.run() }
            let a = supervisor.load(try Self.service("a.service", directory))
            let b = supervisor.load(try Self.service("b.service", directory))
            #expect(supervisor.unitNames == ["a.service", "b.service"])
            supervisor.start("a.service")
            supervisor.start("b.service")
            let pids = [
                try #require(try await a.waitFor("a running") { $0.subState == .running }.mainPID),
                try #require(try await b.waitFor("b running") { $0.subState == .running }.mainPID),
            ]
            supervisor.shutdown(.stop)
            try await group.waitForAll()
            for pid in pids { #expect(!isAlive(pid)) }
            #expect(a.status.subState == .dead && b.status.subState == .dead)
        }
    }

    @Test func cancellationDetachesAndLeavesUnitsRunning() async throws {
        let directory = makeTemporaryDirectory()
        let supervisor = Supervisor(directories: .init(logs: directory, runtime: directory))
        let runner = Task { await supervisor.run(onCancel: .detach) }
        let unit = supervisor.load(try Self.service("keep.service", directory))
        unit.start()
        let pid = try #require(try await unit.waitFor("running") { $0.subState == .running }.mainPID)
        runner.cancel()
        await runner.value
        #expect(isAlive(pid), "a detached unit's process must survive the supervisor")
        // What a restarted agent does with a unit it does not take back: kills it and its pipe holder.
        let holder = try #require(RuntimeStore(runtimeDirectory: directory).read("keep.service")?.holderPID)
        Supervisor(directories: .init(logs: directory, runtime: directory)).discard("keep.service")
        try await eventually("manual cleanup") { !isAlive(pid) && !isAlive(holder) }
    }
}

@Suite struct NotifySockets {
    /// SCM_CREDENTIALS: the kernel, not the sender, says which pid sent a datagram (NotifyAccess=main).
    @Test func datagramsCarryTheSenderPID() async throws {
        let path = makeTemporaryDirectory() + "/n.notify"
        let (messages, sink) = AsyncStream.makeStream(of: (Int32, String).self)
        let socket = try NotifySocket(path: path) { pid, text in sink.yield((pid, text)) }
        defer { socket.close() }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8) + [0])
        }
        let payload = Array("READY=1\nSTATUS=up".utf8)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(sent == payload.count)
        var iterator = messages.makeAsyncIterator()
        let received = try #require(await iterator.next())
        #expect(received.0 == getpid())
        #expect(received.1 == "READY=1\nSTATUS=up")
    }
}
