/// Machines in fleet's candidate order — load ascending, then machine ID ascending — kept sorted as loads change.
///
/// fleet re-sorts every agent for every unit it places (`engine/scheduler.go sortedAgents`), which makes a pass
/// over 10 000 units cost 10 000 sorts. A load only ever changes on the machine a unit joins or leaves, so one
/// binary search and one array shift per change keep the same order far more cheaply. Machines are numbered in
/// ID order, so comparing `(load, number)` is comparing `(load, ID)`.
struct LoadOrder {
    private(set) var load: [Int]
    /// Every machine number, least loaded first.
    private(set) var machines: [Int]

    init(load: [Int]) {
        self.load = load
        machines = load.indices.sorted { (load[$0], $0) < (load[$1], $1) }
    }

    mutating func setLoad(_ newLoad: Int, of machine: Int) {
        guard load[machine] != newLoad else { return }
        machines.remove(at: position(load[machine], machine))
        load[machine] = newLoad
        machines.insert(machine, at: position(newLoad, machine))
    }

    /// The first position whose machine does not sort before `(load, machine)`: where that machine is, or would go.
    private func position(_ load: Int, _ machine: Int) -> Int {
        var low = 0
        var high = machines.count
        while low < high {
            let middle = (low + high) / 2
            let other = machines[middle]
            if (self.load[other], other) < (load, machine) {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }
}
