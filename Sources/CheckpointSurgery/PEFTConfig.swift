import CheckpointCore
import CheckpointFormats

/// The fields of PEFT's adapter_config.json that decide what a merge computes.
public struct PEFTConfig: Sendable {
    public var path: String
    public var peftType: String
    /// Global rank and alpha; MELoRA's official layout gives lists (one entry per block).
    public var r: [Int]
    public var alpha: [Double]
    public var useRSLoRA: Bool
    /// Pattern keys in file order (PEFT's first match wins).
    public var rankPattern: [(key: String, value: Int)]
    public var alphaPattern: [(key: String, value: Double)]
    public var fanInFanOut: Bool
    public var useDoRA: Bool
    public var loraBias: Bool
    public var modulesToSave: [String]
    public var initLoRAWeights: String
    public var aloraInvocationTokens: Bool
    public var targetParameters: Bool

    public var isMELoRA: Bool { peftType.uppercased() == "MELORA" || r.count > 1 || alpha.count > 1 }

    public static func read(path: String) throws -> PEFTConfig {
        let file = try ReadOnlyFile(path: path)
        guard file.size <= 16 << 20 else { throw SurgeryError.adapterConfig(path: path, message: "larger than 16 MiB; not an adapter config") }
        let json: JSONValue
        do {
            json = try JSONParser.parse(try file.read(at: 0, count: file.size))
        } catch {
            throw SurgeryError.adapterConfig(path: path, message: "not valid JSON: \(error)")
        }
        guard case .object = json else { throw SurgeryError.adapterConfig(path: path, message: "the top level is \(json.kindName), not an object") }
        return try PEFTConfig(json: json, path: path)
    }

    init(json: JSONValue, path: String) throws {
        self.path = path
        func fail(_ message: String) -> SurgeryError { .adapterConfig(path: path, message: message) }
        func number(_ value: JSONValue, _ field: String) throws -> Double {
            guard case let .number(text) = value, let parsed = Double(text), parsed.isFinite else { throw fail("\(field) must be a number, found \(value.kindName)") }
            return parsed
        }
        func integer(_ value: JSONValue, _ field: String) throws -> Int {
            guard let parsed = value.nonNegativeInteger, parsed > 0 else { throw fail("\(field) must be a positive integer") }
            return parsed
        }
        func flag(_ field: String) throws -> Bool {
            switch json[field] {
            case nil, .null?: return false
            case let .bool(value)?: return value
            case let other?: throw fail("\(field) must be true or false, found \(other.kindName)")
            }
        }
        peftType = json["peft_type"]?.stringValue ?? "LORA"
        switch json["r"] {
        case nil: r = [8]
        case let .array(items)?: r = try items.map { try integer($0, "r") }
        case let value?: r = [try integer(value, "r")]
        }
        switch json["lora_alpha"] {
        case nil: alpha = [8]
        case let .array(items)?: alpha = try items.map { try number($0, "lora_alpha") }
        case let value?: alpha = [try number(value, "lora_alpha")]
        }
        guard !r.isEmpty, !alpha.isEmpty else { throw fail("r and lora_alpha must not be empty") }
        useRSLoRA = try flag("use_rslora")
        fanInFanOut = try flag("fan_in_fan_out")
        useDoRA = try flag("use_dora")
        loraBias = try flag("lora_bias")
        var ranks: [(String, Int)] = []
        if case let .object(members)? = json["rank_pattern"] {
            for member in members { ranks.append((member.key, try integer(member.value, "rank_pattern[\(member.key)]"))) }
        }
        rankPattern = ranks
        var alphas: [(String, Double)] = []
        if case let .object(members)? = json["alpha_pattern"] {
            for member in members { alphas.append((member.key, try number(member.value, "alpha_pattern[\(member.key)]"))) }
        }
        alphaPattern = alphas
        if case let .array(items)? = json["modules_to_save"] {
            modulesToSave = items.compactMap(\.stringValue)
        } else {
            modulesToSave = []
        }
        switch json["init_lora_weights"] {
        case let .string(text)?: initLoRAWeights = text
        case let .bool(value)?: initLoRAWeights = value ? "true" : "false"
        default: initLoRAWeights = "true"
        }
        if case .array? = json["alora_invocation_tokens"] { aloraInvocationTokens = true } else { aloraInvocationTokens = false }
        switch json["target_parameters"] {
        case .array(let items)? where !items.isEmpty: targetParameters = true
        default: targetParameters = false
        }
    }

    /// Refuses adapter kinds whose merge into the original base would be wrong.
    func checkMergeable(adapterPath: String) throws {
        if aloraInvocationTokens {
            throw SurgeryError.refusedAdapter(path: adapterPath, kind: "an activated LoRA (aLoRA)", reason: "it only acts on tokens after its invocation sequence, so no merged weight reproduces it")
        }
        let initMethod = initLoRAWeights.lowercased()
        for (prefix, name) in [("pissa", "PiSSA"), ("olora", "OLoRA"), ("corda", "CorDA")] where initMethod.hasPrefix(prefix) {
            throw SurgeryError.refusedAdapter(path: adapterPath, kind: "a \(name)-initialised adapter", reason: "\(name) subtracts its initial factors from the base weights, so the saved adapter only fits that modified base; convert it first with PEFT (save_pretrained(..., path_initial_model_for_weight_conversion=...)) into a plain LoRA")
        }
        if targetParameters {
            throw SurgeryError.unsupported(path: adapterPath, what: "a LoRA on target_parameters (3-D expert weights)")
        }
        guard peftType.uppercased() == "LORA" || isMELoRA else {
            throw SurgeryError.unsupported(path: adapterPath, what: "PEFT type \(peftType) (ckpt merges LORA adapters)")
        }
    }

    /// PEFT's pattern rule: key `k` matches module path `m` when the regex `(.*\.)?(k)$` matches `m`
    /// from its start; the first matching key in file order wins.
    static func firstMatch<T>(_ pattern: [(key: String, value: T)], module: String) -> T? {
        for entry in pattern {
            if entry.key == module { return entry.value }
            guard let regex = try? Regex("(.*\\.)?(\(entry.key))") else { continue }
            if (try? regex.wholeMatch(in: module)) != nil { return entry.value }
        }
        return nil
    }

    /// Rank and alpha of `module` after rank_pattern / alpha_pattern.
    func rankAndAlpha(module: String) -> (r: Int, alpha: Double) {
        (Self.firstMatch(rankPattern, module: module) ?? r[0], Self.firstMatch(alphaPattern, module: module) ?? alpha[0])
    }

    /// PEFT's scale α/r, or α/√r with rsLoRA (computed in Double, as PEFT does in Python).
    func scale(module: String) -> (r: Int, alpha: Double, scale: Double) {
        let (rank, alpha) = rankAndAlpha(module: module)
        let scale = useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)
        return (rank, alpha, scale)
    }
}
