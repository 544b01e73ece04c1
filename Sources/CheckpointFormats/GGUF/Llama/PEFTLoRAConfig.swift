import CheckpointCore

/// The parts of a PEFT `adapter_config.json` that fix a LoRA's scale: r, lora_alpha, use_rslora and
/// the per-module rank_pattern / alpha_pattern (a key matches a module when, as a regex, it matches
/// the end of the module path at a `.` boundary; the first matching key in file order wins).
public struct PEFTLoRAConfig: Sendable {
    public var rank: Int
    public var alpha: Double
    public var useRSLoRA: Bool
    public var useDoRA: Bool
    public var rankPattern: [(key: String, value: Double)]
    public var alphaPattern: [(key: String, value: Double)]
    public var baseModel: String?

    public static func isAdapterFolder(_ path: String) -> Bool {
        FolderListing.isFolder(path) && FolderListing.names(in: path).contains("adapter_config.json")
    }

    public init(folder: String) throws {
        let file = Paths.join(folder, "adapter_config.json")
        let handle = try ReadOnlyFile(path: file)
        let json: JSONValue
        do { json = try JSONParser.parse(try handle.read(at: 0, count: handle.size)) } catch {
            throw LlamaConfig.ConfigError(file: file, reason: "not valid JSON: \(error)")
        }
        func number(_ value: JSONValue?) -> Double? {
            if case let .number(text)? = value { return Double(text) }
            return nil
        }
        func pattern(_ key: String) -> [(key: String, value: Double)] {
            guard case let .object(members)? = json[key] else { return [] }
            return members.compactMap { member in number(member.value).map { (member.key, $0) } }
        }
        guard let rank = json["r"]?.nonNegativeInteger, rank > 0 else {
            throw LlamaConfig.ConfigError(file: file, reason: "r is missing or not a positive integer")
        }
        self.rank = rank
        alpha = number(json["lora_alpha"]) ?? Double(rank)
        useRSLoRA = json["use_rslora"] == .bool(true)
        useDoRA = json["use_dora"] == .bool(true)
        rankPattern = pattern("rank_pattern")
        alphaPattern = pattern("alpha_pattern")
        baseModel = json["base_model_name_or_path"]?.stringValue
    }

    /// The first pattern value whose key matches `module` (a dotted module path).
    static func match(_ patterns: [(key: String, value: Double)], _ module: String) -> Double? {
        for (key, value) in patterns {
            guard let regex = try? Regex("(.*\\.)?(\(key))") else { continue }
            if (try? regex.wholeMatch(in: module)) != nil { return value }
        }
        return nil
    }

    /// PEFT's scale for `module` with the rank its tensors have.
    public func scale(module: String, rank actualRank: Int) -> Double {
        let moduleAlpha = Self.match(alphaPattern, module) ?? alpha
        return useRSLoRA ? moduleAlpha / Double(actualRank).squareRoot() : moduleAlpha / Double(actualRank)
    }

    /// The one `adapter.lora.alpha` that reproduces PEFT's scale in llama.cpp (scale = alpha / rank) for
    /// the modules without patterns: α, or α·√r for rsLoRA.
    public var ggufAlpha: Double {
        useRSLoRA ? alpha * Double(rank).squareRoot() : alpha
    }
}
