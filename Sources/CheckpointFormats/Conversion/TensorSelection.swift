import CheckpointCore

/// Which tensors a conversion keeps and what it calls them: `--include` / `--exclude` regexes (a name
/// is kept when it matches any include, or there are none, and matches no exclude) and `--rename
/// FROM=TO` rules applied in order, with `$1`…`$9` (or `\1`) in TO standing for FROM's groups.
public struct TensorSelection: @unchecked Sendable {
    public struct PatternError: Error, CustomStringConvertible {
        public let option: String
        public let pattern: String
        public let reason: String
        public var description: String { "\(option) '\(escapedForTerminal(pattern))' is not a valid regular expression: \(reason)" }
    }

    private let include: [Regex<AnyRegexOutput>]
    private let exclude: [Regex<AnyRegexOutput>]
    private let renames: [(Regex<AnyRegexOutput>, String)]

    public init(include: [String] = [], exclude: [String] = [], renames: [String] = []) throws {
        func compile(_ pattern: String, _ option: String) throws -> Regex<AnyRegexOutput> {
            do { return try Regex(pattern) } catch { throw PatternError(option: option, pattern: pattern, reason: "\(error)") }
        }
        self.include = try include.map { try compile($0, "--include") }
        self.exclude = try exclude.map { try compile($0, "--exclude") }
        self.renames = try renames.map { rule in
            guard let equals = rule.firstIndex(of: "=") else {
                throw PatternError(option: "--rename", pattern: rule, reason: "expected FROM=TO")
            }
            return (try compile(String(rule[..<equals]), "--rename"), String(rule[rule.index(after: equals)...]))
        }
    }

    public var isIdentity: Bool { include.isEmpty && exclude.isEmpty && renames.isEmpty }

    /// Whether `name` is kept.
    public func keeps(_ name: String) -> Bool {
        if !include.isEmpty && !include.contains(where: { name.contains($0) }) { return false }
        return !exclude.contains { name.contains($0) }
    }

    /// `name` after every rename rule.
    public func rename(_ name: String) -> String {
        var result = name
        for (pattern, template) in renames {
            result = result.replacing(pattern) { match in TensorSelection.expand(template, match) }
        }
        return result
    }

    private static func expand(_ template: String, _ match: Regex<AnyRegexOutput>.Match) -> String {
        var out = ""
        var characters = Array(template)
        var index = 0
        characters.append("\0")
        while index < characters.count - 1 {
            let character = characters[index]
            if (character == "$" || character == "\\"), let digit = characters[index + 1].wholeNumberValue, digit < match.output.count {
                out += match.output[digit].substring.map(String.init) ?? ""
                index += 2
                continue
            }
            out.append(character)
            index += 1
        }
        return out
    }
}
