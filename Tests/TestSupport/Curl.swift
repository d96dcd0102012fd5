import Subprocess

/// What one curl (or nghttp) run printed and how it ended.
public struct CurlResult: Sendable, CustomStringConvertible {
    public let exitCode: Int32?
    public let stdout: String
    public let stderr: String

    public var succeeded: Bool { exitCode == 0 }

    /// Lines of stdout (handy with `-w '%{http_code}\n'`).
    public var lines: [Substring] { stdout.split(separator: "\n", omittingEmptySubsequences: false) }

    public var description: String { "exit \(exitCode.map(String.init) ?? "signal")\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs the system curl against local test servers. Every run is bounded by `--max-time`, ignores proxy
/// settings from the environment, and is killed if the calling task is cancelled.
public enum Curl {
    public static func run(_ arguments: [String], maxTime: Int = 20) async throws -> CurlResult {
        let fixed = ["--silent", "--show-error", "--noproxy", "*", "--max-time", String(maxTime)]
        return try await runCollecting("curl", fixed + arguments)
    }
}

/// nghttp from nghttp2: prior-knowledge h2c for `http://` URIs, all URIs multiplexed on one connection.
/// (curl 7.88's h2c connection reuse is broken, curl/curl#10634, so multi-request h2c tests use this.)
public enum Nghttp {
    public static func run(_ arguments: [String], timeoutSeconds: Int = 20) async throws -> CurlResult {
        try await runCollecting("nghttp", ["--timeout=\(timeoutSeconds)"] + arguments)
    }
}

func runCollecting(_ executable: String, _ arguments: [String]) async throws -> CurlResult {
    let result = try await Subprocess.run(
        .name(executable),
        arguments: Arguments(arguments),
        output: .string(limit: 32 << 20),
        error: .string(limit: 1 << 20)
    )
    let code: Int32? =
        if case .exited(let code) = result.terminationStatus { code } else { nil }
    return CurlResult(exitCode: code, stdout: result.standardOutput, stderr: result.standardError)
}

/// Runs any command to completion, for fixtures such as `openssl`; throws when it fails.
public enum Command {
    public struct Failure: Error, CustomStringConvertible {
        public let command: [String]
        public let output: String
        public var description: String { "\(command.joined(separator: " ")) failed: \(output)" }
    }

    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let result = try await Subprocess.run(
            .name(executable),
            arguments: Arguments(arguments),
            output: .string(limit: 1 << 20),
            error: .string(limit: 1 << 20)
        )
        guard result.terminationStatus.isSuccess else {
            throw Failure(command: [executable] + arguments, output: (result.standardOutput) + (result.standardError))
        }
        return result.standardOutput
    }
}
