#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

@testable import KVStorage

/// Runs `body` with a fresh directory under /tmp and removes it (recursively) afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    var template = Array("/tmp/kvstorage-test-XXXXXX".utf8CString)
    let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
    try #require(created, "mkdtemp failed: errno \(errno)")
    let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { removeTree(path) }
    return try body(path)
}

func removeTree(_ path: String) {
    var status = stat()
    guard lstat(path, &status) == 0 else { return }
    if status.st_mode & S_IFMT == S_IFDIR {
        for name in (try? FileIO.list(path)) ?? [] { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Test data: entries `range` with recognisable payloads.
func makeEntries(_ range: ClosedRange<UInt64>, term: UInt64 = 1, tag: String = "v") -> [WALEntry] {
    range.map { WALEntry(term: term, index: $0, data: Array("\(tag)-\($0)-payload".utf8)) }
}

func readBytes(_ path: String) throws -> [UInt8] { try FileIO.readAll(path) }

/// Replaces the file's contents (no fsync: tests only reopen, they do not crash the machine).
func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    let descriptor = try FileIO.open(path, O_WRONLY | O_TRUNC)
    defer { FileIO.close(descriptor) }
    try FileIO.write(descriptor, bytes, at: 0, path: path)
}

func fileSize(_ path: String) throws -> Int { try readBytes(path).count }

/// Segment file names in `directory`, oldest first.
func segmentNames(_ directory: String) throws -> [String] {
    try FileIO.list(directory).filter { FileName.parseSegment($0) != nil }.sorted()
}

func snapshotNames(_ directory: String) throws -> [String] {
    try FileIO.list(directory).filter { FileName.parseSnapshot($0) != nil }.sorted()
}

/// Offsets of the records in a segment file.
func recordOffsets(_ path: String) throws -> [Int] {
    let bytes = try readBytes(path)
    let parsed = bytes.withUnsafeBytes { WriteAheadLog.parse($0) }
    try #require(parsed.failure == nil, "segment \(path) does not parse")
    return parsed.records.map(\.offset)
}

/// Opens, runs `body`, closes.
@discardableResult
func withLog<R>(
    _ directory: String, segmentBytes: Int = 64 << 20, _ body: (WriteAheadLog, RecoveredState) throws -> R
) throws -> R {
    let (log, state) = try WriteAheadLog.open(directory: directory, segmentBytes: segmentBytes)
    defer { log.close() }
    return try body(log, state)
}

/// What a fresh open finds.
func recovered(_ directory: String, segmentBytes: Int = 64 << 20) throws -> RecoveredState {
    try withLog(directory, segmentBytes: segmentBytes) { _, state in state }
}

/// The error `open` throws, or a recorded issue if it succeeds.
func openError(_ directory: String, sourceLocation: SourceLocation = #_sourceLocation) -> StorageError? {
    do {
        let (log, _) = try WriteAheadLog.open(directory: directory)
        log.close()
        Issue.record("open succeeded on a damaged log", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
