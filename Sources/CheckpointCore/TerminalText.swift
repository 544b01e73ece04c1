/// Makes a string read from a file safe to print: control characters (C0, DEL, C1) and lone escape
/// sequences cannot reach the terminal. Printable Unicode is kept as it is.
public func escapedForTerminal(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar.value {
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        case 0x5C: out += "\\\\"
        case 0x00..<0x20, 0x7F, 0x80..<0xA0:
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
