// Compact binary encoding for what crosses the wire (messages) and what the WAL stores (entries, hard state,
// snapshots). Integers are LEB128 varints, byte strings are length-prefixed. Every message starts with a
// version byte so the format can evolve. Decoding is total: any input either decodes or throws
// `RaftError.malformedEncoding`, and lengths are checked against the remaining bytes before allocating, so
// hostile input cannot make us reserve gigabytes.

private let wireVersion: UInt8 = 1

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func data(_ d: [UInt8]) {
        varint(UInt64(d.count))
        bytes.append(contentsOf: d)
    }

    mutating func ids(_ ids: [NodeID]) {
        varint(UInt64(ids.count))
        for id in ids { varint(id) }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var position = 0

    var isAtEnd: Bool { position == bytes.count }

    mutating func byte() throws(RaftError) -> UInt8 {
        guard position < bytes.count else { throw .malformedEncoding("unexpected end of input") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws(RaftError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            // The tenth byte may only contribute the top bit of a 64-bit value.
            if shift == 63 && b > 1 { throw .malformedEncoding("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A count of items each at least `minimumItemSize` bytes long; rejects counts the input cannot hold.
    mutating func count(minimumItemSize: Int = 1) throws(RaftError) -> Int {
        let n = try varint()
        guard n <= UInt64(bytes.count - position) / UInt64(minimumItemSize) else {
            throw .malformedEncoding("length \(n) exceeds remaining input")
        }
        return Int(n)
    }

    mutating func data() throws(RaftError) -> [UInt8] {
        let n = try count()
        defer { position += n }
        return Array(bytes[position..<position + n])
    }

    mutating func bool() throws(RaftError) -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        case let b: throw .malformedEncoding("invalid boolean \(b)")
        }
    }

    mutating func ids() throws(RaftError) -> [NodeID] {
        let n = try count()
        var result: [NodeID] = []
        result.reserveCapacity(n)
        for _ in 0..<n { result.append(try varint()) }
        return result
    }

    func finish() throws(RaftError) {
        guard isAtEnd else { throw .malformedEncoding("\(bytes.count - position) trailing bytes") }
    }
}

extension Entry {
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        write(to: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(RaftError) {
        var r = ByteReader(bytes: bytes)
        self = try Entry(from: &r)
        try r.finish()
    }

    func write(to w: inout ByteWriter) {
        w.varint(term)
        w.varint(index)
        w.byte(kind.rawValue)
        w.data(data)
    }

    init(from r: inout ByteReader) throws(RaftError) {
        let term = try r.varint()
        let index = try r.varint()
        let rawKind = try r.byte()
        guard let kind = Kind(rawValue: rawKind) else { throw .malformedEncoding("unknown entry kind \(rawKind)") }
        self.init(term: term, index: index, kind: kind, data: try r.data())
    }
}

extension ConfChange {
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.byte(kind.rawValue)
        w.varint(nodeID)
        w.data(context)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(RaftError) {
        var r = ByteReader(bytes: bytes)
        let rawKind = try r.byte()
        guard let kind = Kind(rawValue: rawKind) else { throw .malformedEncoding("unknown conf change \(rawKind)") }
        self.init(kind: kind, nodeID: try r.varint(), context: try r.data())
        try r.finish()
    }
}

extension HardState {
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.varint(term)
        w.varint(vote ?? 0)
        w.varint(commit)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(RaftError) {
        var r = ByteReader(bytes: bytes)
        let term = try r.varint()
        let vote = try r.varint()
        self.init(term: term, vote: vote == 0 ? nil : vote, commit: try r.varint())
        try r.finish()
    }
}

extension Snapshot {
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        write(to: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(RaftError) {
        var r = ByteReader(bytes: bytes)
        self = try Snapshot(from: &r)
        try r.finish()
    }

    func write(to w: inout ByteWriter) {
        w.varint(metadata.index)
        w.varint(metadata.term)
        w.ids(metadata.confState.voters)
        w.ids(metadata.confState.learners)
        w.data(data)
    }

    init(from r: inout ByteReader) throws(RaftError) {
        let index = try r.varint()
        let term = try r.varint()
        let voters = try r.ids()
        let learners = try r.ids()
        let conf = ConfState(voters: voters, learners: learners)
        self.init(metadata: SnapshotMetadata(index: index, term: term, confState: conf), data: try r.data())
    }
}

extension Message {
    private enum Flag {
        static let reject: UInt8 = 1 << 0
        static let transfer: UInt8 = 1 << 1
        static let snapshot: UInt8 = 1 << 2
        static let all: UInt8 = reject | transfer | snapshot
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.byte(wireVersion)
        w.byte(kind.rawValue)
        var flags: UInt8 = 0
        if reject { flags |= Flag.reject }
        if isLeadershipTransfer { flags |= Flag.transfer }
        if snapshot != nil { flags |= Flag.snapshot }
        w.byte(flags)
        for field in [from, to, term, logTerm, index, commit, rejectHint] { w.varint(field) }
        w.varint(UInt64(entries.count))
        for entry in entries { entry.write(to: &w) }
        snapshot?.write(to: &w)
        w.data(context)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(RaftError) {
        var r = ByteReader(bytes: bytes)
        let version = try r.byte()
        guard version == wireVersion else { throw .malformedEncoding("unsupported version \(version)") }
        let rawKind = try r.byte()
        guard let kind = MessageKind(rawValue: rawKind) else {
            throw .malformedEncoding("unknown message kind \(rawKind)")
        }
        let flags = try r.byte()
        guard flags & ~Flag.all == 0 else { throw .malformedEncoding("unknown flags \(flags)") }
        var fields: [UInt64] = []
        for _ in 0..<7 { fields.append(try r.varint()) }
        // An entry needs at least 4 bytes (term, index, kind, empty data).
        let entryCount = try r.count(minimumItemSize: 4)
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        for _ in 0..<entryCount { entries.append(try Entry(from: &r)) }
        let snapshot = flags & Flag.snapshot != 0 ? try Snapshot(from: &r) : nil
        self.init(
            kind: kind, from: fields[0], to: fields[1], term: fields[2], logTerm: fields[3], index: fields[4],
            entries: entries, commit: fields[5], snapshot: snapshot, reject: flags & Flag.reject != 0,
            rejectHint: fields[6], isLeadershipTransfer: flags & Flag.transfer != 0, context: try r.data())
        try r.finish()
    }
}
