import ArgumentParser
import Scheduler
import ServiceKit

/// fleet's engine and API v1 over the keys API.
@main
struct SchedulerMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Places systemd units on machines (fleet's engine and HTTP API v1) through the etcd v2 keys API."
    )

    @OptionGroup var options: SchedulerOptions

    func run() async throws {
        try await SchedulerCommand.run(options: options, environment: ProcessEnvironment.current)
    }
}
