import CheckpointCore

/// How an architecture mapping changes one tensor: its new name, and the reshaping on the way.
public struct TensorTransform: Sendable, Equatable {
    public var name: String
    public var rowPermutation: RowPermutation?
    public var transposed: Bool
    public var scale: Double?

    public init(name: String, rowPermutation: RowPermutation? = nil, transposed: Bool = false, scale: Double? = nil) {
        self.name = name
        self.rowPermutation = rowPermutation
        self.transposed = transposed
        self.scale = scale
    }
}

/// What a conversion will do to each tensor, decided and checked before any byte is written.
public struct ConversionPlan: Sendable {
    public struct Item: Sendable {
        /// Index of the tensor in the reader.
        public var source: Int
        /// The tensor as it will be written (name after renames, dtype after casts).
        public var output: TensorInfo
        public var sourceDType: DType
        /// Rows reordered on the way (llama Q/K for `--arch llama`); nil keeps the row order.
        public var rowPermutation: RowPermutation? = nil
        /// A 2-D tensor written transposed (GGUF LoRA `token_embd` A factors).
        public var transposed = false
        /// A factor every element is multiplied by (a LoRA scale baked into B), computed in float32.
        public var scale: Double? = nil
        /// Bytes made by the conversion itself (llama.cpp's `rope_freqs`), written instead of `source`.
        public var generated: OwnedBytes? = nil
        public var isCast: Bool { output.dtype != sourceDType }
        /// Whether the tensor is reshaped or rescaled on the way (not only cast or copied).
        public var isTransformed: Bool { rowPermutation != nil || transposed || scale != nil }
    }

    public enum PlanError: Error, CustomStringConvertible {
        case duplicateOutputName(name: String, sources: [String])
        case nothingSelected
        case notAnIntegerType(DType)
        case notAFloatType(DType)
        case packedCast(tensor: String, from: DType, to: DType)
        case blockQuantizedOutput(tensor: String, dtype: DType)
        case unmappedTensor(tensor: String, architecture: String)
        case permutationDoesNotFit(tensor: String, rows: Int, heads: Int)
        case cannotDequantize(tensor: String, dtype: DType)
        case notQuantizable(DType)

        public var description: String {
            switch self {
            case let .duplicateOutputName(name, sources):
                return "two tensors would be written as '\(escapedForTerminal(name))' (from \(sources.map { "'\(escapedForTerminal($0))'" }.joined(separator: " and "))); adjust --rename"
            case .nothingSelected:
                return "no tensor is selected: --include/--exclude left nothing to write"
            case let .notAnIntegerType(type):
                return "--int-dtype \(type.userName) is not an integer type"
            case let .notAFloatType(type):
                return "--dtype \(type.userName) is not a floating-point type (use --int-dtype for integer tensors)"
            case let .cannotDequantize(tensor, dtype):
                return "tensor '\(escapedForTerminal(tensor))': \(GGMLType.label(dtype)) is not supported for dequantization; write GGUF (its bytes are copied as they are) or --exclude it"
            case let .notQuantizable(type):
                if let advice = GGMLCodec.quantizationAdvice(type) { return "ckpt cannot quantize to \(GGMLType.label(type)); \(advice)" }
                let known = DType.allCases.filter(GGMLCodec.canQuantize).map(\.userName).joined(separator: ", ")
                return "ckpt cannot quantize to \(GGMLType.label(type)); quantized types it writes: \(known)"
            case let .unmappedTensor(tensor, architecture):
                return "tensor '\(escapedForTerminal(tensor))' has no \(architecture) name in llama.cpp's scheme; --exclude it or convert without --arch"
            case let .permutationDoesNotFit(tensor, rows, heads):
                return "tensor '\(escapedForTerminal(tensor))' has \(rows) rows, which do not split into \(heads) heads of an even size; config.json does not match the weights"
            case let .blockQuantizedOutput(tensor, dtype):
                return "tensor '\(escapedForTerminal(tensor))' is \(GGMLType.name(of: dtype) ?? dtype.userName), a ggml block type that only GGUF stores; dequantize it (--dtype f32) or write GGUF"
            case let .packedCast(tensor, from, to):
                return "tensor '\(escapedForTerminal(tensor))' is \(from.userName): packed 4/6-bit tensors cannot be cast to \(to.userName); --exclude it or keep its dtype"
            }
        }
    }

    public var items: [Item]
    /// Tensors a block-quantized `--dtype` left in their float type (1-D, or rows that are not whole
    /// blocks), as llama.cpp's quantizer does.
    public var keptInFloat: [String] = []

