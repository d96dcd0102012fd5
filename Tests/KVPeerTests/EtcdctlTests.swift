import Foundation
import Testing
import TestSupport

/// The real etcdctl (v2 API) against a real kv-peer process and, with the very same commands, against a real
/// etcd 3.4: every command must print what it prints against etcd once indexes (and ids, URLs, TTL seconds)
/// are masked, and exit the same way.
@Suite(.serialized) struct EtcdctlTests {
    @Test("key commands (set/mk/mkdir/update/get/ls/rm/rmdir/setdir/updatedir/CAS/in-order) print what they print against etcd")
    func keyCommands() async throws {
        let commands: [[String]] = [
            ["set", "/a", "1"], ["set", "/a", "2"], ["get", "/a"],
            ["mk", "/b", "x"], ["mk", "/b", "y"], ["get", "/b"],
            ["mkdir", "/d"], ["mkdir", "/d"], ["set", "/d/x", "1"], ["set", "/d/y/z", "2"], ["set", "/d/_hidden", "h"],
            ["update", "/a", "3"], ["update", "/nope", "3"], ["update", "/d", "v"],
            ["get", "/nope"], ["get", "/d"], ["get", "/d/x/deeper"],
            ["ls", "--sort"], ["ls", "--sort", "-r", "/"], ["ls", "--sort", "-r", "-p", "/d"], ["ls", "/nope"], ["ls", "/a"],
            ["rm", "/a"], ["rm", "/nope"], ["rm", "/d"], ["rmdir", "/d"], ["rm", "-r", "/d"], ["get", "/d/x"],
            ["mk", "/rf", "file"], ["rmdir", "/rf"], ["get", "/rf"],
            ["mkdir", "/e"], ["rmdir", "/e"], ["setdir", "/f"], ["setdir", "/f"], ["updatedir", "/f", "--ttl", "100"], ["updatedir", "/nodir", "--ttl", "5"],
            ["set", "/t", "v", "--ttl", "100"], ["get", "/t"],
            ["-o", "json", "get", "/b"], ["-o", "extended", "get", "/b"], ["-o", "extended", "get", "/t"],
            ["set", "/b", "2", "--swap-with-value", "x"], ["set", "/b", "3", "--swap-with-value", "wrong"],
            ["rm", "/b", "--with-value", "wrong"], ["rm", "/b", "--with-value", "2"], ["rm", "/b"],
            ["mk", "--in-order", "/queue", "job1"], ["mk", "--in-order", "/queue", "job2"], ["ls", "--sort", "/queue"],
            ["set", "/", "root"], ["rm", "-r", "/"], ["mkdir", "/"],
        ]
        try await withKVPeerAndEtcd { kv, etcd in
            let kvRuns = try await run(commands, against: kv)
            let etcdRuns = try await run(commands, against: etcd)
            for (kvRun, etcdRun) in zip(kvRuns, etcdRuns) {
                #expect(kvRun == etcdRun, "etcdctl \(kvRun.command) differs:\nkv-peer:\n\(kvRun)\netcd:\n\(etcdRun)")
            }
            // What the transcript must show, whatever etcd printed.
            let mkExisting = try #require(kvRuns.first { $0.command == "mk /b y" })
            #expect(mkExisting.exitCode == 4 && mkExisting.stderr.contains("Error:  105: Key already exists (/b)"), "\(mkExisting)")
            #expect(kvRuns.first { $0.command == "ls --sort -r /" }?.stdout == "/a\n/b\n/d\n/d/x\n/d/y\n/d/y/z\n")
            #expect(kvRuns.first { $0.command == "rmdir /d" }?.stderr.contains("108: Directory not empty (/d)") == true)
            #expect(kvRuns.first { $0.command == "get /d" }?.stderr == "/d: is a directory\n")
            #expect(kvRuns.first { $0.command == "set /b 3 --swap-with-value wrong" }?.stderr.contains("101: Compare failed ([wrong != 2])") == true)
        }
    }

