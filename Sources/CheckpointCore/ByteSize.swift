/// Byte sizes as users write them, with huggingface_hub's convention: decimal units (`5GB` =
/// 5,000,000,000) and binary units (`5GiB` = 5·2^30); a bare number is bytes.
public enum ByteSize {
    private static let units: [(String, Double)] = [
        ("kib", 1024), ("mib", 1024 * 1024), ("gib", 1024 * 1024 * 1024), ("tib", 1024 * 1024 * 1024 * 1024),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1),
    ]

    /// Parses `5GB`, `500MiB`, `1.5G`, `1048576`; nil when it is not a positive size.
    public static func parse(_ text: String) -> Int? {
        let lowered = text.lowercased().filter { $0 != " " && $0 != "_" }
        var multiplier = 1.0
        var number = Substring(lowered)
        for (suffix, factor) in units where lowered.hasSuffix(suffix) {
            multiplier = factor
            number = lowered.dropLast(suffix.count)
            break
        }
        guard let value = Double(number), value.isFinite, value > 0 else { return nil }
        let bytes = (value * multiplier).rounded()
        guard bytes >= 1, bytes < 9.0e18 else { return nil }
        return Int(bytes)
    }

    /// `1.23 GB` style, decimal units (matching `parse`'s default reading).
    public static func describe(_ bytes: Int) -> String {
        let value = Double(bytes)
        for (unit, factor) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)] where value >= factor {
            let scaled = value / factor
            return scaled >= 100 ? "\(Int(scaled.rounded())) \(unit)" : "\(formatted(scaled, decimals: 2)) \(unit)"
        }
        return "\(bytes) B"
    }

    /// Fixed-point formatting without Foundation.
    public static func formatted(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value.magnitude * scale).rounded()
        guard scaled < 9.0e18 else { return "\(value)" }
        let integer = Int(scaled)
        let whole = integer / Int(scale)
        let fraction = integer % Int(scale)
        var text = value < 0 && integer != 0 ? "-\(whole)" : "\(whole)"
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }
}
