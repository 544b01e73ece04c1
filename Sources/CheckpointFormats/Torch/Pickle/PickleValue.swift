import CheckpointCore

/// A value built by the pickle machine. Only data: primitives, containers, references to the few
/// globals the machine allows, and the torch storages and tensors it interprets. Nothing here can run.
public enum PickleValue: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case object(PickleObject)
    case global(PickleGlobal)
    case storage(TorchStorage)
    case tensor(TorchTensor)

    /// Container nesting below this value (0 for scalars).
    var depth: Int {
        if case let .object(object) = self { return object.depth }
        return 0
    }

    /// A short description for reports and errors ("int 3", "dict of 4 items").
    public var summary: String {
        switch self {
        case .none: return "None"
        case let .bool(value): return "bool \(value ? "True" : "False")"
        case let .int(value): return "int \(value)"
        case let .float(value): return "float \(value)"
        case let .string(value): return "str '\(escapedForTerminal(String(value.prefix(60))))'"
        case let .bytes(value): return "bytes (\(value.count))"
        case let .object(object): return object.summary
        case let .global(global): return "global \(global.qualifiedName)"
        case let .storage(storage): return "storage \(storage.key)"
        case let .tensor(tensor): return "tensor \(tensor.dtype.userName) \(tensor.shape)"
        }
    }
}

/// A mutable container of the pickle (list, dict, set, tuple). Containers are reference types
/// because pickles fill them after memoizing them. A container placed inside another is sealed: it
/// can no longer change, which keeps recorded depths true and makes cycles impossible (the pickler
/// never mutates a container after storing it in its parent).
public final class PickleObject: @unchecked Sendable {
    public enum Kind: Sendable {
        case list, tuple, dict, orderedDict, set
    }

    public let kind: Kind
    public internal(set) var items: [PickleValue] = []
    /// Keys and values of dicts, in insertion order.
    public internal(set) var pairs: [(key: PickleValue, value: PickleValue)] = []
    /// Instance attributes set by BUILD (an OrderedDict's `_metadata`).
    public internal(set) var attributes: [(key: PickleValue, value: PickleValue)] = []
    private(set) var depth: Int = 1
    private(set) var sealed = false

    init(_ kind: Kind, items: [PickleValue] = []) {
        self.kind = kind
        self.items = items
        depth = 1 + (items.map(\.depth).max() ?? 0)
    }

    var isDict: Bool { kind == .dict || kind == .orderedDict }

    var summary: String {
        switch kind {
        case .list: return "list of \(items.count)"
        case .tuple: return "tuple of \(items.count)"
        case .set: return "set of \(items.count)"
        case .dict, .orderedDict: return "dict of \(pairs.count)"
        }
    }

    /// Adds `value` as a child: seals it and updates this container's depth.
    func adopt(_ value: PickleValue, limit: Int) throws(PickleError) {
        if case let .object(child) = value {
            if child === self { throw .cycle }
            child.sealed = true
        }
        depth = max(depth, value.depth + 1)
        if depth > limit { throw .tooDeep(limit: limit) }
    }

    func append(_ value: PickleValue, limit: Int) throws(PickleError) {
        guard !sealed else { throw .sealedMutation }
        try adopt(value, limit: limit)
        items.append(value)
    }

    func set(_ key: PickleValue, _ value: PickleValue, limit: Int) throws(PickleError) {
        guard !sealed else { throw .sealedMutation }
        try adopt(key, limit: limit)
        try adopt(value, limit: limit)
        pairs.append((key, value))
    }

    func setAttribute(_ key: PickleValue, _ value: PickleValue, limit: Int) throws(PickleError) {
        guard !sealed else { throw .sealedMutation }
        try adopt(value, limit: limit)
        attributes.append((key, value))
    }

    /// The value for a string key (the last one set, as a Python dict would keep).
    public func value(forKey key: String) -> PickleValue? {
        pairs.last { if case let .string(text) = $0.key { return text.utf8.elementsEqual(key.utf8) } else { return false } }?.value
    }
}
