import Foundation
import Testing
@testable import UnitFile

/// fleet's `examples/hello.service`, byte for byte.
let helloService = """
    [Unit]
    Description=Hello World

    [Service]
    ExecStart=/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"

    """

@Suite("UnitFile canonical form and hash")
struct UnitFileSerializationTests {
    @Test(
        "serializes like go-systemd",
        arguments: [
            ("", ""),
            ("# only a comment\n", ""),
            ("[Unit]\n", ""),
            ("[Unit]\nDescription=Foo", "[Unit]\nDescription=Foo\n"),
            (
                "[Unit]\nDescription=Foo\n[Service]\nExecStart=/bin/true\n",
                "[Unit]\nDescription=Foo\n\n[Service]\nExecStart=/bin/true\n"
            ),
            (
                "[A]\nx=1\n[B]\ny=2\n[A]\nz=3\n",
                "[A]\nx=1\nz=3\n\n[B]\ny=2\n"
            ),
            (
                "# header\n\n  [Unit]  \n\n  Description =  Foo  \n; c\n\n\n[Service]\n\nExecStart = /bin/a \\\n   b\n",
                "[Unit]\nDescription=Foo\n\n[Service]\nExecStart=/bin/a \\\n   b\n"
            ),
            ("[S]\nA=x \\\n\nB=y\n", "[S]\nA=x \\\n\nB=y\n"),
            ("[Unit]\r\nA=1\r\n\r\n[X-Fleet]\r\nGlobal=true\r\n", "[Unit]\nA=1\n\n[X-Fleet]\nGlobal=true\n"),
        ] as [(String, String)]
    )
    func canonical(text: String, expected: String) throws {
        #expect(try UnitFile(parsing: text).serialized == expected)
    }

    @Test("parse, serialize, parse gives the same options", arguments: parseCases)
    func roundTrip(_ testCase: ParseCase) throws {
        let unit = try UnitFile(parsing: testCase.text)
        // go-systemd itself cannot round-trip a value that ends in a bare backslash: written back, the
        // backslash continues into the next line. Those inputs are covered by `trailingBackslash` below.
        guard !unit.options.contains(where: { $0.value.hasSuffix("\\") }) else { return }
        let reparsed = try UnitFile(parsing: unit.serialized)
        #expect(reparsed == unit.canonical)
        #expect(reparsed.serialized == unit.serialized)
    }

    @Test("a value ending in a bare backslash continues when written back, as in go-systemd")
    func trailingBackslash() throws {
        let unit = try UnitFile(parsing: "[S]\nA=x \\  \nB=1\n")
        #expect(unit.serialized == "[S]\nA=x \\\nB=1\n")
        #expect(try UnitFile(parsing: unit.serialized).options == [UnitOption(section: "S", name: "A", value: "x \\\nB=1")])
    }

    @Test(
        "hashes like fleet",
        arguments: [
            ("[Service]\nExecStart=/bin/sleep 1000\n", "2d432f4a06608c1a8b2848b66c836793a1d48ce6"),
            (helloService, "e55c0aeb44ba0b68004ceb8a200e685194448b45"),
            ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ] as [(String, String)]
    )
    func fleetHash(text: String, hash: String) throws {
        let unit = try UnitFile(parsing: text)
        #expect(unit.fleetHash == hash)
        #expect(unit.shortHash == String(hash.prefix(7)))
        #expect(unit.hashBytes.count == 20)
        let hexDigits: [String] = unit.hashBytes.map { byte -> String in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        #expect(hexDigits.joined() == hash)
    }

    @Test("layout, comments and CRLF do not change the hash")
    func hashIgnoresLayout() throws {
        let messy = "# a comment\r\n\r\n[Unit]\r\n  Description = Hello World  \r\n\r\n\r\n[Service]\r\n"
            + "ExecStart=/bin/bash -c \"while true; do echo \\\"Hello, world\\\"; sleep 1; done\"\r\n"
        #expect(try UnitFile(parsing: messy).fleetHash == "e55c0aeb44ba0b68004ceb8a200e685194448b45")
    }

    @Test("the hash of options equals the hash of their text")
    func hashFromOptions() throws {
        let unit = UnitFile(options: [
            UnitOption(section: "Service", name: "ExecStart", value: "/bin/sleep 1000"),
        ])
        #expect(unit.fleetHash == "2d432f4a06608c1a8b2848b66c836793a1d48ce6")
        #expect(try UnitFile(parsing: unit.serialized) == unit)
    }

    @Test("sections are told apart by their bytes, as in Go")
    func sectionsByBytes() {
        let composed = "Caf\u{E9}"
        let decomposed = "Cafe\u{301}"
        let unit = UnitFile(options: [
            UnitOption(section: composed, name: "a", value: "1"),
            UnitOption(section: decomposed, name: "b", value: "2"),
            UnitOption(section: composed, name: "c", value: "3"),
        ])
        #expect(unit.serialized == "[\(composed)]\na=1\nc=3\n\n[\(decomposed)]\nb=2\n")
    }

    @Test("accessors")
    func accessors() throws {
        let unit = try UnitFile(
            parsing: "[Unit]\nDescription=first\nDescription=second\n\n[Service]\nExecStart=a\nExecStart=b\n[Unit]\nAfter=x\n"
        )
        #expect(unit.sections == ["Unit", "Service"])
        #expect(unit.values(section: "Service", name: "ExecStart") == ["a", "b"])
        #expect(unit.values(section: "Service", name: "Nope") == [])
        #expect(unit.lastValue(section: "Unit", name: "Description") == "second")
        #expect(unit.lastValue(section: "Unit", name: "Nope") == nil)
        #expect(unit.description == "first")
        #expect(UnitFile(options: []).description == nil)
    }

    @Test("options decode from fleet's API JSON field names")
    func optionCoding() throws {
        let json = #"[{"section":"Service","name":"ExecStart","value":"/bin/true"}]"#
        let options = try JSONDecoder().decode([UnitOption].self, from: Data(json.utf8))
        #expect(options == [UnitOption(section: "Service", name: "ExecStart", value: "/bin/true")])
    }
}
