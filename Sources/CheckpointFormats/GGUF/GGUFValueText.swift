import CheckpointCore

/// How GGUF values are shown to people (`ckpt inspect`) and in JSON reports.
///
/// Strings are bytes: valid UTF-8 is shown as text; a string that is not UTF-8 shows each invalid
/// byte as `\xNN` and each backslash as `\\`, so that the text stays unambiguous.
extension GGUFValue {
    /// The bytes as text, invalid UTF-8 bytes escaped as `\xNN` (and `\` as `\\` in that case).
    /// `valid` transforms the text of valid parts (terminal escaping for display).
    public static func escapedText(_ bytes: [UInt8], valid: (String) -> String = { $0 }) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return valid(text) }
        var out = ""
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0
            if length > 0, index + length <= bytes.count,
               let scalar = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                out += scalar == "\\" ? "\\\\" : valid(scalar)
                index += length
            } else {
                let hex = String(lead, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                index += 1
            }
        }
        return out
    }

    /// The type as shown: `UINT32`, `ARRAY[STRING]`, `ARRAY[ARRAY[INT32]]`.
    public var typeName: String {
        guard case let .array(array) = self else { return type.name }
        let inner = array.values.first.map(\.typeName) ?? (array.elementType == .array ? "ARRAY[?]" : array.elementType.name)
        return "ARRAY[\(inner)]"
    }

    /// One line for people: strings quoted, long arrays cut after `limit` elements with a count.
    public func summary(limit: Int = 8, stringLimit: Int = 120) -> String {
        switch self {
        case let .string(bytes):
            var text = Self.escapedText(bytes, valid: escapedForTerminal)
            if text.count > stringLimit { text = String(text.prefix(stringLimit)) + "…" }
            return "\"" + text + "\""
        case let .array(array):
            let shown = array.values.prefix(limit).map { $0.summary(limit: max(2, limit / 2), stringLimit: 40) }
            let more = array.values.count > limit ? ", … (\(array.values.count) elements)" : ""
            return "[" + shown.joined(separator: ", ") + more + "]"
        case let .float32(v): return Self.realText(Double(v), description: v.description)
        case let .float64(v): return Self.realText(v, description: v.description)
        case let .bool(v): return v ? "true" : "false"
        default: return integer.map(String.init) ?? (self.uint64Text ?? "")
        }
    }

    private var uint64Text: String? {
        if case let .uint64(v) = self { return String(v) }
        return nil
    }

    private static func realText(_ value: Double, description: String) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return description
    }

    /// The complete value as JSON: numbers as numbers (non-finite floats as the strings `"nan"`,
    /// `"inf"`, `"-inf"`), strings per `escapedText`, arrays as arrays.
    public var json: JSONValue {
        switch self {
        case let .string(bytes): return .string(Self.escapedText(bytes))
        case let .array(array): return .array(array.values.map(\.json))
        case let .bool(v): return .bool(v)
        case let .float32(v): return v.isFinite ? .number(v.description) : .string(Self.realText(Double(v), description: ""))
        case let .float64(v): return v.isFinite ? .number(v.description) : .string(Self.realText(v, description: ""))
        case let .uint64(v): return .number(String(v))
        default: return .number(integer.map(String.init) ?? "0")
        }
    }
}
