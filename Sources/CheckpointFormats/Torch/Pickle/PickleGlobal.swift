import CheckpointCore

/// The globals the machine will reference: the subset of torch's `weights_only` allow-list that
/// state dicts use (formats.md §3.7). Each is a token the machine interprets; none is imported or
/// called. Every other `module.name` is refused when the pickle names it.
public enum PickleGlobal: Sendable, Equatable {
    case orderedDict
    case builtinSet
    case builtinFrozenset
    case codecsEncode
    case torchSize
    case rebuildTensor
    case rebuildTensorV2
    case rebuildTensorV3
    case rebuildParameter
    case rebuildParameterWithState
    /// `torch.<X>Storage` / `torch.UntypedStorage`: the storage's element type (nil: known to torch
    /// but without a ckpt dtype, refused when used).
    case storageClass(name: String, dtype: DType?)
    /// `torch.<dtype>`; nil dtype: a torch dtype ckpt has no equivalent for.
    case torchDType(name: String, dtype: DType?)
    /// Allowed by torch's weights_only but describing tensors ckpt cannot represent (quantized,
    /// sparse, meta, subclasses...): refused when called, with the kind named.
    case unsupportedTensorKind(name: String)

    public var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .builtinSet: return "builtins.set"
        case .builtinFrozenset: return "builtins.frozenset"
        case .codecsEncode: return "_codecs.encode"
        case .torchSize: return "torch.Size"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: return "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case let .storageClass(name, _): return "torch.\(name)"
        case let .torchDType(name, _): return "torch.\(name)"
        case let .unsupportedTensorKind(name): return name
        }
    }

    /// Storage classes of the pickle and their element types (formats.md §0.2).
    static let storageClasses: [String: DType?] = [
        "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8,
        "BoolStorage": .bool, "ComplexFloatStorage": .c64, "UntypedStorage": .u8,
        "ComplexDoubleStorage": nil, "QUInt8Storage": nil, "QInt8Storage": nil, "QInt32Storage": nil,
        "QUInt4x2Storage": nil, "QUInt2x4Storage": nil, "TypedStorage": nil,
    ]

    /// torch dtypes by attribute name (`torch.float16`, `torch.half`...).
    static let torchDTypes: [String: DType?] = [
        "float64": .f64, "double": .f64, "float32": .f32, "float": .f32, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16, "short": .i16,
        "int8": .i8, "uint8": .u8, "bool": .bool, "complex64": .c64, "cfloat": .c64,
        "float8_e4m3fn": .f8E4M3, "float8_e5m2": .f8E5M2, "float8_e4m3fnuz": .f8E4M3FNUZ,
        "float8_e5m2fnuz": .f8E5M2FNUZ, "float8_e8m0fnu": .f8E8M0,
        "uint16": .u16, "uint32": .u32, "uint64": .u64,
        "complex128": nil, "cdouble": nil, "complex32": nil, "chalf": nil, "float4_e2m1fn_x2": nil,
        "qint8": nil, "quint8": nil, "qint32": nil, "quint4x2": nil, "quint2x4": nil,
        "bits1x8": nil, "bits2x4": nil, "bits4x2": nil, "bits8": nil, "bits16": nil,
        "int1": nil, "int2": nil, "int3": nil, "int4": nil, "int5": nil, "int6": nil, "int7": nil,
        "uint1": nil, "uint2": nil, "uint3": nil, "uint4": nil, "uint5": nil, "uint6": nil, "uint7": nil,
    ]

    /// Rebuild functions torch allows that ckpt does not represent.
    static let unsupportedRebuilds: Set<String> = [
        "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
        "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_device_tensor_from_numpy", "_rebuild_nested_tensor",
    ]

    /// Looks `module.name` up in the allow-list (after the protocol-2 module renames).
    static func resolve(module rawModule: String, name: String) -> PickleGlobal? {
        let module: String
        switch rawModule {
        case "__builtin__": module = "builtins"
        case "copy_reg": module = "copyreg"
        default: module = rawModule
        }
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("builtins", "set"): return .builtinSet
        case ("builtins", "frozenset"): return .builtinFrozenset
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch", "Size"): return .torchSize
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): return .unsupportedTensorKind(name: "torch._tensor._rebuild_from_type_v2 (a tensor subclass)")
        case ("torch._utils", _) where unsupportedRebuilds.contains(name):
            return .unsupportedTensorKind(name: "torch._utils.\(name)")
        case ("torch", _), ("torch.storage", "UntypedStorage"):
            if let dtype = storageClasses[name] { return .storageClass(name: name, dtype: dtype) }
            if module == "torch", let dtype = torchDTypes[name] { return .torchDType(name: name, dtype: dtype) }
            return nil
        default:
            return nil
        }
    }

    /// Modules whose globals are how malicious pickles run code; named in the refusal.
    static let codeExecutionModules: Set<String> = [
        "os", "posix", "nt", "sys", "subprocess", "builtins", "__builtin__", "runpy", "pty", "socket", "shutil",
        "importlib", "webbrowser", "code", "commands", "platform", "ctypes", "pickle", "_pickle", "marshal", "types",
        "operator", "functools", "pdb", "timeit", "numpy.testing._private.utils",
    ]
}
