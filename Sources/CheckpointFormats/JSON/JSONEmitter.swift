/// Writes JSON text in the two dialects checkpoint files use, byte for byte:
/// - `.compact`: serde_json's `to_string` (safetensors headers): no spaces; `"`, `\`, and control
///   characters escaped (`\b \f \n \r \t`, others `\u00xx`); `/`, DEL and non-ASCII written raw.
/// - `.python(indent:)`: Python's `json.dumps(..., indent=n)` (index files): `", "`→`","` at line
///   ends, `": "` between key and value, non-ASCII escaped as `\uXXXX` (surrogate pairs above U+FFFF).
public struct JSONEmitter {
    public enum Style: Sendable {
        case compact
        case python(indent: Int)
    }

    public let style: Style

    public init(style: Style) { self.style = style }

    public func text(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        emit(value, level: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        emit(value, level: 0, into: &out)
        return out
    }

    public func emit(_ value: JSONValue, level: Int, into out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case let .bool(flag): out += Array((flag ? "true" : "false").utf8)
        case let .number(text): out += Array(text.utf8)
        case let .string(text): appendString(text, to: &out)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1, &out)
                emit(item, level: level + 1, into: &out)
            }
            if !items.isEmpty { newline(level, &out) }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1, &out)
                appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                if case .python = style { out.append(UInt8(ascii: " ")) }
                emit(member.value, level: level + 1, into: &out)
            }
            if !members.isEmpty { newline(level, &out) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private func newline(_ level: Int, _ out: inout [UInt8]) {
        guard case let .python(indent) = style else { return }
        out.append(0x0A)
        out += [UInt8](repeating: 0x20, count: indent * level)
    }

    private func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let asciiOnly: Bool
        if case .python = style { asciiOnly = true } else { asciiOnly = false }
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x00..<0x20: appendUnicodeEscape(UInt16(scalar.value), to: &out)
            case 0x7F where asciiOnly: appendUnicodeEscape(0x7F, to: &out)
            case 0x80... where asciiOnly:
                for unit in String(Character(scalar)).utf16 { appendUnicodeEscape(unit, to: &out) }
            default: out += Array(String(Character(scalar)).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private func appendUnicodeEscape(_ unit: UInt16, to out: inout [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        out += [0x5C, UInt8(ascii: "u")]
        for shift in stride(from: 12, through: 0, by: -4) { out.append(digits[Int((unit >> UInt16(shift)) & 0xF)]) }
    }
}
