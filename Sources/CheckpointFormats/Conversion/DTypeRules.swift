import CheckpointCore

/// `--dtype-map REGEX=TYPE` rules: the first rule whose regex matches a tensor name (anywhere in it)
/// chooses that tensor's output type, before `--dtype`.
public struct DTypeRules: @unchecked Sendable {
    public struct RuleError: Error, CustomStringConvertible {
        public let rule: String
        public let reason: String
        public var description: String { "--dtype-map '\(escapedForTerminal(rule))': \(reason)" }
    }

    private let rules: [(Regex<AnyRegexOutput>, DType)]

    public init() { rules = [] }

    public init(_ texts: [String]) throws {
        rules = try texts.map { text in
            guard let equals = text.lastIndex(of: "=") else { throw RuleError(rule: text, reason: "expected REGEX=TYPE") }
            let typeName = String(text[text.index(after: equals)...])
            guard let type = DType(userName: typeName) else { throw RuleError(rule: text, reason: "'\(typeName)' is not a dtype") }
            do { return (try Regex(String(text[..<equals])), type) } catch {
                throw RuleError(rule: text, reason: "not a valid regular expression: \(error)")
            }
        }
    }

    public var types: [DType] { rules.map(\.1) }

    public func dtype(for name: String) -> DType? {
        rules.first { name.contains($0.0) }?.1
    }
}
