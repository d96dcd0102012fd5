import ArgumentParser
import Logging
import Testing

@testable import ServiceKit

@Suite struct AddressTests {
    @Test("listen addresses with and without scheme, IPv6 in brackets, port 0")
    func parsesListenAddresses() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:0") == ListenAddress(host: "127.0.0.1", port: 0))
        #expect(try ListenAddress(parsing: "https://example.test:2379/") == ListenAddress(scheme: "https", host: "example.test", port: 2379))
        #expect(try ListenAddress(parsing: "[::1]:8080") == ListenAddress(host: "::1", port: 8080))
        #expect(ListenAddress(host: "::1", port: 8080).description == "http://[::1]:8080")
    }

    @Test("bad listen addresses are refused with a message naming the problem", arguments: [
        ("127.0.0.1", "missing port"), ("127.0.0.1:70000", "port must be"), ("ftp://h:1", "scheme must be"),
        (":80", "host"), ("[::1:80", "unclosed"), ("h:abc", "port must be"),
    ])
    func rejectsBadAddresses(text: String, expectedFragment: String) {
        #expect {
            _ = try ListenAddress(parsing: text)
        } throws: { error in
            String(describing: error).contains(expectedFragment)
        }
    }

    @Test("endpoint lists need schemes and at least one URL")
    func endpointLists() throws {
        let list = try EndpointList(parsing: "http://127.0.0.1:2379, http://127.0.0.1:22379")
        #expect(list.urls == ["http://127.0.0.1:2379", "http://127.0.0.1:22379"])
        #expect(throws: AddressError.self) { try EndpointList(parsing: "127.0.0.1:2379") }
        #expect(throws: AddressError.self) { try EndpointList(parsing: " , ") }
    }

    @Test("--endpoints beats FLOTILLA_ENDPOINTS beats the default")
    func endpointPrecedence() throws {
        var options = try CommonOptions.parse([])
        #expect(try options.resolvedEndpoints(environment: [:]).urls == ["http://127.0.0.1:2379"])
        #expect(try options.resolvedEndpoints(environment: ["FLOTILLA_ENDPOINTS": "http://10.0.0.1:1"]).urls == ["http://10.0.0.1:1"])
        options = try CommonOptions.parse(["--endpoints", "http://127.0.0.2:2", "--log-level", "debug"])
        #expect(try options.resolvedEndpoints(environment: ["FLOTILLA_ENDPOINTS": "http://10.0.0.1:1"]).urls == ["http://127.0.0.2:2"])
        #expect(options.logging.logLevel == .debug)
    }

    @Test("a bad flag value stops parsing with a clear message")
    func rejectsBadFlags() {
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--listen", "nowhere"]) }
        #expect(throws: (any Error).self) { try CommonOptions.parse(["--log-level", "loud"]) }
    }
}
