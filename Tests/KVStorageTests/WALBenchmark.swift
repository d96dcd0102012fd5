#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import KVStorage

/// Throughput of the log on this machine, for the numbers quoted in `WriteAheadLog`'s documentation.
/// Not a timed assertion: it only prints. Run with
///
///     KVSTORAGE_BENCH=1 swift test --filter WALBenchmark
///
/// Compares group commit (64 entries per fdatasync) with one entry per fdatasync, and, when the `sqlite3`
/// CLI is installed, SQLite in WAL mode with `synchronous=FULL` doing the same transactions.
@Suite("WALBenchmark", .serialized, .enabled(if: getenv("KVSTORAGE_BENCH") != nil))
struct WALBenchmark {
    static let entryBytes = 120
    static let entriesWritten = 16_384

    @Test("appends per second with fdatasync, batches of 1 and 64, WAL vs SQLite")
    func appendsPerSecond() throws {
        print("entries of \(Self.entryBytes) bytes; median of 5 rounds")
        for batch in [1, 64] {
            let batches = batch == 1 ? 2_000 : Self.entriesWritten / batch
            try measure("wal     batch \(batch), fdatasync", batches: batches, batch: batch) { directory in
                try walRun(directory, batches: batches, batch: batch, sync: true)
            }
            if hasSQLite() {
                try measure("sqlite3 batch \(batch), synchronous=FULL", batches: batches, batch: batch) { directory in
                    try sqliteRun(directory, batches: batches, batch: batch)
                }
            }
        }
        try measure("wal     batch 1, no sync", batches: Self.entriesWritten, batch: 1) { directory in
            try walRun(directory, batches: Self.entriesWritten, batch: 1, sync: false)
        }
        let written = Self.entriesWritten
        let setup = { (directory: String) throws in try walRun(directory, batches: written, batch: 1, sync: false) }
        try measure("wal     recovery of \(written) entries", batches: 1, batch: written, setup: setup) { directory in
            let count = try recovered(directory).entries.count
            #expect(count == Self.entriesWritten)
        }
    }

    /// Runs `body` in a fresh directory `rounds` times; prints the median rate (fsync latency on a shared
    /// machine is noisy) and the range.
    private func measure(
        _ label: String, batches: Int, batch: Int, rounds: Int = 5, setup: (String) throws -> Void = { _ in },
        _ body: (String) throws -> Void
    ) throws {
        var rates: [Double] = []
        for _ in 0..<rounds {
            try withTemporaryDirectory { directory in
                try setup(directory)
                let elapsed = try ContinuousClock().measure { try body(directory) }
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                rates.append(Double(batches * batch) / seconds)
            }
        }
        rates.sort()
        let median = Int(rates[rates.count / 2])
        let range = "\(Int(rates[0]))...\(Int(rates[rates.count - 1]))"
        print("\(label): \(median) entries/s (\(median / batch) batches/s), range \(range)")
    }

    private func walRun(_ directory: String, batches: Int, batch: Int, sync: Bool) throws {
        let payload = [UInt8](repeating: 0x61, count: Self.entryBytes)
        try withLog(directory) { log, _ in
            var index: UInt64 = 1
            for _ in 0..<batches {
                var entries: [WALEntry] = []
                entries.reserveCapacity(batch)
                for _ in 0..<batch {
                    entries.append(WALEntry(term: 1, index: index, data: payload))
                    index += 1
                }
                try log.append(entries, hardState: HardState(term: 1, vote: 1, commit: index - 1), sync: sync)
            }
        }
    }

    private func hasSQLite() -> Bool { system("command -v sqlite3 >/dev/null 2>&1") == 0 }

    /// One transaction per batch, like the WAL's one fdatasync per batch; the SQL is generated up front.
    private func sqliteRun(_ directory: String, batches: Int, batch: Int) throws {
        let value = String(repeating: "a", count: Self.entryBytes)
        var sql = "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=FULL;\n"
        sql += "CREATE TABLE log(idx INTEGER PRIMARY KEY, term INTEGER, data BLOB);\n"
        var index = 1
        for _ in 0..<batches {
            sql += "BEGIN;\n"
            for _ in 0..<batch {
                sql += "INSERT INTO log VALUES(\(index), 1, '\(value)');\n"
                index += 1
            }
            sql += "COMMIT;\n"
        }
        let script = directory + "/bench.sql"
        let descriptor = try FileIO.open(script, O_WRONLY | O_CREAT | O_TRUNC)
        try FileIO.write(descriptor, Array(sql.utf8), at: 0, path: script)
        FileIO.close(descriptor)
        let status = system("sqlite3 \(directory)/bench.db < \(script) > /dev/null")
        #expect(status == 0)
    }
}
