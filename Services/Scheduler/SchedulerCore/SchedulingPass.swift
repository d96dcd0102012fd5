import UnitFile

/// One run of fleet's engine reconciliation (`engine/reconciler.go calculateClusterTasks`) over a snapshot:
/// check every scheduled unit against its machine, then place every unscheduled one.
///
/// Where fleet walks Go maps (random order) and leaves MachineOf chains and Replaces moves to later passes, this
/// pass walks units in name order and runs each phase to a fixpoint, so one call settles what fleet needs several
/// passes for, and the state it leaves behind is one the next pass accepts without a single action.
struct SchedulingPass {
    private enum Status {
        /// Never placed by the scheduler: global, or desired state inactive.
        case inert
        case pending
        /// Deferred until a `MachineOf` peer that is still to be placed this pass has been decided.
        case waiting
        case failed
        case placed
    }

    private enum Attempt {
        case placed(Int)
        case waiting(for: Int)
        case failed
    }

    private var state: ClusterState
    private var status: [Status]
    /// Per waiting unit: the peer it waits for; per peer: who waits for it.
    private var waitingOn: [Int: Int] = [:]
    private var waiters: [Int: [Int]] = [:]
    /// Units to try next, last one first. Placing or failing a unit pushes its waiters; moving one pushes it.
    private var stack: [Int] = []
    /// Why each originally scheduled unit left its machine — the first cause wins if it moves more than once.
    private var unscheduleReasons: [String: String] = [:]
    /// Reasons settled before the end of the pass (MachineOf cycles); every other failed unit is explained
    /// against the final state, so the text is what the next, idle pass would say too.
    private var cycleReasons: [Int: String] = [:]
    /// Replaces moves may chain (a replaced unit lands next to one it replaces); with three or more units replacing
    /// each other in a ring they could go round forever, so a pass moves at most one unit per unit that exists.
    private var movesLeft: Int
    private var movedThisRound = false
    /// Signatures of units that found no machine since the last move. Placing only ever adds load and
    /// constraints, so another unit with the same signature fails too — which spares 9 000 instances of a
    /// self-conflicting template on 1 000 machines 9 000 scans of every machine.
    private var hopeless: Set<PlacementSignature> = []

    static func run(_ snapshot: ClusterSnapshot) -> SchedulingDecision {
        var pass = SchedulingPass(state: ClusterState(snapshot))
        pass.validate()
        pass.placeUnscheduled()
        return pass.decision(original: snapshot.schedule)
    }

    private init(state: ClusterState) {
        self.state = state
        status = state.names.indices.map { unit in
            guard state.isActive[unit], !state.isGlobal[unit] else { return .inert }
            return state.placement[unit] >= 0 ? .placed : .pending
        }
        movesLeft = state.names.count
        for entry in state.rejected { unscheduleReasons[entry.unit] = entry.reason }
    }

    // MARK: Phase 1: what is scheduled

    /// Unschedules every placed unit its machine can no longer run. A removal can invalidate units checked earlier
    /// (followers of the removed unit, or of a global it let back in and that displaced another), so those are
    /// queued again. `Replaces` waits for a second round: moving a unit out of the way of a replacer that then
    /// turns out to be invalid itself would be churn.
    private mutating func validate() {
        for rule in [ReplacesRule.ignore, .replacedOnly] {
            var queue = state.placedUnits
            var next = 0
            while next < queue.count {
                let unit = queue[next]
                next += 1
                let machine = state.placement[unit]
                guard machine >= 0, let blocker = state.blocker(unit, on: machine, replaces: rule) else { continue }
                recordUnschedule(unit, from: machine, blocker)
                queue += state.remove(unit)
                status[unit] = .pending
            }
        }
    }

    private mutating func recordUnschedule(_ unit: Int, from machine: Int, _ blocker: Blocker) {
        let name = state.names[unit]
        guard unscheduleReasons[name] == nil else { return }
        unscheduleReasons[name] = "target machine \(state.machineIDs[machine]) unable to run unit: "
            + state.detail(blocker, of: unit, on: machine)
    }

