import Logging
import ProcessSupervisor
import SupervisorCore

extension Agent {
    /// Starts and stops units the way systemd would among units on one machine: `Requires=`/`Wants=`/
    /// `BindsTo=` pull units in, `After=`/`Before=` order the jobs (stops first, in reverse), a job waits until
    /// the jobs ordered before it have finished (the unit is up, or down), and a unit whose required
    /// predecessor failed is not started (result `dependency`). Jobs not ordered against each other run at once.
    func runJobs(start: [String], stop: [String]) async {
        guard !start.isEmpty || !stop.isEmpty else { return }
        let (dependencies, active) = jobInputs()
        var transaction: Transaction
        do {
            transaction = try Transaction(units: dependencies, start: start, stop: stop, active: active)
        } catch {
            // An ordering cycle: systemd refuses such a transaction; run the jobs unordered rather than not at all.
            logger.error("unit ordering refused; running the jobs unordered", metadata: ["error": "\(error)"])
            for name in stop { await perform(.stop(name)) }
            for name in start { await perform(.start(name)) }
            return
        }
        await withTaskGroup(of: (Job, Bool).self) { group in
            var launched: Set<Job> = []
            func launchRunnable() {
                for job in transaction.runnable where !launched.contains(job) {
                    launched.insert(job)
                    group.addTask { (job, await self.perform(job)) }
                }
            }
            launchRunnable()
            while let (job, succeeded) = await group.next() {
                for skipped in transaction.complete(job, success: succeeded) {
                    logger.warning("not started: a unit it requires failed to start", metadata: ["unit": "\(skipped.unit)", "after": "\(job.unit)"])
                }
                launchRunnable()
            }
        }
    }

    /// Runs one job and waits (bounded by the unit's own start or stop timeout) until it has finished.
    @discardableResult
    func perform(_ job: Job) async -> Bool {
        guard let unit = supervisor.unit(named: job.unit) else {
            logger.warning("job for a unit that is not loaded here", metadata: ["job": "\(job)"])
            return false
        }
        let updates = unit.statusUpdates()
        switch job.kind {
        case .start:
            markLaunched(job.unit, true)
            unit.start()
            logger.info("started", metadata: ["unit": "\(job.unit)"])
        case .stop:
            markLaunched(job.unit, false)
            unit.stop()
            logger.info("stopped", metadata: ["unit": "\(job.unit)"])
        }
        let limit = (job.kind == .start ? unit.configuration.timeoutStart : unit.configuration.timeoutStop) ?? .seconds(90)
        return await Self.finished(job.kind, updates: updates, within: limit + .seconds(5))
    }

    /// Whether the job ended well: a start once the unit is active (or a oneshot finished successfully), a
    /// stop once it is inactive or failed. False when it failed or the time ran out.
    static func finished(_ kind: Job.Kind, updates: AsyncStream<ServiceStatus>, within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool?.self) { group in
            group.addTask {
                var sawActivity = false
                // The first update is the status from before the job (the stream starts with the current one).
                var current = true
                for await status in updates {
                    if current {
                        current = false
                        continue
                    }
                    switch (kind, status.activeState) {
                    case (.start, .active): return true
                    case (.start, .failed): return false
                    case (.start, .inactive) where sawActivity: return status.result == .success
                    case (.start, _): sawActivity = sawActivity || status.activeState != .inactive
                    case (.stop, .inactive), (.stop, .failed): return true
                    case (.stop, _): continue
                    }
                }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? false
        }
    }
}
