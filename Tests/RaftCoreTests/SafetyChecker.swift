import RaftCore

/// Global observer of a simulated cluster. It survives crashes (it models what an omniscient test knows) and
/// checks the Raft safety properties (paper Figure 3) incrementally, as entries are persisted, elections
/// won and entries applied, so checking "after every step" stays cheap.
struct SafetyChecker {
    private struct EntryKey: Hashable {
        var index: UInt64
        var term: UInt64
    }

    private struct EntryFacts: Equatable {
        var kind: Entry.Kind
        var data: [UInt8]
        /// Term of the entry before it; equal `(index, term)` ⇒ equal predecessor, inductively Log Matching.
        var previousTerm: UInt64?
    }

    /// First violation found; the simulation stops there.
    private(set) var violation: String?
    /// Election Safety: at most one leader per term.
    private var leaders: [UInt64: NodeID] = [:]
    private var entries: [EntryKey: EntryFacts] = [:]
    /// State Machine Safety: what was applied at each index (by anyone), and the state hash after it.
    /// `committedBy` bounds the term in which the entry was committed: the highest term anybody led in when it
    /// was first applied.
    private var applied: [UInt64: (term: UInt64, data: [UInt8], hash: UInt64, committedBy: UInt64)] = [:]
    private(set) var highestApplied: UInt64 = 0

    var leaderTerms: Int { leaders.count }

    mutating func fail(_ message: String) {
        if violation == nil { violation = message }
    }

    mutating func leaderElected(_ id: NodeID, term: UInt64) {
        if let existing = leaders[term], existing != id {
            fail("election safety: both \(existing) and \(id) are leader in term \(term)")
        }
        leaders[term] = id
    }

    /// Log Matching: called with the entries a node just persisted and its storage after the append.
    mutating func persisted(_ newEntries: [Entry], by id: NodeID, storage: MemoryRaftStorage) {
        var previousTerm: UInt64? = newEntries.first.flatMap { try? storage.term(at: $0.index - 1) }
        for entry in newEntries {
            let facts = EntryFacts(kind: entry.kind, data: entry.data, previousTerm: previousTerm)
            let key = EntryKey(index: entry.index, term: entry.term)
            if let known = entries[key] {
                if known.kind != facts.kind || known.data != facts.data {
                    fail("log matching: node \(id) has a different entry at index \(entry.index) term \(entry.term)")
                } else if let a = known.previousTerm, let b = facts.previousTerm, a != b {
                    fail("log matching: node \(id) entry \(entry.index)/\(entry.term) follows term \(b), others \(a)")
                } else if known.previousTerm == nil {
                    entries[key] = facts
                }
            } else {
                entries[key] = facts
            }
            previousTerm = entry.term
        }
    }

    /// Leader Completeness: a new leader's (persisted) log holds every entry committed in an earlier term,
    /// unless a snapshot covers it. A leader of a stale term may be elected late (its vote responses were
    /// delayed) and need not hold entries committed in later terms.
    mutating func checkLeaderCompleteness(_ id: NodeID, term: UInt64, storage: MemoryRaftStorage) {
        let covered = storage.snapshot().metadata.index
        guard highestApplied > covered else { return }
        for index in (covered + 1)...highestApplied {
            guard let committed = applied[index], committed.committedBy < term else { continue }
            guard let leaderTerm = try? storage.term(at: index), leaderTerm == committed.term else {
                fail("leader completeness: leader \(id) of term \(term) lacks committed entry \(index)/\(committed.term)")
                return
            }
        }
    }

    /// State Machine Safety: no two nodes apply different entries at one index, and identical prefixes lead
    /// to identical states (which also validates snapshot contents).
    mutating func applied(_ entry: Entry, by id: NodeID, stateHash: UInt64) {
        if let known = applied[entry.index] {
            if known.term != entry.term || known.data != entry.data {
                fail("state machine safety: node \(id) applied \(entry.index)/\(entry.term), another node \(entry.index)/\(known.term)")
            } else if known.hash != stateHash {
                fail("state machine safety: node \(id) state after \(entry.index) differs from other nodes")
            }
        } else {
            applied[entry.index] = (entry.term, entry.data, stateHash, leaders.keys.max() ?? 0)
            highestApplied = max(highestApplied, entry.index)
        }
    }

    mutating func restoredSnapshot(index: UInt64, stateHash: UInt64, by id: NodeID) {
        if let known = applied[index], known.hash != stateHash {
            fail("state machine safety: node \(id) restored a snapshot at \(index) with a different state")
        }
    }
}
