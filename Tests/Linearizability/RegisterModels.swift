/// One register that can be read and overwritten; `nil` is the absent key.
public struct RegisterModel: Model, Sendable {
    public enum Input: Hashable, Sendable, CustomStringConvertible {
        case read
        case write(String)

        public var description: String {
            switch self {
            case .read: "read"
            case .write(let value): "write(\(quoted(value)))"
            }
        }
    }

    public enum Output: Hashable, Sendable, CustomStringConvertible {
        /// The value read; nil when the key is absent.
        case read(String?)
        case ok

        public var description: String {
            switch self {
            case .read(let value): quoted(value)
            case .ok: "ok"
            }
        }
    }

    public let initial: String?

    public init(initial: String? = nil) {
        self.initial = initial
    }

    public func step(_ state: String?, _ input: Input, _ output: Output?) -> [String?] {
        switch (input, output) {
        case (.read, nil): [state]
        case (.read, .read(let seen)): seen == state ? [state] : []
        case (.write(let value), nil), (.write(let value), .ok): [value]
        case (.read, .ok), (.write, .read): []
        }
    }

    public func isReadOnly(_ input: Input) -> Bool { input == .read }

    public func describe(_ state: String?) -> String { quoted(state) }
}

/// One key of an etcd v2 store: get, set, compare-and-swap on `prevValue`, delete.
///
/// Answers follow etcd: a CAS whose `prevValue` differs fails with error 101 (`casFailed`) and changes
/// nothing; a CAS or delete on an absent key fails with error 100 (`notFound`).
public struct CASRegisterModel: Model, Sendable {
    public enum Input: Hashable, Sendable, CustomStringConvertible {
        case read
        case write(String)
        case compareAndSwap(expected: String, new: String)
        case delete

        public var description: String {
            switch self {
            case .read: "read"
            case .write(let value): "write(\(quoted(value)))"
            case .compareAndSwap(let expected, let new): "compareAndSwap(\(quoted(expected)), \(quoted(new)))"
            case .delete: "delete"
            }
        }
    }

    public enum Output: Hashable, Sendable, CustomStringConvertible {
        /// The value read; nil when the key is absent.
        case read(String?)
        case ok
        /// etcd error 101, "Compare failed".
        case casFailed
        /// etcd error 100, "Key not found".
        case notFound

        public var description: String {
            switch self {
            case .read(let value): quoted(value)
            case .ok: "ok"
            case .casFailed: "casFailed"
            case .notFound: "notFound"
            }
        }
    }

    public let initial: String?

    public init(initial: String? = nil) {
        self.initial = initial
    }

    public func step(_ state: String?, _ input: Input, _ output: Output?) -> [String?] {
        // The register is deterministic: work out the one true answer, then compare it with what was seen.
        let (answer, next) = apply(state, input)
        guard let output else { return [next] }
        if output == answer { return [next] }
        // A client of etcd v2 that reads an absent key gets error 100 rather than an empty value; accept
        // either spelling so the recorder can pass the error through.
        if case .read = input, state == nil, output == .notFound { return [next] }
        return []
    }

    public func isReadOnly(_ input: Input) -> Bool { input == .read }

    public func describe(_ state: String?) -> String { quoted(state) }

    private func apply(_ state: String?, _ input: Input) -> (Output, String?) {
        switch input {
        case .read:
            return (.read(state), state)
        case .write(let value):
            return (.ok, value)
        case .compareAndSwap(let expected, let new):
            guard let current = state else { return (.notFound, nil) }
            return current == expected ? (.ok, new) : (.casFailed, current)
        case .delete:
            return state == nil ? (.notFound, nil) : (.ok, nil)
        }
    }
}

/// Values are shown as Swift string literals so that "" and " x" stay visible; nil is an absent key.
func quoted(_ value: String?) -> String {
    value.map { String(reflecting: $0) } ?? "absent"
}