    // MARK: Phase 2: what is not

    /// Places pending units in name order, each followed at once by the units waiting for it, so `MachineOf`
    /// chains land in one pass whatever their names. Placing a replacer moves the units it replaces, which can
    /// free room for a unit that failed earlier in the round, so failed units get another round after any move.
    private mutating func placeUnscheduled() {
        var round = status.indices.filter { status[$0] == .pending }
        while !round.isEmpty {
            movedThisRound = false
            for unit in round where status[unit] == .pending {
                stack.append(unit)
                drain()
            }
            guard movedThisRound else { break }
            round = status.indices.filter { status[$0] == .failed }
            for unit in round { status[unit] = .pending }
        }
        failWaitingUnits()
    }

    private mutating func drain() {
        while let unit = stack.popLast() {
            guard status[unit] == .pending else { continue }
            switch attempt(unit) {
            case .placed(let machine):
                commit(unit, to: machine)
            case .waiting(let peer):
                status[unit] = .waiting
                waitingOn[unit] = peer
                waiters[peer, default: []].append(unit)
            case .failed:
                status[unit] = .failed
                wake(waitersOf: unit)
            }
        }
    }

    private mutating func attempt(_ unit: Int) -> Attempt {
        guard !state.machineIDs.isEmpty, replacedPeer(of: unit) == nil else { return .failed }
        for peer in state.peers[unit] where !isScheduled(peer) {
            // A peer still to be decided this pass is waited for, not given up on: that is what lets a chain
            // c → b → a converge in one pass when c sorts first.
            guard peer >= 0, status[peer] == .pending || status[peer] == .waiting else { return .failed }
            return .waiting(for: peer)
        }
        let signature = hopeless.isEmpty ? nil : state.signature(of: unit)
        if let signature, hopeless.contains(signature) { return .failed }
        if let machine = state.bestMachine(for: unit, mayMove: movesLeft > 0) { return .placed(machine) }
        hopeless.insert(signature ?? state.signature(of: unit))
        return .failed
    }

    /// Whether a `MachineOf` peer is on some machine: placed, or a global running somewhere.
    private func isScheduled(_ peer: Int) -> Bool {
        guard peer >= 0 else { return false }
        if state.isGlobal[peer] { return state.isActive[peer] && state.globalsOn.contains { $0.contains(peer) } }
        return state.placement[peer] >= 0
    }

    /// A `MachineOf` peer that the unit's own `Replaces` also matches. The API rejects such a unit (fleet:
    /// `unresolvable requirements: peer "x" matches replace "y"`); one that gets here anyway would chase its peer
    /// from machine to machine, so it is never placed.
    private func replacedPeer(of unit: Int) -> (position: Int, peer: Int)? {
        guard !state.replaces.replacees[unit].isEmpty else { return nil }
        for (position, peer) in state.peers[unit].enumerated() where state.replaces.replacees[unit].contains(peer) {
            return (position, peer)
        }
        return nil
    }

    /// Why a failed unit has no machine in the state the pass ends with.
    private func unplacedReason(for unit: Int) -> String {
        guard !state.machineIDs.isEmpty else { return "no machines" }
        if let (position, peer) = replacedPeer(of: unit) {
            return "MachineOf peer \"\(state.peerName(of: unit, at: position))\" matches Replaces "
                + state.replaceGlob(of: unit, matching: peer)
        }
        for (position, peer) in state.peers[unit].enumerated() where !isScheduled(peer) {
            return "MachineOf peer \"\(state.peerName(of: unit, at: position))\" is not scheduled"
        }
        return state.unplacedReason(for: unit, mayMove: movesLeft > 0)
    }

