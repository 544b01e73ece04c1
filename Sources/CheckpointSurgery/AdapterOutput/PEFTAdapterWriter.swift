import CheckpointCore
import CheckpointFormats

/// Writes a PEFT LoRA folder: `adapter_model.safetensors` (`base_model.model.<module>.lora_A.weight`
/// …) and `adapter_config.json` whose `r` / `lora_alpha` are the most common pair and whose
/// `rank_pattern` / `alpha_pattern` name every module that differs (full module paths, which PEFT's
/// pattern rule matches exactly).
public enum PEFTAdapterWriter {
    static let prefix = "base_model.model."

    /// `template` is the source adapter_config.json (its other fields are kept); nil writes a fresh one.
    public static func write(_ output: LoRAOutput, folder: String, template: JSONValue?, modulesToSave: [String] = [], overwrite: Bool) throws {
        var file = TensorFile(dtype: output.dtype)
        for module in output.modules {
            let base = prefix + module.module
            switch module.kind {
            case .embedding:
                try file.add(base + ".lora_embedding_A", shape: [module.rank, module.a.columns], values: module.a.elements)
                try file.add(base + ".lora_embedding_B", shape: [module.b.rows, module.rank], values: module.b.elements)
            case .linear, .convolution:
                let kernel = module.kind == .convolution ? module.kernel : []
                let kernelSize = max(kernel.reduce(1, *), 1)
                try file.add(base + ".lora_A.weight", shape: [module.rank, module.a.columns / kernelSize] + kernel, values: module.a.elements)
                try file.add(base + ".lora_B.weight", shape: [module.b.rows, module.rank] + kernel.map { _ in 1 }, values: module.b.elements)
            }
            if let bias = module.bias { try file.add(base + ".lora_B.bias", shape: [bias.count], values: bias.map { Float($0) }) }
        }
        for tensor in output.passThrough { try file.copy(tensor) }
        for tensor in output.wholeTensors { try file.add(tensor.name, shape: tensor.shape, values: tensor.values) }
        try Folders.create(folder)
        let config = configuration(output, template: template, modulesToSave: modulesToSave)
        // Tensors first: a folder with a config but no weights would look like a complete adapter.
        try file.write(to: Paths.join(folder, "adapter_model.safetensors"), metadata: [("format", "pt")], overwrite: overwrite)
        let json = AtomicOutputText(path: Paths.join(folder, "adapter_config.json"))
        try json.write(JSONEmitter(style: .python(indent: 2)).text(config) + "\n", overwrite: overwrite)
    }

    static func configuration(_ output: LoRAOutput, template: JSONValue?, modulesToSave: [String]) -> JSONValue {
        // The most common (r, alpha) becomes the default; ties go to the first seen.
        var counts: [String: (r: Int, alpha: Double, count: Int, first: Int)] = [:]
        for (index, module) in output.modules.enumerated() {
            let key = "\(module.rank)/\(module.alpha)"
            var entry = counts[key] ?? (module.rank, module.alpha, 0, index)
            entry.count += 1
            counts[key] = entry
        }
        let common = counts.values.max { ($0.count, -$0.first) < ($1.count, -$1.first) }
        let r = common?.r ?? 8, alpha = common?.alpha ?? 8
        var rankPattern: [JSONMember] = [], alphaPattern: [JSONMember] = []
        for module in output.modules {
            if module.rank != r { rankPattern.append(JSONMember(module.module, .number(String(module.rank)))) }
            if module.alpha != alpha { alphaPattern.append(JSONMember(module.module, number(module.alpha))) }
        }
        let targets = JSONValue.array(output.modules.map { .string($0.module) })
        var members: [JSONMember]
        if case let .object(existing)? = template {
            members = existing
        } else {
            members = [JSONMember("peft_type", .string("LORA")), JSONMember("task_type", .null), JSONMember("base_model_name_or_path", .null),
                       JSONMember("bias", .string("none")), JSONMember("fan_in_fan_out", .bool(false)), JSONMember("inference_mode", .bool(true)),
                       JSONMember("init_lora_weights", .bool(true)), JSONMember("lora_dropout", .number("0.0")), JSONMember("use_dora", .bool(false)),
                       JSONMember("use_rslora", .bool(output.useRSLoRA))]
        }
        func set(_ key: String, _ value: JSONValue) {
            if let index = members.firstIndex(where: { $0.key == key }) { members[index].value = value } else { members.append(JSONMember(key, value)) }
        }
        set("r", .number(String(r)))
        set("lora_alpha", number(alpha))
        set("rank_pattern", .object(rankPattern))
        set("alpha_pattern", .object(alphaPattern))
        if template == nil { set("target_modules", targets) }
        if !modulesToSave.isEmpty { set("modules_to_save", .array(modulesToSave.map { .string($0) })) }
        return .object(members)
    }

    static func number(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded(), value.magnitude < 1e15 { return .number(String(Int(value))) }
        return .number(String(value))
    }
}

/// A small text file written atomically (temporary file, then rename).
public struct AtomicOutputText {
    public let path: String

    public init(path: String) { self.path = path }

    public func write(_ text: String, overwrite: Bool) throws {
        let output = try AtomicOutput(destination: path, overwrite: overwrite)
        do {
            try output.write(Array(text.utf8))
            try output.commit()
        } catch {
            output.abort()
            throw error
        }
    }
}
