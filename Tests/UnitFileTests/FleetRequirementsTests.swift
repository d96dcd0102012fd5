import Testing
@testable import UnitFile

/// An `[X-Fleet]` body, the unit's name, and the requirements fleet derives from it.
struct RequirementsCase: Sendable, CustomTestStringConvertible {
    var xFleet: String
    var unitName: String
    var expected: FleetRequirements

    init(_ xFleet: String, name: String = "app.service", _ expected: FleetRequirements) {
        self.xFleet = xFleet
        self.unitName = name
        self.expected = expected
    }

    var testDescription: String { xFleet.isEmpty ? "(empty)" : xFleet.replacingNewlines }
}

extension String {
    fileprivate var replacingNewlines: String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ⏎ ")
    }
}

let requirementsCases: [RequirementsCase] = [
    RequirementsCase("", FleetRequirements()),
    RequirementsCase("MachineID=abc\nMachineID=def", FleetRequirements(machineID: "abc")),
    RequirementsCase("X-ConditionMachineID=abc", FleetRequirements(machineID: "abc")),
    RequirementsCase("X-ConditionMachineBootID=boot", FleetRequirements(machineID: "boot")),
    RequirementsCase("X-ConditionMachineBootID=boot\nX-ConditionMachineID=x\nMachineID=m", FleetRequirements(machineID: "m")),
    RequirementsCase("X-ConditionMachineBootID=boot\nX-ConditionMachineID=x", FleetRequirements(machineID: "x")),
    RequirementsCase("MachineID=\"abc\" \"def\"", FleetRequirements(machineID: "abc")),
    RequirementsCase("MachineID=\"\"", FleetRequirements()),
    RequirementsCase(
        "MachineOf=a.service\nMachineOf=b.service\nX-ConditionMachineOf=c.service",
        FleetRequirements(machineOf: ["c.service", "a.service", "b.service"])
    ),
    RequirementsCase("MachineOf=\"a.service\" \"b.service\"", FleetRequirements(machineOf: ["a.service", "b.service"])),
    RequirementsCase("MachineOf=\"a.service\"  \"b.service\"", FleetRequirements(machineOf: ["a.service", "b.service"])),
    RequirementsCase("MachineOf=a.service b.service", FleetRequirements(machineOf: ["a.service b.service"])),
    RequirementsCase("MachineOf=a.service\nMachineOf=a.service", FleetRequirements(machineOf: ["a.service"])),
    RequirementsCase(
        "MachineMetadata=region=us\nMachineMetadata=region=eu\nMachineMetadata=disk=ssd",
        FleetRequirements(machineMetadata: ["region": ["us", "eu"], "disk": ["ssd"]])
    ),
    RequirementsCase(
        "MachineMetadata=\"region=us\" \"disk=ssd\"\nX-ConditionMachineMetadata=region=eu",
        FleetRequirements(machineMetadata: ["region": ["us", "eu"], "disk": ["ssd"]])
    ),
    RequirementsCase("MachineMetadata=\"a=b\"  \"c=d\"", FleetRequirements(machineMetadata: ["a": ["b"], "c": ["d"]])),
    RequirementsCase("MachineMetadata=\"a=has space\"", FleetRequirements(machineMetadata: ["a": ["has space"]])),
    RequirementsCase(
        "Conflicts=a*.service b.service\nConflicts=c.service\nX-Conflicts=d.service",
        FleetRequirements(conflicts: ["d.service", "a*.service", "b.service", "c.service"])
    ),
    RequirementsCase("Conflicts=a\tb  a", FleetRequirements(conflicts: ["a", "b"])),
    RequirementsCase("Conflicts=", FleetRequirements()),
    RequirementsCase("Conflicts=\"a.service\" \"b*.service\"", FleetRequirements(conflicts: ["a.service", "b*.service"])),
    RequirementsCase("Global=true", FleetRequirements(global: true)),
    RequirementsCase("Global=TRUE", FleetRequirements(global: true)),
    RequirementsCase("Global=t", FleetRequirements(global: true)),
    RequirementsCase("Global=On", FleetRequirements(global: true)),
    RequirementsCase("Global=1", FleetRequirements(global: true)),
    RequirementsCase("Global=yes", FleetRequirements(global: true)),
    RequirementsCase("Global=false", FleetRequirements(global: false)),
    RequirementsCase("Global=F", FleetRequirements(global: false)),
    RequirementsCase("Global=true\nGlobal=off", FleetRequirements(global: false)),
    RequirementsCase("Global=no\nGlobal=yes", FleetRequirements(global: true)),
    RequirementsCase("Global=\"false\" \"true\"", FleetRequirements(global: true)),
    RequirementsCase(
        "Replaces=old.service\nReplaces=older*.service\nReplaces=old.service",
        FleetRequirements(replaces: ["old.service", "older*.service"])
    ),
    RequirementsCase("Replaces=a.service b.service", FleetRequirements(replaces: ["a.service b.service"])),
    RequirementsCase(
        "Global=true\nMachineMetadata=role=web\nConflicts=web-*.service",
        FleetRequirements(machineMetadata: ["role": ["web"]], conflicts: ["web-*.service"], global: true)
    ),
    RequirementsCase("MachineID=m\nGlobal=false", FleetRequirements(machineID: "m")),
    RequirementsCase(
        "MachineOf=db.service\nConflicts=web*.service",
        FleetRequirements(machineOf: ["db.service"], conflicts: ["web*.service"])
    ),
    RequirementsCase(
        "MachineOf=db.service\nMachineMetadata=a=b",
        FleetRequirements(machineOf: ["db.service"], machineMetadata: ["a": ["b"]])
    ),
    RequirementsCase("Conflicts=\nReplaces=r.service", FleetRequirements(replaces: ["r.service"])),
    // Specifiers: fleet's four, expanded for the unit's own name.
    RequirementsCase(
        "MachineOf=db@%i.service\nConflicts=%p@*.service\nMachineMetadata=unit=%n\nMachineMetadata=name=%N",
        name: "web@1.service",
        FleetRequirements(
            machineOf: ["db@1.service"],
            machineMetadata: ["unit": ["web@1.service"], "name": ["web@1"]],
            conflicts: ["web@*.service"]
        )
    ),
    RequirementsCase("MachineMetadata=host=%H%%i", name: "web@1.service", FleetRequirements(machineMetadata: ["host": ["%H%1"]])),
    RequirementsCase("MachineOf=%n.service", name: "noext", FleetRequirements(machineOf: ["%n.service"])),
]

