import CheckpointCore

/// Number and table formatting for reports.
enum Numbers {
    /// `1234567` → `1,234,567`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(character)
        }
        return value < 0 ? "-" + out : out
    }

    /// `1234567890` → `1.23 B` (parameter counts as ML people say them).
    static func short(_ value: Int) -> String {
        let number = Double(value)
        for (suffix, scale) in [("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)] where number >= scale {
            return ByteSize.formatted(number / scale, decimals: 2) + " " + suffix
        }
        return String(value)
    }

    /// Long metadata values (a JSON config, a tokenizer) cut for the text summary.
    static func abbreviated(_ text: String, limit: Int = 120) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "… (\(text.utf8.count) bytes)"
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ rows: [[String]]) -> String {
        guard let width = rows.first?.count else { return "" }
        var widths = [Int](repeating: 0, count: width)
        for row in rows { for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) } }
        var out = ""
        for row in rows {
            let cells = row.enumerated().map { column, cell in column == row.count - 1 ? cell : cell.padding(widths[column]) }
            out += cells.joined(separator: "  ") + "\n"
        }
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