    /// Plans converting `tensors`: float (and ggml block) tensors cast to `floatDType`, or to the first
    /// `rules` type matching their name; integer tensors to `intDType` (bool, complex and
    /// already-matching tensors are copied as they are). A block-quantized target applies only to
    /// tensors of 2+ dimensions whose rows are whole blocks; others keep their type.
    public init(tensors: [TensorInfo], selection: TensorSelection, floatDType: DType?, intDType: DType?, rules: DTypeRules? = nil) throws {
        let rules = rules ?? DTypeRules()
        for type in [floatDType].compactMap({ $0 }) + rules.types {
            if type.isBlockQuantized {
                guard GGMLCodec.canQuantize(type) else { throw PlanError.notQuantizable(type) }
            } else if !type.isFloatingPoint {
                throw PlanError.notAFloatType(type)
            }
        }
        if let intDType, !intDType.isInteger { throw PlanError.notAnIntegerType(intDType) }
        var items: [Item] = []
        var keptInFloat: [String] = []
        var sourceOfName: [[UInt8]: String] = [:]
        for (index, tensor) in tensors.enumerated() where selection.keeps(tensor.name) {
            var target = tensor.dtype
            if tensor.dtype.isFloatingPoint || tensor.dtype.isBlockQuantized, let wanted = rules.dtype(for: tensor.name) ?? floatDType {
                if let block = wanted.blockLayout {
                    let fits = tensor.shape.count >= 2 && (tensor.shape.last ?? 0) % block.elements == 0
                    if fits { target = wanted } else if wanted != tensor.dtype { keptInFloat.append(tensor.name) }
                } else {
                    target = wanted
                }
            }
            if tensor.dtype.isInteger, let intDType { target = intDType }
            if target != tensor.dtype, tensor.dtype.isBlockQuantized, !GGMLCodec.canDequantize(tensor.dtype) {
                throw PlanError.cannotDequantize(tensor: tensor.name, dtype: tensor.dtype)
            }
            if target != tensor.dtype && (tensor.dtype.isSubByteElement || target.isSubByteElement) {
                throw PlanError.packedCast(tensor: tensor.name, from: tensor.dtype, to: target)
            }
            let name = selection.rename(tensor.name)
            if let other = sourceOfName[Array(name.utf8)] {
                throw PlanError.duplicateOutputName(name: name, sources: [other, tensor.name])
            }
            sourceOfName[Array(name.utf8)] = tensor.name
            let output = try tensor.renamed(name).with(dtype: target)
            items.append(Item(source: index, output: output, sourceDType: tensor.dtype))
        }
        guard !items.isEmpty || tensors.isEmpty else { throw PlanError.nothingSelected }
        self.items = items
        self.keptInFloat = keptInFloat
    }

    /// Turns every block-quantized output into float32 (for formats without ggml types); returns how
    /// many tensors that changes. A type ckpt cannot dequantize is named in the error.
    public mutating func dequantizeBlockTypes() throws -> Int {
        var changed = 0
        for index in items.indices where items[index].output.dtype.isBlockQuantized {
            guard GGMLCodec.canDequantize(items[index].output.dtype) else {
                throw PlanError.cannotDequantize(tensor: items[index].output.name, dtype: items[index].output.dtype)
            }
            items[index].output = try items[index].output.with(dtype: .f32)
            changed += 1
        }
        return changed
    }

    /// Renames, reorders rows of, or drops (nil) each planned tensor, as an architecture mapping says.
    public mutating func map(architecture: String, _ transform: (TensorInfo) -> TensorTransform??) throws {
        var mapped: [Item] = []
        var sourceOfName: [[UInt8]: String] = [:]
        for var item in items {
            guard let result = transform(item.output) else {
                throw PlanError.unmappedTensor(tensor: item.output.name, architecture: architecture)
            }
            guard let change = result else { continue }
            let name = change.name
            if let permutation = change.rowPermutation {
                let rows = item.output.shape.first ?? 1
                guard permutation.fits(rows: rows) else {
                    throw PlanError.permutationDoesNotFit(tensor: item.output.name, rows: rows, heads: permutation.heads)
                }
            }
            if let other = sourceOfName[Array(name.utf8)] {
                throw PlanError.duplicateOutputName(name: name, sources: [other, item.output.name])
            }
            sourceOfName[Array(name.utf8)] = item.output.name
            item.output = item.output.renamed(name)
            if change.transposed {
                guard item.output.shape.count == 2, !item.output.dtype.isBlockQuantized else {
                    throw PlanError.permutationDoesNotFit(tensor: item.output.name, rows: item.output.shape.first ?? 0, heads: 1)
                }
                item.output = try TensorInfo(name: name, dtype: item.output.dtype, shape: item.output.shape.reversed())
            }
            item.rowPermutation = change.rowPermutation
            item.transposed = change.transposed
            item.scale = change.scale
            mapped.append(item)
        }
        items = mapped
    }

    /// Puts a tensor the conversion computes (not read from the input) first, as llama.cpp's converter
    /// writes its extra tensors first.
    public mutating func prepend(_ tensor: TensorInfo, bytes: OwnedBytes) {
        items.insert(Item(source: -1, output: tensor, sourceDType: tensor.dtype, generated: bytes), at: 0)
    }

    public var outputTensors: [TensorInfo] { items.map(\.output) }
    public var outputBytes: Int { items.reduce(0) { $0 + $1.output.byteCount } }
}

extension DType {
    /// Packed 4/6-bit element types (not ggml blocks, whose bits per element are not fixed).
    var isSubByteElement: Bool { isPacked && !isBlockQuantized }
}
