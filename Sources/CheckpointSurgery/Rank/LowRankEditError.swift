import CheckpointCore

/// Why a resize, extraction, MELoRA re-split or combination cannot go on; each message says what to do.
public enum LowRankEditError: Error, Sendable, CustomStringConvertible {
    case budgetTooSmall(bytes: Int, minimum: Int)
    case cannotResize(path: String, module: String, reason: String)
    case notDivisible(module: String, rows: Int, columns: Int, splits: Int, valid: [Int])
    case mismatchedModules(first: String, second: String, module: String, reason: String)
    case nothingToExtract(base: String, tuned: String)
    case layoutNotWritable(path: String, reason: String)

    public var description: String {
        func q(_ text: String) -> String { "'" + escapedForTerminal(text) + "'" }
        switch self {
        case let .budgetTooSmall(bytes, minimum):
            return "a budget of \(bytes) bytes is below the \(minimum) bytes one component per module takes; give a larger --budget"
        case let .cannotResize(path, module, reason):
            return "\(q(path)), module \(q(module)): \(reason)"
        case let .notDivisible(module, rows, columns, splits, valid):
            return "module \(q(module)) is \(rows)×\(columns), which \(splits) blocks do not divide; valid --splits for every module: \(valid.isEmpty ? "none above 1" : valid.map(String.init).joined(separator: ", "))"
        case let .mismatchedModules(first, second, module, reason):
            return "adapters \(q(first)) and \(q(second)) disagree on module \(q(module)): \(reason)"
        case let .nothingToExtract(base, tuned):
            return "no 2-D float tensor of \(q(tuned)) differs from \(q(base)) under the same name and shape; nothing to extract (are they the same model?)"
        case let .layoutNotWritable(path, reason):
            return "cannot write \(q(path)): \(reason)"
        }
    }
}
