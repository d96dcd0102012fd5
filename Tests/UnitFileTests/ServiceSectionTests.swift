import Testing
@testable import UnitFile

let noExecStart = "[Service] has no ExecStart=; only Type=oneshot with RemainAfterExit=yes may omit it"

@Suite("[Service] validation")
struct ServiceSectionTests {
    @Test(
        "accepts services systemd would load",
        arguments: [
            "[Service]\nExecStart=/bin/true",
            "[Service]\nType=simple\nExecStart=/bin/true",
            "[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b",
            "[Service]\nType=oneshot\nRemainAfterExit=yes",
            "[Service]\nType=oneshot\nRemainAfterExit=true\nExecStop=/bin/stop",
            "[Service]\nRemainAfterExit=yes",
            "[Service]\nExecStart=/bin/a\nExecStart=\nExecStart=/bin/b",
            "[Service]\nExecStart=/bin/a \\\n  --flag",
            "[Service]\nType=notify\nExecStart=/bin/a\nRestart=on-failure",
            "[Service]\nType=forking\nExecStart=/bin/a\nRestart=",
            "[Service]\nType=bogus\nType=\nExecStart=/bin/a",
            "[Service]\nType=oneshot\nType=simple\nExecStart=/bin/a",
            "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/a\n[X-Fleet]\nGlobal=true",
        ]
            + UnitFile.serviceTypes.map { "[Service]\nType=\($0)\nExecStart=/bin/a\nRemainAfterExit=no" }
            + UnitFile.restartPolicies.map { "[Service]\nExecStart=/bin/a\nRestart=\($0)" }
    )
    func accepts(text: String) throws {
        try UnitFile(parsing: text).validateServiceSection()
    }

    @Test(
        "refuses services systemd would not load",
        arguments: [
            ("[Unit]\nDescription=x", noExecStart),
            ("", noExecStart),
            ("[Unit]\nExecStart=/bin/a", noExecStart),
            ("[Service]\nType=oneshot", noExecStart),
            ("[Service]\nType=oneshot\nRemainAfterExit=no", noExecStart),
            ("[Service]\nType=simple\nRemainAfterExit=yes", noExecStart),
            ("[Service]\nExecStart=/bin/a\nExecStart=", noExecStart),
            ("[Service]\nExecStart=", noExecStart),
            (
                "[Service]\nExecStart=/bin/a\nExecStart=/bin/b",
                "Type=simple allows only one ExecStart= but 2 are set; use Type=oneshot to run several commands"
            ),
            (
                "[Service]\nType=forking\nExecStart=/bin/a\nExecStart=/bin/b\nExecStart=/bin/c",
                "Type=forking allows only one ExecStart= but 3 are set; use Type=oneshot to run several commands"
            ),
            (
                "[Service]\nType=oneshot\nType=notify\nExecStart=/bin/a\nExecStart=/bin/b",
                "Type=notify allows only one ExecStart= but 2 are set; use Type=oneshot to run several commands"
            ),
            (
                "[Service]\nType=bogus\nExecStart=/bin/a",
                "invalid Type= value \"bogus\": expected simple, exec, forking, oneshot, dbus, notify, notify-reload or idle"
            ),
            (
                "[Service]\nType=Simple\nExecStart=/bin/a",
                "invalid Type= value \"Simple\": expected simple, exec, forking, oneshot, dbus, notify, notify-reload or idle"
            ),
            (
                "[Service]\nExecStart=/bin/a\nRestart=sometimes",
                "invalid Restart= value \"sometimes\": expected no, always, on-success, on-failure, on-abnormal, on-abort or on-watchdog"
            ),
            (
                "[Service]\nExecStart=/bin/a\nRestart=always\nRestart=yes",
                "invalid Restart= value \"yes\": expected no, always, on-success, on-failure, on-abnormal, on-abort or on-watchdog"
            ),
            (
                "[Service]\nType=oneshot\nRemainAfterExit=maybe",
                "invalid RemainAfterExit= value \"maybe\": expected a boolean"
            ),
        ] as [(String, String)]
    )
    func refuses(text: String, message: String) throws {
        let unit = try UnitFile(parsing: text)
        #expect(throws: ServiceSectionError(message: message)) { try unit.validateServiceSection() }
    }

    @Test("lists and settings follow systemd's reset and last-wins rules")
    func listsAndSettings() throws {
        let unit = try UnitFile(
            parsing: "[Service]\nExecStartPre=/a\nExecStartPre=\nExecStartPre=/b \\\n  c\nExecStartPre=/d\nType=simple\nType=\nUser=core\n"
        )
        #expect(unit.systemdList(section: "Service", name: "ExecStartPre") == ["/b    c", "/d"])
        #expect(unit.systemdList(section: "Service", name: "Nope") == [])
        #expect(unit.systemdSetting(section: "Service", name: "Type") == nil)
        #expect(unit.systemdSetting(section: "Service", name: "User") == "core")
        #expect(unit.systemdSetting(section: "Service", name: "Nope") == nil)
    }
}
