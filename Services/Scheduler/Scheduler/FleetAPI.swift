import FleetLayout
import Foundation
import HTTPServer
import HTTPTypes
import KeysClient
import NIOCore
import SchedulerCore
import UnitFile

/// fleet's HTTP API v1 (`/fleet/v1/…`, also under the legacy `/v1-alpha/…`), served by every scheduler
/// instance from its mirror; writes go to the keys API and are visible to the writer at once.
struct FleetAPI: Sendable {
    static let serverHeader = "fleetd/1.0.0 (flotilla)"

    let registry: FleetRegistry
    let tokenLimit: Int

    var mirror: RegistryMirror { registry.mirror }

    func register(in router: inout Router) {
        for base in ["/fleet/v1", "/v1-alpha"] {
            router.get(base + "/units") { request, _ in try listUnits(request) }
            router.get(base + "/units/:name") { _, context in try getUnit(try unitName(context)) }
            router.put(base + "/units/:name") { request, context in try await putUnit(try unitName(context), request: request) }
            router.delete(base + "/units/:name") { _, context in try await deleteUnit(try unitName(context)) }
            router.get(base + "/state") { request, _ in try listStates(request) }
            router.get(base + "/state/:name") { _, context in try getState(try unitName(context)) }
            router.get(base + "/machines") { request, _ in try listMachines(request) }
            router.on(.patch, base + "/machines") { request, _ in try await patchMachines(request) }
            router.get(base + "/discovery") { _, _ in FleetDiscovery.response }
            router.on(.post, base + "/discovery") { _, _ in throw FleetAPIError(.badRequest, "discovery document is read-only") }
        }
    }

    private func unitName(_ context: RequestContext) throws -> String {
        guard let raw = context.parameters["name"], let name = try? FormParameters.unescapePath(raw) else {
            throw FleetAPIError(.badRequest, "invalid unit name in path")
        }
        return name
    }

    // MARK: Units

    private func listUnits(_ request: Request) throws -> Response {
        let token = try PageToken.from(request.queryParameters, limit: tokenLimit)
        let page = token.slice(mirror.read { cache in cache.jobs.keys.sorted() })
        return FleetJSON.response(UnitPageJSON(nextPageToken: page.next, units: unitViews(named: page.items)))
    }

    private func getUnit(_ name: String) throws -> Response {
        guard let view = unitViews(named: [name]).first else { throw FleetAPIError(.notFound, "unit does not exist") }
        return FleetJSON.response(view)
    }

    /// The named units (those that exist), each with where it runs, what its machine reports, and why it does
    /// not run.
    private func unitViews(named names: some Sequence<String>) -> [UnitJSON] {
        let (decision, broken) = mirror.currentDecision()
        return mirror.read { cache in
            let placements = cache.placements
            return names.compactMap { name -> UnitJSON? in
                guard let job = cache.jobs[name], let hash = job.hash else { return nil }
                let unit = cache.bodies[hash].flatMap { try? UnitFile(parsing: $0) }
                let desired = job.targetState ?? .inactive
                var view = UnitJSON(
                    desiredState: desired.rawValue,
                    name: name,
                    options: unit?.options.map { UnitOptionJSON(name: $0.name, section: $0.section, value: $0.value.isEmpty ? nil : $0.value) }
                )
                let isGlobal = unit.flatMap { try? UnitContent.requirements(unit: $0, name: name) }?.global ?? false
                if !isGlobal {
                    if let placement = placements[name] {
                        view.machineID = placement.machine
                        let published = cache.states[name]?[placement.machine]
                        view.currentState = published.map { $0.currentState ?? TargetState.loaded.rawValue } ?? TargetState.inactive.rawValue
                    } else {
                        view.currentState = TargetState.inactive.rawValue
                    }
                    if view.machineID == nil, desired != .inactive {
                        view.reason = broken[name] ?? decision.unplaced[name] ?? pendingReason(name, decision: decision)
                    }
                }
                return view
            }
        }
    }

    /// A unit the current decision would place but the leader has not yet: say so rather than nothing.
    private func pendingReason(_ name: String, decision: SchedulingDecision) -> String {
        for case .schedule(let unit, let machine, _) in decision.actions where unit == name {
            return "waiting for the scheduler to place it on \(machine)"
        }
        return "waiting for the scheduler"
    }

