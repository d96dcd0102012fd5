import Testing
@testable import UnitFile

@Suite("Unit names")
struct UnitNameTests {
    @Test(
        "refuses names with fleet's messages, first problem in fleet's order",
        arguments: [
            ("", "unit name cannot be empty"),
            (String(repeating: "a", count: 249) + ".service", "unit name exceeds maximum length (256)"),
            (String(repeating: "é", count: 129) + ".service", "unit name exceeds maximum length (256)"),
            ("foo", "unit name must contain \".\""),
            ("foo@bar", "unit name must contain \".\""),
            ("foo.", "unit name cannot end in \".\""),
            (".", "unit name cannot end in \".\""),
            ("foo.txt", "invalid unit type: \"txt\""),
            ("foo.Service", "invalid unit type: \"Service\""),
            ("foo.service.txt", "invalid unit type: \"txt\""),
            ("foo.tx\"t", "invalid unit type: \"tx\\\"t\""),
            ("foo.tx\nt", "invalid unit type: \"tx\\nt\""),
            ("foo@bar.mount", "invalid unit type for template: \"mount\""),
            ("foo@.device", "invalid unit type for template: \"device\""),
            ("foo!.service", "invalid character '!' in unit name"),
            ("foo bar.service", "invalid character ' ' in unit name"),
            ("foo/bar.service", "invalid character '/' in unit name"),
            ("héllo.service", "invalid character 'é' in unit name"),
            ("foo'.service", "invalid character '\\'' in unit name"),
            ("a\"b.service", "invalid character '\"' in unit name"),
            ("foo\n.service", "invalid character '\\n' in unit name"),
            ("foo\u{7F}.service", "invalid character '\\x7f' in unit name"),
            ("foo\u{A0}.service", "invalid character '\\u00a0' in unit name"),
            ("foo\u{E0000}.service", "invalid character '\\U000e0000' in unit name"),
            ("foo😀.service", "invalid character '😀' in unit name"),
            ("@foo.service", "unit name cannot start in \"@\""),
            ("@.service", "unit name cannot start in \"@\""),
            // Order: type before characters, characters before the leading "@".
            ("foo!.txt", "invalid unit type: \"txt\""),
            ("fo!o@x.mount", "invalid unit type for template: \"mount\""),
            ("@foo!.service", "invalid character '!' in unit name"),
            (String(repeating: "!", count: 300), "unit name exceeds maximum length (256)"),
        ] as [(String, String)]
    )
    func refuses(name: String, message: String) {
        #expect(throws: UnitNameError(message: message)) { try UnitName.validate(name) }
        #expect(throws: UnitNameError(message: message)) { try UnitName(validating: name) }
    }

    @Test(
        "accepts fleet-valid names",
        arguments: [
            "foo.service", "foo@.service", "foo@1.service", "foo@a.b@c.service", "a:b_c-d\\x2d.socket",
            "foo.bar.service", ".service", "x@y.timer", "x@y.path", "x@y.target", "x@y.socket",
            String(repeating: "a", count: 248) + ".service",
        ] + UnitName.unitTypes.sorted().map { "unit." + $0 }
    )
    func accepts(name: String) throws {
        try UnitName.validate(name)
        #expect(try UnitName(validating: name).fullName == name)
    }

    @Test(
        "splits like fleet's NewUnitNameInfo",
        arguments: [
            ("foo.service", "foo", "service", "foo", "", nil),
            ("foo@.service", "foo@", "service", "foo", "", "foo@.service"),
            ("foo@1.service", "foo@1", "service", "foo", "1", "foo@.service"),
            ("foo@a.b@c.service", "foo@a.b@c", "service", "foo", "a.b@c", "foo@.service"),
            ("foo.bar.socket", "foo.bar", "socket", "foo.bar", "", nil),
            ("@x.service", "@x", "service", "", "x", "@.service"),
            ("noext.", "noext", "", "noext", "", nil),
        ] as [(String, String, String, String, String, String?)]
    )
    func parts(full: String, name: String, suffix: String, prefix: String, instance: String, template: String?) throws {
        let parsed = try #require(UnitName(parsing: full))
        #expect(parsed.fullName == full)
        #expect(parsed.name == name)
        #expect(parsed.suffix == suffix)
        #expect(parsed.prefix == prefix)
        #expect(parsed.instance == instance)
        #expect(parsed.templateName == template)
        #expect(parsed.description == full)
    }

    @Test("template and instance flags")
    func flags() throws {
        let plain = try UnitName(validating: "foo.service")
        #expect(!plain.isTemplate && !plain.isInstance)
        let template = try UnitName(validating: "foo@.service")
        #expect(template.isTemplate && !template.isInstance)
        let instance = try UnitName(validating: "foo@1.service")
        #expect(!instance.isTemplate && instance.isInstance)
    }

    @Test("a name without a dot cannot be split")
    func noDot() {
        #expect(UnitName(parsing: "foo") == nil)
        #expect(UnitName(parsing: "") == nil)
    }
}
