import Logging
import Testing

@testable import ServiceKit

@Suite struct ObservabilityTests {
    @Test("JSON log lines are single-line objects with escaped fields and sorted metadata")
    func jsonLines() {
        let line = JSONLogHandler.render(
            timestamp: "2026-01-01T00:00:00.000000Z", level: .info, label: "kv", message: "a \"b\"\nc",
            metadata: ["z": "1", "a": "\u{1}"]
        )
        #expect(line == #"{"ts":"2026-01-01T00:00:00.000000Z","level":"info","label":"kv","msg":"a \"b\"\nc","a":"\u0001","z":"1"}"# + "\n")
    }

    @Test("the ready line names each endpoint")
    func readyLine() {
        #expect(ReadyLine.format([("client", "http://127.0.0.1:2379")]) == "listening client=http://127.0.0.1:2379")
        #expect(
            ReadyLine.format([("client", "http://127.0.0.1:1"), ("peer", "http://127.0.0.1:2")])
                == "listening client=http://127.0.0.1:1 peer=http://127.0.0.1:2"
        )
    }
}
