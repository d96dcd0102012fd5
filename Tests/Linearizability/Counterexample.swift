/// Why a history is not linearizable, from the deepest point the search reached.
///
/// The search got furthest by linearizing `prefix`, reaching the model state `state`. Then `boundary`
/// returned, so some operation called by then had to take effect next, yet every one of them (`unplaced`)
/// is inconsistent with `state`. Usually one of them carries the bad answer; when the prefix itself is the
/// culprit (an earlier choice among concurrent operations), the prefix shows which answers forced it.
///
/// Every unplaced operation is inconsistent, not merely a dead end: one that fit would have led to a
/// longer prefix, which the search would have reported instead. For the same reason the pending operations
/// called by then are all in the prefix (read-only ones excepted: the checker drops those up front).
public struct Counterexample<Input, Output> {
    /// The part that failed, e.g. `key "a"`; the parts after it were not searched.
    public var partition: String
    /// How many operations the part has.
    public var partitionSize: Int
    /// History indices in the order they were linearized.
    public var prefix: [Int]
    /// The model's state after `prefix`, as the model describes it.
    public var state: String
    /// The operation whose return ended the deepest attempt.
    public var boundary: Int
    /// History indices of the operations that could have gone next, by call.
    public var unplaced: [Int]
    /// The checked history, so the indices above can be shown.
    public var history: [Operation<Input, Output>]
}

extension Counterexample: Sendable where Input: Sendable, Output: Sendable {}

extension Counterexample {
    init<M: Model>(
        model: M,
        history: [Operation<Input, Output>],
        partition: Partition,
        kept: [Int],
        stuck: Search<M>.Stuck
    ) where M.Input == Input, M.Output == Output {
        let prefix = stuck.prefix.map { kept[$0] }
        let boundary = kept[stuck.boundary]
        let deadline = history[boundary].return ?? .max
        let placed = Set(prefix)
        // The calls the list walk met before the boundary's return entry (calls sort before returns at
        // equal stamps, hence `<=`): exactly the operations that could have been linearized next.
        let unplaced = kept
            .filter { !placed.contains($0) && history[$0].call <= deadline }
            .sorted { (history[$0].call, $0) < (history[$1].call, $1) }
        self.init(
            partition: partition.label,
            partitionSize: partition.operations.count,
            prefix: prefix,
            state: model.describe(stuck.state),
            boundary: boundary,
            unplaced: unplaced,
            history: history
        )
    }
}

extension Counterexample: CustomStringConvertible {
    /// For example:
    /// ```
    /// key "a": not linearizable (3 operations)
    /// longest linearizable prefix (2 operations), ending in state "y":
    ///   client 0: write("x") -> ok [call 0, return 1]
    ///   client 1: write("y") -> ok [call 2, return 3]
    /// next, one of these had to take effect before client 2 returned at 5, but none fits state "y":
    ///   client 2: read -> "x" [call 4, return 5]
    /// ```
    public var description: String {
        var lines = ["\(partition): not linearizable (\(counted(partitionSize)))"]
        if prefix.isEmpty {
            lines.append("no operation can be linearized first, from the initial state \(state)")
        } else {
            lines.append("longest linearizable prefix (\(counted(prefix.count))), ending in state \(state):")
            // The end of the prefix is what explains the state; a long history's beginning is noise here.
            let shown = prefix.suffix(Self.shownPrefix)
            if shown.count < prefix.count { lines.append("  … \(counted(prefix.count - shown.count)) before these") }
            lines += shown.map { "  \(history[$0])" }
        }
        let end = history[boundary]
        let when = end.return.map { "returned at \($0)" } ?? "returned (no stamp)"
        lines.append(
            "next, one of these had to take effect before client \(end.client) \(when), but none fits state \(state):"
        )
        lines += unplaced.map { "  \(history[$0])" }
        return lines.joined(separator: "\n")
    }

    /// How many of the prefix's last operations `description` shows.
    static var shownPrefix: Int { 20 }

    private func counted(_ count: Int) -> String {
        count == 1 ? "1 operation" : "\(count) operations"
    }
}
