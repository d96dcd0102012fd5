import Foundation
public import SchedulerCore

/// `job/<unit>/object`: fleet stores the hash as Go's `[20]byte`, i.e. a JSON array of 20 numbers.
public struct JobObjectJSON: Codable, Equatable, Sendable {
    public var Name: String
    public var UnitHash: [UInt8]

    public init(Name: String, UnitHash: [UInt8]) {
        self.Name = Name
        self.UnitHash = UnitHash
    }

    public var hashHex: String? {
        guard UnitHash.count == 20 else { return nil }
        return UnitHash.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}

/// `unit/<sha1>`.
public struct UnitBodyJSON: Codable, Equatable, Sendable {
    public var Raw: String

    public init(Raw: String) { self.Raw = Raw }
}

/// `machines/<id>/object`, written by agents.
public struct MachineObjectJSON: Codable, Equatable, Sendable {
    public var ID: String
    public var PublicIP: String?
    public var Metadata: [String: String]?
    /// Flotilla: where the agent serves its own API (journal), so clients can reach it.
    public var AgentURL: String?
    public var Version: String?

    public init(ID: String, PublicIP: String? = nil, Metadata: [String: String]? = nil, AgentURL: String? = nil, Version: String? = nil) {
        self.ID = ID
        self.PublicIP = PublicIP
        self.Metadata = Metadata
        self.AgentURL = AgentURL
        self.Version = Version
    }
}

/// `schedule/<machine>/<unit>`: what the agent on that machine must do with the unit.
public struct ScheduleEntryJSON: Codable, Equatable, Sendable {
    public var hash: String
    public var desiredState: String

    public init(hash: String, desiredState: TargetState) {
        self.hash = hash
        self.desiredState = desiredState.rawValue
    }
}

/// `states/<unit>/<machine>`, published by the agent that runs the unit. fleet's fields, plus the
/// cluster-level state the agent reached (`currentState`) and the process facts systemd would show.
public struct UnitStateJSON: Codable, Equatable, Sendable {
    public struct MachineState: Codable, Equatable, Sendable {
        public var ID: String
        public init(ID: String) { self.ID = ID }
    }

    public var loadState: String
    public var activeState: String
    public var subState: String
    public var machineState: MachineState?
    public var unitHash: String
    public var currentState: String?
    public var mainPID: Int?
    public var execMainStatus: Int?

    public init(
        loadState: String, activeState: String, subState: String, machineID: String, unitHash: String,
        currentState: TargetState? = nil, mainPID: Int? = nil, execMainStatus: Int? = nil
    ) {
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
        self.machineState = MachineState(ID: machineID)
        self.unitHash = unitHash
        self.currentState = currentState?.rawValue
        self.mainPID = mainPID
        self.execMainStatus = execMainStatus
    }
}

public enum RegistryJSON {
    public static func decode<Value: Decodable>(_ type: Value.Type, from text: String) -> Value? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    public static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Encoding these plain records cannot fail.
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }
}

extension UInt8 {
    /// Bytes of a 40-digit hex SHA-1, for fleet's `UnitHash` array.
    public static func bytes(fromHex hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
