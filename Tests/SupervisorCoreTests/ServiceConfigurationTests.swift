import Testing
import UnitFile
@testable import SupervisorCore

func configuration(_ service: String, unit: String = "", name: String = "app.service") throws -> ServiceConfiguration {
    let text = (unit.isEmpty ? "" : "[Unit]\n\(unit)\n") + "[Service]\n\(service)\n"
    var specifiers = testSpecifiers
    specifiers.unitName = name
    return try ServiceConfiguration(unit: UnitFile(parsing: text), unitName: name, specifiers: specifiers)
}

@Test func defaultsAreSystemds() throws {
    let config = try configuration("ExecStart=/bin/app")
    #expect(config.type == .simple)
    #expect(config.timeoutStart == .seconds(90))
    #expect(config.timeoutStop == .seconds(90))
    #expect(config.restartDelay == .milliseconds(100))
    #expect(config.startLimitInterval == .seconds(10))
    #expect(config.startLimitBurst == 5)
    #expect(config.restart == .no)
    #expect(config.killMode == .controlGroup)
    #expect(config.killSignal == .term)
    #expect(config.sendSIGKILL)
    #expect(config.guessMainPID)
    #expect(config.effectiveNotifyAccess == .none)
}

@Test func oneshotHasNoStartTimeoutUnlessSet() throws {
    #expect(try configuration("Type=oneshot\nExecStart=/bin/x").timeoutStart == nil)
    #expect(try configuration("Type=oneshot\nExecStart=/bin/x\nTimeoutStartSec=5").timeoutStart == .seconds(5))
    #expect(try configuration("RemainAfterExit=yes").type == .oneshot)
}

@Test("timeouts apply in file order", arguments: [
    ("TimeoutSec=10", Duration?.some(.seconds(10)), Duration?.some(.seconds(10))),
    ("TimeoutStartSec=5\nTimeoutSec=10", .seconds(10), .seconds(10)),
    ("TimeoutSec=10\nTimeoutStartSec=5", .seconds(5), .seconds(10)),
    ("TimeoutStopSec=2min 30s", .seconds(90), .seconds(150)),
    ("TimeoutStartSec=0\nTimeoutStopSec=infinity", nil, nil),
    ("TimeoutSec=5\nTimeoutSec=", .seconds(90), .seconds(90)),
])
func timeouts(settings: String, start: Duration?, stop: Duration?) throws {
    let config = try configuration("ExecStart=/bin/x\n" + settings)
    #expect(config.timeoutStart == start)
    #expect(config.timeoutStop == stop)
}

@Test func everySettingIsRead() throws {
    let config = try configuration(
        """
        Type=notify
        NotifyAccess=all
        ExecStartPre=-/bin/pre %n
        ExecStart=/bin/app --id %m
        ExecStartPost=/bin/post
        ExecReload=/bin/kill -HUP $MAINPID
        ExecStop=/bin/stop
        ExecStopPost=/bin/cleanup ; /bin/cleanup2
        Restart=on-abnormal
        RestartSec=2.5s
        RestartPreventExitStatus=3 SIGUSR1
        RestartForceExitStatus=42
        SuccessExitStatus=1 2 SIGKILL
        SuccessExitStatus=TERM
        StartLimitInterval=30s
        StartLimitBurst=7
        KillMode=mixed
        KillSignal=SIGINT
        SendSIGKILL=no
        PIDFile=/run/%p.pid
        GuessMainPID=no
        RemainAfterExit=yes
        Environment="GREETING=hello world" NAME=%p
        EnvironmentFile=-/etc/default/%p
        EnvironmentFile=/etc/app.env
        WorkingDirectory=-/srv/%p
        User=svc
        Group=svcgroup
        """,
        unit: "Requires=db.service\nWants=cache.service log.service\nAfter=db.service cache.service\nBefore=web.service\nBindsTo=db.service"
    )
    #expect(config.type == .notify)
    #expect(config.effectiveNotifyAccess == .all)
    #expect(config.execStartPre == [ExecCommand(path: "/bin/pre", arguments: ["app.service"], ignoreFailure: true)])
    #expect(config.execStart == [ExecCommand(path: "/bin/app", arguments: ["--id", "m1"])])
    #expect(config.execStopPost.map(\.path) == ["/bin/cleanup", "/bin/cleanup2"])
    #expect(config.restart == .onAbnormal)
    #expect(config.restartDelay == .milliseconds(2500))
    #expect(config.restartPreventExitStatus == ExitStatusSet(codes: [3], signals: [.usr1]))
    #expect(config.restartForceExitStatus == ExitStatusSet(codes: [42]))
    #expect(config.successExitStatus == ExitStatusSet(codes: [1, 2], signals: [.kill, .term]))
    #expect(config.startLimitInterval == .seconds(30))
    #expect(config.startLimitBurst == 7)
    #expect(config.killMode == .mixed)
    #expect(config.killSignal == .int)
    #expect(!config.sendSIGKILL)
    #expect(config.pidFile == "/run/app.pid")
    #expect(!config.guessMainPID)
    #expect(config.remainAfterExit)
    #expect(config.environment == ["GREETING": "hello world", "NAME": "app"])
    #expect(config.environmentFiles == [
        EnvironmentFileReference(path: "/etc/default/app", optional: true), EnvironmentFileReference(path: "/etc/app.env"),
    ])
    #expect(config.workingDirectory == WorkingDirectory(.path("/srv/app"), optional: true))
    #expect(config.user == "svc")
    #expect(config.group == "svcgroup")
    #expect(config.dependencies == UnitDependencies(
        requires: ["db.service"], wants: ["cache.service", "log.service"], bindsTo: ["db.service"],
        after: ["db.service", "cache.service"], before: ["web.service"]
    ))
}

