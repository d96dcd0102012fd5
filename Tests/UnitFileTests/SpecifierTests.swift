import Testing
@testable import UnitFile

@Suite("Specifiers")
struct SpecifierTests {
    @Test(
        "fleet expands only %n %N %p %i, by plain replacement",
        arguments: [
            ("foo@bar.service", "%n %N %p %i", "foo@bar.service foo@bar foo bar"),
            ("foo.service", "%n|%N|%p|%i", "foo.service|foo|foo|"),
            ("foo@.service", "%n|%N|%p|%i", "foo@.service|foo@|foo|"),
            ("foo@a.b@c.service", "%p/%i", "foo/a.b@c"),
            ("web@1.service", "db@%i.service", "db@1.service"),
            ("foo.service", "%%n", "%foo.service"),
            ("foo.service", "%% %H %m %f %I", "%% %H %m %f %I"),
            ("foo.service", "100%", "100%"),
            ("foo.service", "%n\u{301}", "foo.service\u{301}"),
            // Replacement is sequential, exactly as in fleet: the expansion of %n is searched for %N.
            ("a%N.service", "%n", "aa%N.service"),
            // No "." in the name: fleet expands nothing.
            ("foo", "%n %p", "%n %p"),
        ] as [(String, String, String)]
    )
    func fleet(unitName: String, value: String, expected: String) {
        #expect(Specifiers.expandFleet(value, unitName: unitName) == expected)
    }

    static func context(_ unitName: String) -> SpecifierContext {
        SpecifierContext(
            unitName: unitName,
            machineID: "0123456789abcdef0123456789abcdef",
            bootID: "fedcba9876543210fedcba9876543210",
            hostName: "node1",
            kernelRelease: "6.1.0-flotilla",
            userName: "core",
            userID: 500,
            groupName: "wheel",
            groupID: 10,
            homeDirectory: "/home/core",
            shell: "/bin/bash"
        )
    }

    @Test(
        "systemd expands every supported specifier",
        arguments: [
            ("%n", "foo-bar@a-b\\x2dc.service"),
            ("%N", "foo-bar@a-b\\x2dc"),
            ("%p", "foo-bar"),
            ("%P", "foo/bar"),
            ("%i", "a-b\\x2dc"),
            ("%I", "a/b-c"),
            ("%f", "/a/b-c"),
            ("%j", "bar"),
            ("%J", "bar"),
            ("%H", "node1"),
            ("%m", "0123456789abcdef0123456789abcdef"),
            ("%b", "fedcba9876543210fedcba9876543210"),
            ("%v", "6.1.0-flotilla"),
            ("%u", "core"),
            ("%U", "500"),
            ("%g", "wheel"),
            ("%G", "10"),
            ("%h", "/home/core"),
            ("%s", "/bin/bash"),
            ("%t", "/run"),
            ("%T", "/tmp"),
            ("%V", "/var/tmp"),
            ("%C", "/var/cache"),
            ("%E", "/etc"),
            ("%L", "/var/log"),
            ("%S", "/var/lib"),
            ("%%", "%"),
            ("%%n", "%n"),
            ("a%%b", "a%b"),
            ("100%", "100%"),
            ("", ""),
            ("no specifiers", "no specifiers"),
            ("/usr/bin/app --id=%m --name=%p-%i --home=%h", "/usr/bin/app --id=0123456789abcdef0123456789abcdef --name=foo-bar-a-b\\x2dc --home=/home/core"),
        ] as [(String, String)]
    )
    func systemd(value: String, expected: String) throws {
        #expect(try Specifiers.expandSystemd(value, context: Self.context("foo-bar@a-b\\x2dc.service")) == expected)
    }

    @Test(
        "systemd specifiers for a unit that is not an instance",
        arguments: [
            ("web-app.service", "%i|%I|%p|%P|%f|%j|%J|%N", "||web-app|web/app|/web/app|app|app|web-app"),
            ("-.mount", "%f|%P", "/|/"),
            ("a-b\\x41.service", "%j|%J|%P", "b\\x41|bA|a/bA"),
            ("plain.service", "%f|%j", "/plain|plain"),
        ] as [(String, String, String)]
    )
    func systemdPlainUnits(unitName: String, value: String, expected: String) throws {
        #expect(try Specifiers.expandSystemd(value, context: Self.context(unitName)) == expected)
    }

    @Test(
        "systemd refuses unknown specifiers and bad escapes",
        arguments: [
            ("foo.service", "%z", "unknown specifier \"%z\""),
            ("foo.service", "ok %q", "unknown specifier \"%q\""),
            ("foo.service", "%☺", "unknown specifier \"%☺\""),
            ("foo@a\\q.service", "%I", "cannot expand %I: invalid escape in \"a\\\\q\""),
            ("foo@a\\x4.service", "%I", "cannot expand %I: invalid escape in \"a\\\\x4\""),
            ("foo\\.service", "%P", "cannot expand %P: invalid escape in \"foo\\\\\""),
            ("foo@a--b.service", "%f", "cannot expand %f: \"a--b\" is not an escaped path"),
            ("-foo.service", "%f", "cannot expand %f: \"-foo\" is not an escaped path"),
            ("foo@a-.service", "%f", "cannot expand %f: \"a-\" is not an escaped path"),
            ("foo@a-..-b.service", "%f", "cannot expand %f: \"a-..-b\" is not an escaped path"),
        ] as [(String, String, String)]
    )
    func systemdErrors(unitName: String, value: String, message: String) {
        #expect(throws: SpecifierError(message: message)) {
            try Specifiers.expandSystemd(value, context: Self.context(unitName))
        }
    }
}