    @Test("ls without --sort lists the same keys as etcd (order is unspecified)")
    func unsortedListing() async throws {
        try await withKVPeerAndEtcd { kv, etcd in
            for endpoint in [kv, etcd] {
                for key in ["/l/b", "/l/a", "/l/c/d", "/l/_h"] { _ = try await etcdctl(endpoint, ["set", key, "v"]) }
            }
            let kvListing = try await etcdctl(kv, ["ls", "-r", "/l"])
            let etcdListing = try await etcdctl(etcd, ["ls", "-r", "/l"])
            #expect(kvListing.exitCode == 0)
            #expect(kvListing.stdout.sortedLines == etcdListing.stdout.sortedLines)
            #expect(kvListing.stdout.sortedLines == "/l/a\n/l/b\n/l/c\n/l/c/d\n".sortedLines)
        }
    }

    @Test("member list and cluster-health show the member (with its bound client URL) as etcd shows its own")
    func memberListAndClusterHealth() async throws {
        try await withKVPeerAndEtcd { kv, etcd in
            for arguments in [["member", "list"], ["cluster-health"]] {
                let kvRun = try await etcdctl(kv, arguments)
                let etcdRun = try await etcdctl(etcd, arguments)
                #expect(kvRun.exitCode == 0, "\(kvRun)")
                #expect(maskMember(kvRun.stdout, clientURL: kv) == maskMember(etcdRun.stdout, clientURL: etcd), "\(kvRun)\n---\n\(etcdRun)")
                // The advertised URL (given with port 0) is the bound one, which etcdctl's cluster sync relies on.
                #expect(kvRun.stdout.contains(kv), "\(kvRun)")
            }
        }
    }

    @Test("watch returns the next change once; watch --after-index replays it from history, like etcd")
    func watchOneEvent() async throws {
        try await withKVPeerAndEtcd { kv, etcd in
            var outputs: [String] = []
            for endpoint in [kv, etcd] {
                // Watching from the index before the write catches it whether the watch arms before or after it.
                // (A fresh kv-peer is at index 0, and `--after-index 0` means "no index" to etcdctl: write first.)
                _ = try await etcdctl(endpoint, ["set", "/warm-up", "1"])
                let before = try await currentIndex(endpoint)
                async let watched = etcdctl(endpoint, ["watch", "--after-index", String(before), "/w"], timeout: .seconds(20))
                _ = try await etcdctl(endpoint, ["set", "/w", "hello"])
                let watch = try await watched
                #expect(watch.exitCode == 0 && watch.stdout == "hello\n", "\(endpoint): \(watch)")
                let extended = try await etcdctl(endpoint, ["-o", "extended", "watch", "--after-index", String(before), "/w"])
                let json = try await etcdctl(endpoint, ["-o", "json", "watch", "--after-index", String(before), "/w"])
                outputs.append(maskIndexes(extended.stdout + json.stdout))
            }
            #expect(outputs[0] == outputs[1], "kv-peer:\n\(outputs[0])\netcd:\n\(outputs[1])")
            #expect(outputs[0].contains(#"{"action":"set","node":{"key":"/w","value":"hello""#))
        }
    }

