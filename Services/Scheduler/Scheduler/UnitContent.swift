import SupervisorCore
import UnitFile

/// How the scheduler reads and checks unit contents: the one place that ties the unit-file module to the
/// API's validation and the engine's requirements.
enum UnitContent {
    static func requirements(raw: String, name: String) throws -> FleetRequirements {
        try requirements(unit: try UnitFile(parsing: raw), name: name)
    }

    static func requirements(unit: UnitFile, name: String) throws -> FleetRequirements {
        try FleetRequirements(unit: unit, unitName: name)
    }

    /// The unit built from the API's options, refused (with the problem named) unless it survives fleet's
    /// own round trip through the text form, its `[X-Fleet]` section is valid, and a service is runnable.
    static func validatedUnit(options: [UnitOption], name: String) throws -> UnitFile {
        for option in options {
            if option.section.isEmpty { throw UnitContentError("option \"\(option.name)\" has no section") }
            if option.name.isEmpty { throw UnitContentError("option in section [\(option.section)] has no name") }
        }
        let unit = UnitFile(options: options)
        let reparsed = try UnitFile(parsing: unit.serialized)
        // The text form groups options by section; compare with the unit regrouped the same way.
        guard reparsed.options == unit.canonical.options else {
            throw UnitContentError("options do not survive serialization (a name or value contains a line break or an \"=\" in the name)")
        }
        _ = try requirements(unit: unit, name: name)
        if name.hasSuffix(".service") {
            try unit.validateServiceSection()
            // Everything the agent will read (Exec lines and their quoting, time spans, signals, Restart=, …) is
            // checked here with the agent's own parser, so a unit that no machine could run is refused now,
            // with the setting named, instead of failing later on whichever machine it lands.
            _ = try ServiceConfiguration(unit: unit, unitName: name, specifiers: Self.submissionSpecifiers(name))
        }
        _ = try ServiceAnnouncement(unit: unit)
        return unit
    }

    /// Placeholder machine facts: at submission only the syntax of specifiers matters, not their values.
    private static func submissionSpecifiers(_ name: String) -> SpecifierContext {
        SpecifierContext(unitName: name, machineID: String(repeating: "0", count: 32), bootID: String(repeating: "0", count: 32), hostName: "localhost", kernelRelease: "0")
    }
}
