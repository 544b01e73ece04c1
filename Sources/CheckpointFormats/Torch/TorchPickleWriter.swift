import CheckpointCore

/// The `data.pkl` torch.save writes for a plain dict of dense, contiguous CPU tensors, byte for byte
/// (formats.md §3.4–3.5): `{name: _rebuild_tensor_v2(persistent storage id, 0, size, stride, False,
/// OrderedDict())}`, with `_rebuild_tensor_v3` and an untyped storage for the dtypes torch added later
/// (float8, uint16/32/64). An alias is the same tensor object again: a BINGET of the first.
enum TorchPickleWriter {
    /// Storage class of the dtypes torch pickles as typed storages.
    static let typedStorageClass: [DType: String] = [
        .f64: "DoubleStorage", .f32: "FloatStorage", .f16: "HalfStorage", .bf16: "BFloat16Storage", .i64: "LongStorage",
        .i32: "IntStorage", .i16: "ShortStorage", .i8: "CharStorage", .u8: "ByteStorage", .bool: "BoolStorage",
        .c64: "ComplexFloatStorage",
    ]
    /// torch dtype names of the dtypes pickled through `_rebuild_tensor_v3`.
    static let untypedDTypeName: [DType: String] = [
        .f8E4M3: "float8_e4m3fn", .f8E5M2: "float8_e5m2", .f8E4M3FNUZ: "float8_e4m3fnuz", .f8E5M2FNUZ: "float8_e5m2fnuz",
        .f8E8M0: "float8_e8m0fnu", .u16: "uint16", .u32: "uint32", .u64: "uint64",
    ]

    static func canWrite(_ dtype: DType) -> Bool { typedStorageClass[dtype] != nil || untypedDTypeName[dtype] != nil }

    /// `entries` in dict order: a tensor with its storage key, or an alias of an earlier entry.
    enum Entry {
        case tensor(TensorInfo, storageKey: String)
        case alias(name: String, of: Int)
    }

    static func pickle(_ entries: [Entry]) -> [UInt8] {
        var out = PickleEmitter()
        out.op(PickleOpcode.emptyDict)
        out.memoize()
        var tensorMemo: [Int: Int] = [:]
        var start = 0
        // Items in batches of 1000, as CPython's _batch_setitems; a batch of one uses SETITEM.
        while start < entries.count {
            let batch = entries[start..<min(start + 1000, entries.count)]
            if batch.count > 1 { out.op(PickleOpcode.mark) }
            for (position, entry) in zip(batch.indices, batch) {
                switch entry {
                case let .tensor(info, key):
                    out.string(info.name)
                    tensorMemo[position] = tensor(info, storageKey: key, into: &out)
                case let .alias(name, of):
                    out.string(name)
                    if let memo = tensorMemo[of] { out.get(memo) }
                }
            }
            out.op(batch.count > 1 ? PickleOpcode.setItems : PickleOpcode.setItem)
            start += batch.count
        }
        out.stop()
        return out.bytes
    }

    /// Writes one tensor's REDUCE and returns the memo index of the result.
    private static func tensor(_ info: TensorInfo, storageKey: String, into out: inout PickleEmitter) -> Int {
        let untyped = untypedDTypeName[info.dtype]
        out.global("torch._utils", untyped == nil ? "_rebuild_tensor_v2" : "_rebuild_tensor_v3")
        out.op(PickleOpcode.mark)
        out.op(PickleOpcode.mark)
        out.sharedString("storage")
        if untyped != nil {
            out.global("torch.storage", "UntypedStorage")
        } else {
            out.global("torch", typedStorageClass[info.dtype] ?? "FloatStorage")
        }
        out.string(storageKey)
        out.sharedString("cpu")
        out.int(untyped == nil ? info.elementCount : info.byteCount)
        out.op(PickleOpcode.tuple)
        out.memoize()
        out.op(PickleOpcode.binPersID)
        out.int(0)
        out.intTuple(info.shape)
        var strides = [Int](repeating: 1, count: info.shape.count)
        var step = 1
        for axis in info.shape.indices.reversed() {
            strides[axis] = step
            step *= max(info.shape[axis], 1)
        }
        out.intTuple(strides)
        out.op(PickleOpcode.newFalse)
        out.global("collections", "OrderedDict")
        out.op(PickleOpcode.emptyTuple)
        out.op(PickleOpcode.reduce)
        out.memoize()
        if let untyped { out.global("torch", untyped) }
        out.op(PickleOpcode.tuple)
        out.memoize()
        out.op(PickleOpcode.reduce)
        return out.memoize()
    }
}
