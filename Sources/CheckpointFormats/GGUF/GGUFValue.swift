/// The metadata value types of GGUF (ids as in the spec; formats.md §2.3).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    /// The spec's name, as gguf-py and ggml print it (`UINT32`, `STRING`...).
    public var name: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }

    /// Bytes of one value of a fixed-size type; nil for strings and arrays.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// One typed metadata value. Floats keep their exact bits (NaN payloads included); strings are bytes,
/// because GGUF does not promise UTF-8 (token tables hold byte tokens).
public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string([UInt8])
    case array(GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    public static func string(_ text: String) -> GGUFValue { .string(Array(text.utf8)) }

    /// The text of a string value when it is valid UTF-8.
    public var text: String? {
        guard case let .string(bytes) = self else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// An integer value of any integer type, when it fits in `Int`.
    public var integer: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// A float32 or float64 value as a Double.
    public var real: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return nil
        }
    }

    /// Floats compare by bits, so that a value read and written back is "equal" even when it is NaN.
    public static func == (lhs: GGUFValue, rhs: GGUFValue) -> Bool {
        switch (lhs, rhs) {
        case let (.uint8(a), .uint8(b)): return a == b
        case let (.int8(a), .int8(b)): return a == b
        case let (.uint16(a), .uint16(b)): return a == b
        case let (.int16(a), .int16(b)): return a == b
        case let (.uint32(a), .uint32(b)): return a == b
        case let (.int32(a), .int32(b)): return a == b
        case let (.float32(a), .float32(b)): return a.bitPattern == b.bitPattern
        case let (.bool(a), .bool(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.uint64(a), .uint64(b)): return a == b
        case let (.int64(a), .int64(b)): return a == b
        case let (.float64(a), .float64(b)): return a.bitPattern == b.bitPattern
        default: return false
        }
    }
}

/// An array value: its element type (itself possibly `.array`) and the elements.
public struct GGUFArray: Sendable, Equatable {
    public var elementType: GGUFValueType
    public var values: [GGUFValue]

    public init(elementType: GGUFValueType, values: [GGUFValue]) {
        self.elementType = elementType
        self.values = values
    }

    /// Whether any element is itself an array (ggml, hence llama.cpp, refuses such files).
    public var isNested: Bool { elementType == .array }
}

/// One metadata entry. Keys are text: the spec makes them ASCII, and a key that is not UTF-8 is refused
/// at read.
public struct GGUFKeyValue: Sendable, Equatable {
    public var key: String
    public var value: GGUFValue

    public init(_ key: String, _ value: GGUFValue) {
        self.key = key
        self.value = value
    }
}

/// The ordered key/values of a GGUF file, with lookups by key (bytes compared, not Unicode-equivalence).
public struct GGUFMetadata: Sendable, Equatable {
    public var entries: [GGUFKeyValue]

    public init(_ entries: [GGUFKeyValue] = []) { self.entries = entries }

    public subscript(key: String) -> GGUFValue? {
        let bytes = Array(key.utf8)
        return entries.first { Array($0.key.utf8) == bytes }?.value
    }

    /// Replaces the value of `key` where it stands, or appends it (gguf-py's `add_key_value` semantics).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        let bytes = Array(key.utf8)
        if let index = entries.firstIndex(where: { Array($0.key.utf8) == bytes }) {
            entries[index].value = value
        } else {
            entries.append(GGUFKeyValue(key, value))
        }
    }

    public mutating func remove(_ key: String) {
        let bytes = Array(key.utf8)
        entries.removeAll { Array($0.key.utf8) == bytes }
    }

    /// The padding unit this metadata asks for (`general.alignment` when it is a u32, else 32).
    public var alignment: Int {
        if case let .uint32(value)? = self[GGUFConstants.Key.alignment], value > 0, value & (value - 1) == 0 {
            return Int(value)
        }
        return GGUFConstants.defaultAlignment
    }

    /// Keys whose value is an array of arrays: files with them load in gguf-py but not in llama.cpp.
    public var nestedArrayKeys: [String] {
        entries.compactMap { entry in
            if case let .array(array) = entry.value, array.isNested { return entry.key }
            return nil
        }
    }
}
