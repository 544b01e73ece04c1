import CheckpointCore

/// The state dict inside an unpickled checkpoint: the dict chosen (by `--key` or by the rules below),
/// its tensors flattened to dotted names in order, and what else the file holds (reported, skipped).
///
/// Choice without a key: the top-level dict when it holds tensors directly; otherwise its only child
/// dict that holds tensors, or, among several, the first of the usual names (`state_dict`,
/// `model_state_dict`, `model`, `module`, `net`, `network`, `params`, `weights`, `ema`).
public struct TorchStateDict: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var tensor: TorchTensor
    }

    public var entries: [Entry] = []
    /// Other content as (dotted path, description), in file order.
    public var otherContent: [(path: String, summary: String)] = []
    /// The path of the chosen dict ("" for the top level).
    public var key: String = ""

    static let preferredKeys = ["state_dict", "model_state_dict", "model", "module", "net", "network", "params", "weights", "ema"]
    /// Nodes visited while flattening; bounds graphs that reuse memoized containers exponentially.
    static let maxVisits = 2_000_000

    public static func select(from root: PickleValue, key: String?, file: String) throws -> TorchStateDict {
        var result = TorchStateDict()
        var visits = 0
        guard case let .object(top) = root, top.isDict else {
            if case let .tensor(tensor) = root {
                result.entries = [Entry(name: "tensor", tensor: tensor)]
                return result
            }
            throw TorchError.noStateDict(file: file, candidates: [])
        }
        var chosen = top
        var path = ""
        if let key, !key.isEmpty {
            var remaining = Substring(key)
            var current = top
            while !remaining.isEmpty {
                let names = current.pairs.map { keyText($0.key) }
                // The longest key that is all of `remaining` or a dotted prefix of it (keys may contain dots).
                guard let match = current.pairs.filter({ pair in
                    let name = keyText(pair.key)
                    return remaining == name || remaining.hasPrefix(name + ".")
                }).max(by: { keyText($0.key).count < keyText($1.key).count }) else {
                    throw TorchError.keyNotFound(file: file, key: key, available: names)
                }
                let name = keyText(match.key)
                remaining = remaining.dropFirst(name.count)
                if remaining.hasPrefix(".") { remaining = remaining.dropFirst() }
                path += (path.isEmpty ? "" : ".") + name
                guard case let .object(next) = match.value, next.isDict else {
                    throw TorchError.keyNotADict(file: file, key: path, found: match.value.summary)
                }
                current = next
            }
            chosen = current
        } else if !top.pairs.contains(where: { if case .tensor = $0.value { return true } else { return false } }) {
            var candidates: [(String, PickleObject)] = []
            for pair in top.pairs {
                if case let .object(child) = pair.value, child.isDict, try countTensors(.object(child), &visits) > 0 {
                    candidates.append((keyText(pair.key), child))
                }
            }
            if candidates.count == 1 {
                (path, chosen) = candidates[0]
            } else if let preferred = preferredKeys.lazy.compactMap({ name in candidates.first { $0.0 == name } }).first {
                (path, chosen) = preferred
            } else {
                throw TorchError.noStateDict(file: file, candidates: candidates.map(\.0))
            }
        }
        result.key = path
        var seen = Set<[UInt8]>()
        try flatten(chosen, prefix: "", into: &result, seen: &seen, visits: &visits)
        if !path.isEmpty {
            try describeOthers(top, chosenPath: path, prefix: "", into: &result, visits: &visits)
        }
        return result
    }

    static func keyText(_ key: PickleValue) -> String {
        switch key {
        case let .string(text): return text
        case let .int(number): return String(number)
        default: return key.summary
        }
    }

    private static func visit(_ visits: inout Int) throws {
        visits += 1
        if visits > maxVisits { throw PickleError.tooManyObjects(limit: maxVisits) }
    }

    private static func flatten(_ dict: PickleObject, prefix: String, into result: inout TorchStateDict, seen: inout Set<[UInt8]>, visits: inout Int) throws {
        for pair in dict.pairs {
            try visit(&visits)
            let name = prefix + keyText(pair.key)
            switch pair.value {
            case let .tensor(tensor):
                if seen.insert(Array(name.utf8)).inserted {
                    result.entries.append(Entry(name: name, tensor: tensor))
                } else {
                    result.otherContent.append((name, "a second tensor with this name (skipped)"))
                }
            case let .object(child) where child.isDict:
                let before = result.entries.count
                try flatten(child, prefix: name + ".", into: &result, seen: &seen, visits: &visits)
                if result.entries.count == before && child.pairs.isEmpty { result.otherContent.append((name, "empty dict")) }
            default:
                result.otherContent.append((name, try describe(pair.value, &visits)))
            }
        }
    }

    private static func describeOthers(_ dict: PickleObject, chosenPath: String, prefix: String, into result: inout TorchStateDict, visits: inout Int) throws {
        for pair in dict.pairs {
            try visit(&visits)
            let name = prefix + keyText(pair.key)
            if name == chosenPath { continue }
            if chosenPath.hasPrefix(name + "."), case let .object(child) = pair.value, child.isDict {
                try describeOthers(child, chosenPath: chosenPath, prefix: name + ".", into: &result, visits: &visits)
                continue
            }
            result.otherContent.append((name, try describe(pair.value, &visits)))
        }
    }

    private static func describe(_ value: PickleValue, _ visits: inout Int) throws -> String {
        let tensors = try countTensors(value, &visits)
        return tensors > 0 ? "\(value.summary) holding \(tensors) tensor\(tensors == 1 ? "" : "s") (skipped)" : value.summary
    }

    private static func countTensors(_ value: PickleValue, _ visits: inout Int) throws -> Int {
        var known: [ObjectIdentifier: (tensors: Int, visits: Int)] = [:]
        return try countTensors(value, &visits, &known)
    }

    /// Counts as if every shared object were walked again (so an object bomb meets the same visit
    /// limit, with the same error), but walks each object once: a repeat adds its remembered visits
    /// (found by fuzzing: a memo-reuse bomb took seconds to reach the limit).
    private static func countTensors(_ value: PickleValue, _ visits: inout Int, _ known: inout [ObjectIdentifier: (tensors: Int, visits: Int)]) throws -> Int {
        guard case let .object(object) = value else {
            try visit(&visits)
            if case .tensor = value { return 1 }
            return 0
        }
        if let seen = known[ObjectIdentifier(object)] {
            let (total, overflow) = visits.addingReportingOverflow(seen.visits)
            visits = overflow ? Int.max : total
            if visits > maxVisits { throw PickleError.tooManyObjects(limit: maxVisits) }
            return seen.tensors
        }
        let start = visits
        try visit(&visits)
        var count = 0
        for item in object.items { count += try countTensors(item, &visits, &known) }  // ≤ visits ≤ maxVisits
        for pair in object.pairs { count += try countTensors(pair.value, &visits, &known) }
        known[ObjectIdentifier(object)] = (count, visits - start)
        return count
    }
}