    @Test("exec-watch runs its command with ETCD_WATCH_* set for the change, as against etcd")
    func execWatch() async throws {
        let hookDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("exec-watch-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: hookDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: hookDirectory) }
        let hook = hookDirectory.appendingPathComponent("hook.sh").path
        try "#!/bin/sh\necho \"ran $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE\"\n".write(toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)

        try await withKVPeerAndEtcd { kv, etcd in
            for endpoint in [kv, etcd] {
                _ = try await etcdctl(endpoint, ["set", "/x", "old"])
                let before = try await currentIndex(endpoint)
                _ = try await etcdctl(endpoint, ["set", "/x", "new"])
                // etcdctl's argument quirk: with a flag given, the key is the last argument and the command comes
                // first. It runs until interrupted; SIGINT (exit 0) once the hook has printed.
                let run = try await BoundedCommand.run(
                    "/usr/bin/etcdctl", ["--endpoints", endpoint, "exec-watch", "--after-index", String(before), hook, "/x"],
                    environment: ["ETCDCTL_API": "2"], timeout: .seconds(20), stopWhen: { $0.contains { $0.hasPrefix("ran ") } }
                )
                #expect(!run.timedOut && run.exitCode == 0, "\(endpoint): \(run)")
                #expect(run.stdout == "ran set /x new\n", "\(endpoint): \(run)")
            }
        }
    }

    // MARK: Helpers

    struct Run: Equatable, CustomStringConvertible {
        let command: String
        let exitCode: Int32?
        let stdout: String
        let stderr: String
        var description: String { "$ etcdctl \(command)\n[exit \(exitCode.map(String.init) ?? "signal")]\nstdout: \(stdout)stderr: \(stderr)" }
    }

    /// Runs each command in order, masking what legitimately differs between two servers.
    func run(_ commands: [[String]], against endpoint: String) async throws -> [Run] {
        var runs: [Run] = []
        for arguments in commands {
            let output = try await etcdctl(endpoint, arguments)
            #expect(!output.timedOut, "etcdctl \(arguments) timed out against \(endpoint)")
            runs.append(Run(
                command: arguments.joined(separator: " "), exitCode: output.exitCode,
                stdout: maskIndexes(output.stdout), stderr: maskIndexes(output.stderr)
            ))
        }
        return runs
    }
}

func etcdctl(_ endpoint: String, _ arguments: [String], timeout: Duration = .seconds(20)) async throws -> CommandOutput {
    try await BoundedCommand.run("/usr/bin/etcdctl", ["--endpoints", endpoint] + arguments, environment: ["ETCDCTL_API": "2"], timeout: timeout)
}

/// A fresh real etcd 3.4 and a fresh kv-peer (named like etcd's member), both stopped afterwards. With
/// `members: 3`, a 3-member cluster of each, and `body` gets the client URL of each cluster's m1.
func withKVPeerAndEtcd<Result: Sendable>(
    members: Int = 1, kvArguments: [String] = [], _ body: @Sendable (_ kv: String, _ etcd: String) async throws -> Result
) async throws -> Result {
    if members == 3 {
        return try await EtcdCluster.with(size: 3) { cluster in
            try await ClusterClientTests.withCluster(extra: kvArguments) { clients, _ in
                try await body(clients[1], cluster.clientURLs[1])
            }
        }
    }
    precondition(members == 1, "a lone member or three")
    return try await EtcdCluster.with(size: 1) { cluster in
        try await KVPeerProcess.with(name: cluster.members[0].name, arguments: kvArguments) { peer in
            try await body(try peer.clientURL, cluster.clientURLs[0])
        }
    }
}

/// The store's current index (`X-Etcd-Index` of a root GET).
func currentIndex(_ endpoint: String) async throws -> UInt64 {
    let answer = try await KeepAliveHTTP.send("GET", endpoint + "/v2/keys/")
    return try #require(answer.headers["x-etcd-index"].flatMap { UInt64($0) }, "no X-Etcd-Index from \(endpoint)")
}

/// Masks indexes (error `[N]`, `*-Index:` lines, JSON index fields, in-order key names), TTLs and expirations.
func maskIndexes(_ text: String) -> String {
    var text = text
    let rules: [(String, String)] = [
        (#"(?m)\[\d+\]$"#, "[N]"),
        (#"(?m)^(Created-Index|Modified-Index|Index): \d+$"#, "$1: N"),
        (#"(?m)^TTL: [1-9]\d*$"#, "TTL: T"),
        (#""(createdIndex|modifiedIndex|index)":\d+"#, "\"$1\":N"),
        (#""ttl":\d+"#, "\"ttl\":T"),
        (#""expiration":"[^"]*""#, "\"expiration\":\"E\""),
        (#"/\d{20}"#, "/SEQ"),
    ]
    for (pattern, replacement) in rules {
        text = text.replacingMatches(of: pattern, with: replacement)
    }
    return text
}

/// Masks a member's id and peer URLs, and its client URL (which differs by port).
func maskMember(_ text: String, clientURL: String) -> String {
    text.replacingOccurrences(of: clientURL, with: "CLIENT")
        .replacingMatches(of: #"\b[0-9a-f]{8,16}\b"#, with: "ID")
        .replacingMatches(of: #"peerURLs=\S+"#, with: "peerURLs=PEER")
}

extension String {
    /// NSRegularExpression replacement (templates like `$1`).
    func replacingMatches(of pattern: String, with template: String) -> String {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return self }
        return regex.stringByReplacingMatches(in: self, range: NSRange(startIndex..., in: self), withTemplate: template)
    }

    /// The lines, sorted, joined again (for comparing unordered listings).
    var sortedLines: String {
        split(separator: "\n").sorted().joined(separator: "\n")
    }
}