@Test func unitSectionStartLimitWinsOverLegacy() throws {
    let config = try configuration("ExecStart=/bin/x\nStartLimitInterval=30s\nStartLimitBurst=2", unit: "StartLimitIntervalSec=0\nStartLimitBurst=9")
    #expect(config.startLimitInterval == .zero)
    #expect(config.startLimitBurst == 9)
}

@Test func killSignalByNumberAndHomeDirectory() throws {
    let config = try configuration("ExecStart=/bin/x\nKillSignal=9\nWorkingDirectory=~\nType=idle")
    #expect(config.killSignal == .kill)
    #expect(config.workingDirectory == WorkingDirectory(.home))
    #expect(config.type == .simple)
}

@Test("configuration errors name setting and value", arguments: [
    ("ExecStart=/bin/x\nRestart=sometimes", #"invalid Restart= value "sometimes""#),
    ("ExecStart=/bin/x\nType=dbus", #"unsupported Type= value "dbus""#),
    ("ExecStart=/bin/x\nType=bogus", #"invalid Type= value "bogus""#),
    ("ExecStart=x", #"invalid ExecStart= value "x": executable path "x" is not absolute"#),
    ("ExecStart=/bin/x\nExecStop=/bin/y \\q", #"invalid ExecStop= value "/bin/y \\q": invalid escape sequence \q"#),
    ("ExecStart=/bin/x\nKillMode=everything", #"invalid KillMode= value "everything""#),
    ("ExecStart=/bin/x\nKillSignal=SIGBOGUS", #"invalid KillSignal= value "SIGBOGUS""#),
    ("ExecStart=/bin/x\nRestartSec=soon", #"invalid RestartSec= value "soon": expected a time span"#),
    ("ExecStart=/bin/x\nTimeoutStopSec=-1", #"invalid TimeoutStopSec= value "-1""#),
    ("ExecStart=/bin/x\nStartLimitBurst=-1", #"invalid StartLimitBurst= value "-1""#),
    ("ExecStart=/bin/x\nSuccessExitStatus=256", "out of range"),
    ("ExecStart=/bin/x\nSuccessExitStatus=SIGNOPE", #""SIGNOPE" is neither"#),
    ("ExecStart=/bin/x\nNotifyAccess=some", #"invalid NotifyAccess= value "some""#),
    ("ExecStart=/bin/x\nSendSIGKILL=maybe", #"invalid SendSIGKILL= value "maybe": expected a boolean"#),
    ("ExecStart=/bin/x\nPIDFile=app.pid", #"invalid PIDFile= value "app.pid": path must be absolute"#),
    ("ExecStart=/bin/x\nWorkingDirectory=srv", #"invalid WorkingDirectory= value "srv""#),
    ("ExecStart=/bin/x\nEnvironmentFile=env", #"invalid EnvironmentFile= value "env""#),
    ("Type=oneshot\nExecStart=/bin/x\nRestart=always", "Restart=always is not allowed for Type=oneshot"),
    ("ExecStart=/bin/a\nExecStart=/bin/b", "allows only one ExecStart="),
    ("Type=simple", "has no ExecStart="),
    ("ExecStart=/bin/x %q", #"invalid ExecStart= value "/bin/x %q""#),
])
func configurationErrors(service: String, fragment: String) {
    #expect {
        try configuration(service)
    } throws: { error in
        (error as? ServiceConfigurationError)?.message.contains(fragment) == true
    }
}

@Test func invalidEnvironmentAssignmentsAreWarnings() throws {
    let config = try configuration("ExecStart=/bin/x\nEnvironment=GOOD=1 bad")
    #expect(config.environment == ["GOOD": "1"])
    #expect(config.warnings == [#"ignoring invalid environment assignment "bad""#])
}