    private mutating func commit(_ unit: Int, to machine: Int) {
        state.place(unit, on: machine)
        status[unit] = .placed
        for replaced in state.replaces.replacees[unit] where state.placement[replaced] == machine {
            movesLeft -= 1
            move(replaced, off: machine, because: .replacedBy(unit))
        }
        wake(waitersOf: unit)
    }

    /// Takes `unit` off `machine` to be placed again, along with the followers that can no longer stay there.
    private mutating func move(_ unit: Int, off machine: Int, because blocker: Blocker) {
        var work = [(unit, blocker)]
        while let (current, cause) = work.popLast() {
            guard state.placement[current] == machine else { continue }
            recordUnschedule(current, from: machine, cause)
            let affected = state.remove(current)
            status[current] = .pending
            stack.append(current)
            movedThisRound = true
            hopeless.removeAll()
            for follower in affected.reversed() {
                if let broken = state.blocker(follower, on: machine, replaces: .ignore) { work.append((follower, broken)) }
            }
        }
    }

    private mutating func wake(waitersOf peer: Int) {
        guard let waiting = waiters.removeValue(forKey: peer) else { return }
        // Pushed highest name first so the lowest is tried first.
        for unit in waiting.sorted(by: >) {
            status[unit] = .pending
            waitingOn[unit] = nil
            stack.append(unit)
        }
    }

    /// Units still waiting once nothing is pending sit on a `MachineOf` cycle or wait for a unit that does.
    private mutating func failWaitingUnits() {
        for unit in status.indices where status[unit] == .waiting {
            var path = [unit]
            var seen: Set = [unit]
            var current = waitingOn[unit]
            while let next = current, next != unit, status[next] == .waiting, seen.insert(next).inserted {
                path.append(next)
                current = waitingOn[next]
            }
            if current == unit {
                cycleReasons[unit] = "MachineOf cycle: " + (path + [unit]).map { state.names[$0] }.joined(separator: " -> ")
            }
        }
        for unit in status.indices where status[unit] == .waiting { status[unit] = .failed }
    }

    // MARK: Output

    /// The difference between the schedule the pass started from and the one it ends with: unschedules first (in
    /// name order) so that no schedule action meets a stale target, then schedules (in name order).
    private func decision(original: [String: String]) -> SchedulingDecision {
        var actions: [SchedulerAction] = []
        for (name, machineID) in original.sorted(by: { $0.key < $1.key }) where !machineID.isEmpty {
            guard machineID != currentMachine(of: name) else { continue }
            assert(unscheduleReasons[name] != nil, "unit \(name) left its machine without a reason")
            actions.append(.unschedule(unit: name, machine: machineID, reason: unscheduleReasons[name] ?? "unscheduled"))
        }
        for unit in state.placedUnits {
            let machineID = state.machineIDs[state.placement[unit]]
            guard original[state.names[unit]] != machineID else { continue }
            let reason = "target state \(state.specs[unit].desiredState.rawValue) and unit not scheduled"
            actions.append(.schedule(unit: state.names[unit], machine: machineID, reason: reason))
        }
        var unplaced: [String: String] = [:]
        var reasons: [PlacementSignature: String] = [:]
        for unit in status.indices where status[unit] == .failed {
            if let reason = cycleReasons[unit] {
                unplaced[state.names[unit]] = reason
                continue
            }
            // Units with one signature get one reason, since computing it costs a look at every machine. Not
            // under Replaces: the text quotes the glob that matched this unit's own name.
            let signature = state.signature(of: unit)
            let shared = signature.replacers.isEmpty && signature.replacees.isEmpty
            let reason = (shared ? reasons[signature] : nil) ?? unplacedReason(for: unit)
            if shared { reasons[signature] = reason }
            unplaced[state.names[unit]] = reason
        }
        return SchedulingDecision(actions: actions, unplaced: unplaced)
    }

    private func currentMachine(of name: String) -> String? {
        guard let unit = state.unitIndex[name], state.placement[unit] >= 0 else { return nil }
        return state.machineIDs[state.placement[unit]]
    }
}