    private func putUnit(_ name: String, request: Request) async throws -> Response {
        try Self.requireJSONContentType(request)
        let body = try await request.body.collect(upTo: 4 * 1024 * 1024)
        let submitted: UnitJSON
        do {
            submitted = try JSONDecoder().decode(UnitJSON.self, from: Data(body.readableBytesView))
        } catch {
            throw FleetAPIError(.badRequest, "unable to decode body: \(Self.describe(error))")
        }
        let bodyName = submitted.name ?? ""
        if !bodyName.isEmpty && bodyName != name {
            throw FleetAPIError(.badRequest, "name in URL \"\(name)\" differs from unit name in request body \"\(bodyName)\"")
        }
        let unitName: UnitName
        do {
            unitName = try UnitName(validating: name)
        } catch {
            throw FleetAPIError(.badRequest, "\(error)")
        }
        let desired: TargetState?
        if let raw = submitted.desiredState, !raw.isEmpty {
            guard let state = TargetState(rawValue: raw) else {
                throw FleetAPIError(.badRequest, "invalid desiredState \"\(raw)\": expected inactive, loaded or launched")
            }
            desired = state
        } else {
            desired = nil
        }
        let options = submitted.options ?? []
        let existing = mirror.read { $0.jobs[name] }

        guard let existing, existing.hash != nil else {
            guard !options.isEmpty else { throw FleetAPIError(.conflict, "unit does not exist and options field empty") }
            if unitName.isTemplate, let desired, desired != .inactive {
                throw FleetAPIError(.badRequest, "cannot activate template \"\(name)\"")
            }
            let unit = try Self.validatedUnit(options, name: name)
            try await registry.storeUnit(name: name, unit: unit, desiredState: desired ?? .inactive)
            try await updateGlobalIndex(name: name, unit: unit, hash: unit.fleetHash, desired: desired ?? .inactive)
            return Self.empty(.created)
        }
        guard let desired else { throw FleetAPIError(.conflict, "must provide DesiredState to update existing unit") }
        if unitName.isTemplate && desired != .inactive {
            throw FleetAPIError(.badRequest, "cannot activate template \"\(name)\"")
        }
        if !options.isEmpty {
            let unit = try Self.validatedUnit(options, name: name)
            if unit.fleetHash != existing.hash {
                try await registry.storeUnit(name: name, unit: unit, desiredState: desired)
                try await updateGlobalIndex(name: name, unit: unit, hash: unit.fleetHash, desired: desired)
                return Self.empty(.created)
            }
        }
        if existing.targetState != desired {
            try await registry.setTargetState(name: name, desired)
            if let hash = existing.hash, let raw = mirror.read({ $0.bodies[hash] }), let unit = try? UnitFile(parsing: raw) {
                try await updateGlobalIndex(name: name, unit: unit, hash: hash, desired: desired)
            }
        }
        return Self.empty(.noContent)
    }

    private func updateGlobalIndex(name: String, unit: UnitFile, hash: String, desired: TargetState) async throws {
        if (try? UnitContent.requirements(unit: unit, name: name))?.global == true {
            try await registry.indexGlobal(name: name, hash: hash, desiredState: desired)
        } else {
            try await registry.removeGlobalIndex(name: name)
        }
    }

    private func deleteUnit(_ name: String) async throws -> Response {
        guard mirror.read({ $0.jobs[name] }) != nil else { throw FleetAPIError(.notFound, "unit does not exist") }
        do {
            try await registry.removeGlobalIndex(name: name)
            try await registry.destroyUnit(name: name)
        } catch let error as KeysError where error.code == .keyNotFound {
            throw FleetAPIError(.notFound, "unit does not exist")
        }
        return Self.empty(.noContent)
    }

    /// The unit as it will be stored: options in order, fit for systemd and for placement.
    private static func validatedUnit(_ options: [UnitOptionJSON], name: String) throws -> UnitFile {
        do {
            return try UnitContent.validatedUnit(
                options: options.map { UnitOption(section: $0.section ?? "", name: $0.name ?? "", value: $0.value ?? "") },
                name: name
            )
        } catch {
            throw FleetAPIError(.badRequest, "\(error)")
        }
    }

    // MARK: State

    private func listStates(_ request: Request) throws -> Response {
        let query = request.queryParameters
        let token = try PageToken.from(query, limit: tokenLimit)
        let machines = Set(query.values("machineID"))
        let units = Set(query.values("unitName"))
        let states = stateEntries().filter { entry in
            (machines.isEmpty || machines.contains(entry.machineID ?? "")) && (units.isEmpty || units.contains(entry.name ?? ""))
        }
        let page = token.slice(states)
        return FleetJSON.response(UnitStatePageJSON(nextPageToken: page.next, states: Array(page.items)))
    }

    private func getState(_ name: String) throws -> Response {
        guard let state = stateEntries(unit: name).first else { throw FleetAPIError(.notFound, "unit state does not exist") }
        return FleetJSON.response(state)
    }