@Suite("[X-Fleet] requirements")
struct FleetRequirementsTests {
    static func unit(_ xFleet: String) throws -> UnitFile {
        try UnitFile(parsing: "[Unit]\nDescription=test\nMachineOf=ignored\n\n[X-Fleet]\n" + xFleet + "\n")
    }

    @Test("reads [X-Fleet] like fleet", arguments: requirementsCases)
    func reads(_ testCase: RequirementsCase) throws {
        let requirements = try FleetRequirements(unit: Self.unit(testCase.xFleet), unitName: testCase.unitName)
        #expect(requirements == testCase.expected)
    }

    @Test(
        "refuses invalid values",
        arguments: [
            ("Foo=bar", "unrecognized option in [X-Fleet] section: \"Foo\""),
            ("MachineMetaData=a=b", "unrecognized option in [X-Fleet] section: \"MachineMetaData\""),
            ("X-MachineID=x", "unrecognized option in [X-Fleet] section: \"X-MachineID\""),
            ("machineid=x", "unrecognized option in [X-Fleet] section: \"machineid\""),
            ("MachineOf=\nFoo=1", "unrecognized option in [X-Fleet] section: \"Foo\""),
            ("MachineMetadata=a=b=c", "invalid MachineMetadata value \"a=b=c\": expected key=value"),
            ("MachineMetadata=a=", "invalid MachineMetadata value \"a=\": expected key=value"),
            ("MachineMetadata==b", "invalid MachineMetadata value \"=b\": expected key=value"),
            ("MachineMetadata=ab", "invalid MachineMetadata value \"ab\": expected key=value"),
            ("MachineMetadata=", "invalid MachineMetadata value \"\": expected key=value"),
            ("MachineMetadata=a=b c=d", "invalid MachineMetadata value \"a=b c=d\": expected key=value"),
            ("MachineMetadata=\"a=b\" \"c\"", "invalid MachineMetadata value \"c\": expected key=value"),
            ("X-ConditionMachineMetadata=bad", "invalid X-ConditionMachineMetadata value \"bad\": expected key=value"),
            ("Global=maybe", "invalid Global value \"maybe\": expected true, yes, 1, on, t or false, no, 0, off, f"),
            ("Global=", "invalid Global value \"\": expected true, yes, 1, on, t or false, no, 0, off, f"),
            ("Global=true\nGlobal=y", "invalid Global value \"y\": expected true, yes, 1, on, t or false, no, 0, off, f"),
            ("Conflicts=a[", "invalid Conflicts pattern \"a[\": syntax error in pattern"),
            ("Conflicts=ok.service [-]", "invalid Conflicts pattern \"[-]\": syntax error in pattern"),
            ("X-Conflicts=[]", "invalid X-Conflicts pattern \"[]\": syntax error in pattern"),
            ("Replaces=a[", "invalid Replaces pattern \"a[\": syntax error in pattern"),
            ("MachineOf=", "MachineOf value cannot be empty"),
            ("X-ConditionMachineOf=", "X-ConditionMachineOf value cannot be empty"),
            ("MachineID=", "MachineID value cannot be empty"),
            ("X-ConditionMachineBootID=", "X-ConditionMachineBootID value cannot be empty"),
            ("Replaces=", "Replaces value cannot be empty"),
        ] as [(String, String)]
    )
    func refusesValues(xFleet: String, message: String) throws {
        let unit = try Self.unit(xFleet)
        #expect(throws: FleetRequirementsError(message: message)) {
            try FleetRequirements(unit: unit, unitName: "app.service")
        }
    }

    @Test(
        "refuses unresolvable and incompatible options in fleet's order",
        arguments: [
            ("MachineOf=db.service\nConflicts=db*", "unresolvable requirements: peer \"db.service\" matches conflict \"db*\""),
            ("MachineOf=db.service\nReplaces=*.service", "unresolvable requirements: peer \"db.service\" matches replace \"*.service\""),
            (
                "MachineOf=a.service\nReplaces=a.service\nConflicts=a.service",
                "unresolvable requirements: peer \"a.service\" matches conflict \"a.service\""
            ),
            (
                "MachineOf=x.service\nMachineOf=a.service\nMachineID=m\nConflicts=a*",
                "unresolvable requirements: peer \"a.service\" matches conflict \"a*\""
            ),
            ("MachineID=m\nMachineOf=a.service", "MachineID cannot be used with MachineOf"),
            ("X-ConditionMachineID=m\nX-ConditionMachineOf=a.service", "X-ConditionMachineID cannot be used with X-ConditionMachineOf"),
            ("X-ConditionMachineBootID=b\nMachineOf=a.service", "X-ConditionMachineBootID cannot be used with MachineOf"),
            ("MachineID=m\nConflicts=a*", "MachineID cannot be used with Conflicts"),
            ("MachineID=m\nX-Conflicts=a*", "MachineID cannot be used with X-Conflicts"),
            ("MachineID=m\nGlobal=true", "MachineID cannot be used with Global"),
            ("MachineID=m\nReplaces=a.service", "MachineID cannot be used with Replaces"),
            ("Global=true\nMachineOf=a.service", "Global cannot be used with MachineOf"),
            ("Global=true\nReplaces=a.service", "Global cannot be used with Replaces"),
            ("Conflicts=a.service\nReplaces=b.service", "Conflicts cannot be used with Replaces"),
            ("X-Conflicts=a.service\nReplaces=b.service", "X-Conflicts cannot be used with Replaces"),
            ("Conflicts=  \nX-Conflicts=a.service\nReplaces=b.service", "X-Conflicts cannot be used with Replaces"),
            (
                "Replaces=r.service\nGlobal=true\nConflicts=c.service\nMachineOf=p.service\nMachineID=m",
                "MachineID cannot be used with MachineOf"
            ),
            ("Replaces=r.service\nGlobal=true\nConflicts=c.service\nMachineID=m", "MachineID cannot be used with Conflicts"),
            ("Replaces=r.service\nGlobal=true\nMachineID=m", "MachineID cannot be used with Global"),
            ("Replaces=r.service\nGlobal=true\nMachineOf=p.service", "Global cannot be used with MachineOf"),
            ("Conflicts=c.service\nReplaces=r.service\nGlobal=true", "Global cannot be used with Replaces"),
        ] as [(String, String)]
    )
    func refusesCombinations(xFleet: String, message: String) throws {
        let unit = try Self.unit(xFleet)
        #expect(throws: FleetRequirementsError(message: message)) {
            try FleetRequirements(unit: unit, unitName: "app.service")
        }
    }

    @Test(
        "the multi-value rule applies only to fully quoted values",
        arguments: [
            ("\"a=b\" \"c=d\"", ["a=b", "c=d"]),
            ("\"a b\" \"c\"", ["a b", "c"]),
            ("\"a b\" c", ["\"a b\" c"]),
            ("a \"b c\"", ["a \"b c\""]),
            ("\"a\"b\"", ["ab"]),
            ("\"a\"  \"b\"", ["a", "b"]),
            ("\"\"", []),
            ("\"", []),
            ("\"x", ["\"x"]),
            ("plain value", ["plain value"]),
            ("", [""]),
        ] as [(String, [String])]
    )
    func multipleValues(value: String, items: [String]) {
        #expect(FleetRequirements.splitMultipleValues(value) == items)
    }
}
