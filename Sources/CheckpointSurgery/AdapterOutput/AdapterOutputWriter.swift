import CheckpointCore
import CheckpointFormats

/// Writes a `LoRAOutput` in any plain-LoRA layout: PEFT folder, kohya file or GGUF LoRA adapter,
/// renaming modules to the layout's naming first. What a layout cannot hold is refused by name, with
/// the layouts that can hold it.
public enum AdapterOutputWriter {
    public struct Options {
        /// The source adapter_config.json, kept for a PEFT output (nil: a fresh one).
        public var peftTemplate: JSONValue?
        public var modulesToSave: [String] = []
        public var kohyaMetadata: [(key: String, value: String)] = []
        /// Head counts for the Q/K row permutation between Hugging Face and llama.cpp names (llama only).
        public var llamaConfig: LlamaConfig?
        /// The llama.cpp architecture of the adapter's base model: the name table between Hugging Face
        /// and llama.cpp names and `general.architecture` of a GGUF output (nil: unknown, which only
        /// outputs that keep the adapter's own naming can do without).
        public var architecture: GGUFArchitectureSource?

        public init(peftTemplate: JSONValue? = nil, modulesToSave: [String] = [], kohyaMetadata: [(key: String, value: String)] = [],
                    llamaConfig: LlamaConfig? = nil, architecture: GGUFArchitectureSource? = nil) {
            self.peftTemplate = peftTemplate
            self.modulesToSave = modulesToSave
            self.kohyaMetadata = kohyaMetadata
            self.llamaConfig = llamaConfig
            self.architecture = architecture
        }
    }

    public struct Written: Sendable {
        public var files: [String]
        /// Facts about the conversion the user should see (scales folded into B, …).
        public var notes: [String]
    }

    /// PEFT: `path` is a folder; kohya: a .safetensors file; GGUF: a .gguf file.
    @discardableResult
    public static func write(_ output: LoRAOutput, layout: AdapterFormat, to path: String, options: Options = Options(), overwrite: Bool) throws -> Written {
        var output = output
        var notes: [String] = []
        if layout == .kohya || layout == .gguf {
            // PEFT's save_embedding_layers copies of the base embedding: base weights, not the adapter.
            let copies = output.passThrough.filter { $0.name.hasSuffix(".base_layer.weight") }.count
            output.passThrough.removeAll { $0.name.hasSuffix(".base_layer.weight") }
            if copies > 0 { notes.append("\(copies) base-layer weight(s) PEFT saved with the adapter are base weights, not part of a \(layout.rawValue) LoRA: left out") }
        }
        try checkExpressible(output, layout: layout, path: path, modulesToSave: options.modulesToSave)
        var renamed = output
        let renaming = ModuleRenaming(from: output.naming, to: ModuleNaming(layout: layout), architecture: options.architecture,
                                      config: options.llamaConfig, path: path)
        renamed.modules = try output.modules.map(renaming.rename)
        renamed.naming = renaming.to
        // A template from another layout's adapter names its modules differently: start afresh.
        let template = output.naming == .huggingFace ? options.peftTemplate : nil
        switch layout {
        case .peft:
            try PEFTAdapterWriter.write(renamed, folder: path, template: template, modulesToSave: options.modulesToSave, overwrite: overwrite)
            return Written(files: [Paths.join(path, "adapter_model.safetensors"), Paths.join(path, "adapter_config.json")], notes: [])
        case .kohya:
            guard path.hasSuffix(".safetensors") else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "a kohya adapter is one .safetensors file; name the output *.safetensors")
            }
            try Folders.create(Paths.folder(of: path))
            try KohyaAdapterWriter.write(renamed, path: path, metadata: options.kohyaMetadata, overwrite: overwrite)
            return Written(files: [path], notes: notes)
        case .gguf:
            // A GGUF adapter names its architecture; llama.cpp refuses one whose name differs from the model's.
            let architecture = try options.architecture?.architecture ?? renaming.names().architecture
            try Folders.create(Paths.folder(of: path))
            notes += try GGUFAdapterWriter.write(renamed, path: path, architecture: architecture, overwrite: overwrite)
            return Written(files: [path], notes: notes)
        case .melora:
            throw LowRankEditError.layoutNotWritable(path: path, reason: "a plain LoRA becomes MELoRA only by re-splitting it into diagonal blocks, which changes it: use ckpt melora --splits N")
        }
    }

    /// Refuses, naming the module, what `layout` has no place for: lora_B.bias and modules_to_save
    /// are PEFT's alone (rsLoRA goes into alpha everywhere; DoRA is refused before, by the operations).
    static func checkExpressible(_ output: LoRAOutput, layout: AdapterFormat, path: String, modulesToSave: [String]) throws {
        let whole = output.passThrough.map(\.name) + output.wholeTensors.map(\.name)
        if layout == .peft, output.naming != .huggingFace, let first = whole.first {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "'\(escapedForTerminal(first))' is saved whole (modules_to_save) under a \(output.naming.rawValue) name, which a PEFT adapter of Hugging Face names would not apply; extract from Hugging Face-named checkpoints for a PEFT output")
        }
        guard layout == .kohya || layout == .gguf else { return }
        let name = layout == .kohya ? "a kohya LoRA" : "a GGUF LoRA adapter"
        if let module = output.modules.first(where: { $0.bias != nil }) {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "module '\(escapedForTerminal(module.module))' has a lora_B.bias, which \(name) has no tensor for; write --to peft (the only layout that holds it)")
        }
        if let first = modulesToSave.first ?? whole.first {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "'\(escapedForTerminal(first))' is saved whole (modules_to_save), which \(name) cannot hold; write --to peft (the only layout that holds it), or merge the adapter")
        }
    }
}