    private func stateEntries(unit only: String? = nil) -> [UnitStateEntryJSON] {
        mirror.read { cache in
            let units = only.map { [$0] } ?? cache.states.keys.sorted()
            return units.flatMap { unit in
                (cache.states[unit] ?? [:]).sorted { $0.key < $1.key }.map { machine, state in
                    UnitStateEntryJSON(
                        hash: state.unitHash, machineID: machine, name: unit,
                        systemdActiveState: state.activeState, systemdLoadState: state.loadState, systemdSubState: state.subState
                    )
                }
            }
        }
    }

    // MARK: Machines

    private func listMachines(_ request: Request) throws -> Response {
        let token = try PageToken.from(request.queryParameters, limit: tokenLimit)
        let machines = mirror.read { cache in
            cache.machines.filter { $0.value.object != nil }.sorted { $0.key < $1.key }.map { id, machine in
                let metadata = machine.effectiveMetadata
                return MachineJSON(id: id, metadata: metadata.isEmpty ? nil : metadata, primaryIP: machine.object?.PublicIP)
            }
        }
        let page = token.slice(machines)
        return FleetJSON.response(MachinePageJSON(machines: Array(page.items), nextPageToken: page.next))
    }

    private func patchMachines(_ request: Request) async throws -> Response {
        try Self.requireJSONContentType(request)
        let body = try await request.body.collect(upTo: 1024 * 1024)
        let operations = try MachinePatch.parse(Data(body.readableBytesView))
        for operation in operations {
            try await registry.setMachineMetadata(machine: operation.machine, key: operation.key, value: operation.value)
        }
        return Self.empty(.noContent)
    }

    // MARK: Helpers

    /// fleet accepts exactly one `Content-Type`, `application/json` (parameters such as charset allowed).
    static func requireJSONContentType(_ request: Request) throws {
        let types = request.headerFields[values: .contentType]
        guard types.count == 1 else { throw FleetAPIError(.unsupportedMediaType, "expected 1 Content-Type, got \(types.count)") }
        let mediaType = types[0].split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard mediaType == "application/json" else {
            throw FleetAPIError(.unsupportedMediaType, "only acceptable Content-Type is application/json")
        }
    }

    static func empty(_ status: HTTPResponse.Status) -> Response { Response(status: status) }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(let type, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): expected \(type)"
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        case DecodingError.keyNotFound(let key, _):
            return "missing \(key.stringValue)"
        case DecodingError.valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): unexpected null"
        default:
            return "\(error)"
        }
    }
}

/// `PATCH /fleet/v1/machines`: a JSON-Patch-like array setting or removing machine metadata. Every
/// operation is validated before any is applied.
struct MachinePatch: Equatable {
    var machine: String
    var key: String
    /// nil removes the key.
    var value: String?

    private struct Operation: Decodable {
        var op: String?
        var path: String?
        var value: PatchValue?
    }

    /// fleet's server decodes `{"value":"x"}` while its docs show a bare string; both are accepted.
    private enum PatchValue: Decodable {
        case text(String)

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self = .text(text)
                return
            }
            struct Wrapped: Decodable { var value: String }
            self = .text(try Wrapped(from: decoder).value)
        }

        var text: String {
            switch self {
            case .text(let text): text
            }
        }
    }

    static func parse(_ data: Data) throws -> [MachinePatch] {
        let operations: [Operation]
        do {
            operations = try JSONDecoder().decode([Operation].self, from: data)
        } catch {
            throw FleetAPIError(.badRequest, "unable to decode body: \(FleetAPI.describe(error))")
        }
        return try operations.map { operation in
            let op = operation.op ?? ""
            guard ["add", "remove", "replace"].contains(op) else {
                throw FleetAPIError(.badRequest, "invalid op: expect add, remove, or replace")
            }
            guard let (machine, key) = metadataPath(operation.path ?? "") else {
                throw FleetAPIError(.badRequest, "machine metadata path invalid")
            }
            if op == "remove" { return MachinePatch(machine: machine, key: key, value: nil) }
            guard let value = operation.value?.text, !value.isEmpty else {
                throw FleetAPIError(.badRequest, "invalid value: add and replace require a value")
            }
            return MachinePatch(machine: machine, key: key, value: value)
        }
    }

    /// `^/([^/]+)/metadata/([A-Za-z0-9_.-]+$)`
    private static func metadataPath(_ path: String) -> (String, String)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, !parts[1].isEmpty, parts[2] == "metadata", !parts[3].isEmpty else { return nil }
        let allowed = parts[3].unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_.-".unicodeScalars.contains(scalar))
        }
        return allowed ? (String(parts[1]), String(parts[3])) : nil
    }
}
