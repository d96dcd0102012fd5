import SeededRandom
import Testing
@testable import UnitFile

/// Seeded random inputs: nothing may crash, parse failures must be `UnitFileError`s, and whatever parses
/// must survive its own canonical form. A failure message carries the seed and iteration to replay it.
@Suite("Fuzz")
struct FuzzTests {
    static let iterations = 2000

    /// Bytes that exercise the grammar far more often than uniform noise would.
    static let alphabet: [UInt8] = Array("[]=#;\\\n\r \t\"%@.-*?^abcXYZ019".utf8) + [0x00, 0x7F, 0xC3, 0xA9, 0xE2, 0x98, 0xBA, 0xFF]

    static let seedTexts = [
        helloService,
        "[Unit]\nDescription=web %i\nAfter=db.service\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/a \\\n  --b\n",
        "[X-Fleet]\nMachineMetadata=\"region=us\" \"disk=ssd\"\nConflicts=web@*.service\nGlobal=true\n",
        "# comment \\\nswallowed by the comment\n[Service]\r\nExecStart=/bin/sleep 1000\r\n",
    ]

    @Test("random byte strings never crash the parser", arguments: [UInt64(1), 2, 3])
    func randomBytes(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for iteration in 0..<Self.iterations {
            let length = Int(rng.next() % 200)
            let bytes = (0..<length).map { _ in
                rng.next() % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))]
            }
            checkParse(String(decoding: bytes, as: UTF8.self), context: "seed \(seed) iteration \(iteration)")
        }
    }

    @Test("mutations of valid units never crash the parser", arguments: [UInt64(11), 12, 13])
    func mutations(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let texts = try Self.seedTexts.map { Array(try UnitFile(parsing: $0).serialized.utf8) }
        for iteration in 0..<Self.iterations {
            var bytes = texts[Int(rng.next() % UInt64(texts.count))]
            for _ in 0...(rng.next() % 4) {
                let position = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
                let byte = Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))]
                switch rng.next() % 4 {
                case 0: bytes.insert(byte, at: position)
                case 1 where !bytes.isEmpty: bytes.remove(at: position)
                case 2 where !bytes.isEmpty: bytes[position] = byte
                default: bytes.insert(contentsOf: repeatElement(byte, count: Int(rng.next() % 2100)), at: position)
                }
            }
            checkParse(String(decoding: bytes, as: UTF8.self), context: "seed \(seed) iteration \(iteration)")
        }
    }

    @Test("random values never crash the value readers", arguments: [UInt64(21)])
    func randomValues(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<Self.iterations {
            let length = Int(rng.next() % 24)
            let bytes = (0..<length).map { _ in Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))] }
            let text = String(decoding: bytes, as: UTF8.self)
            let name = String(text.prefix(8))
            let other = String(text.dropFirst(8))

            if !GoPathMatch.isValid(pattern: text) {
                #expect(!GoPathMatch.matches(pattern: text, name: other), "\(text) vs \(other)")
            }
            _ = GoPathMatch.matches(pattern: other, name: name)
            _ = try? UnitName.validate(text)
            _ = UnitName(parsing: text)
            _ = try? SystemdValue.parseBoolean(text)
            _ = try? SystemdValue.parseTimeSpan(text)
            _ = SystemdValue.joiningContinuations(text)
            _ = Specifiers.expandFleet(text, unitName: name + ".service")
            let context = SpecifierContext(unitName: name + "@" + other + ".service", machineID: "m", bootID: "b", hostName: "h", kernelRelease: "k")
            _ = try? Specifiers.expandSystemd(text, context: context)

            let xFleet = UnitFile(options: [
                UnitOption(section: "X-Fleet", name: ["MachineOf", "Conflicts", "Replaces", "MachineMetadata", "Global", "MachineID"][Int(rng.next() % 6)], value: text),
                UnitOption(section: "X-Fleet", name: ["Conflicts", "Replaces", "Global"][Int(rng.next() % 3)], value: other),
            ])
            _ = try? FleetRequirements(unit: xFleet, unitName: name + "@x.service")
            _ = try? xFleet.validateServiceSection()
        }
    }

    /// Parses `text`; if it parses, its canonical form must parse too, and to the same options unless a
    /// value ends in a bare backslash (which go-systemd's format cannot express).
    private func checkParse(_ text: String, context: String) {
        let unit: UnitFile
        do {
            unit = try UnitFile(parsing: text)
        } catch {
            #expect(error.line >= 1, "\(context)")
            return
        }
        #expect(unit.fleetHash.utf8.count == 40, "\(context)")
        do {
            let reparsed = try UnitFile(parsing: unit.serialized)
            if !unit.options.contains(where: { $0.value.hasSuffix("\\") }) {
                #expect(reparsed == unit.canonical, "\(context)")
                #expect(reparsed.serialized == unit.serialized, "\(context)")
            }
        } catch {
            Issue.record("canonical form of a parsed unit failed to parse (\(context)): \(error)")
        }
    }
}
