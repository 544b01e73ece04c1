import CheckpointCore
import CheckpointFormats
#if canImport(Glibc)
import Glibc
#endif

/// The GGUF part of `ckpt bench`: safetensors → GGUF keeping bf16, with Q8_0 quantization, and the
/// same conversion by gguf-py's GGUFWriter when a Python with gguf is given.
enum BenchGGUF {
    /// gguf-py's reference way to write the benchmark checkpoint as GGUF: tensors memory-mapped from the
    /// safetensors file and handed to GGUFWriter as raw BF16 rows, as convert_hf_to_gguf.py does.
    static let script = """
    import json, struct, sys
    import numpy as np
    import gguf
    src, out = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(src, dtype=np.uint8, mode="r", offset=8 + n)
    w = gguf.GGUFWriter(out, "llama")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = info["shape"]
        raw = data[begin:end].reshape(*shape[:-1], shape[-1] * 2)
        w.add_tensor(name, raw, raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    """

    /// A Python that imports gguf: `CKPT_PYTHON`, else none (the gguf-py row is then left out).
    static func python() -> String? {
        guard let value = getenv("CKPT_PYTHON").map({ String(cString: $0) }), !value.isEmpty else { return nil }
        return value
    }

    /// Writes the script into the bench folder and returns its path.
    static func writeScript(in folder: BenchFolder) throws -> String {
        let path = folder.file("gguf_py_convert.py")
        let output = try AtomicOutput(destination: path, overwrite: true)
        try output.write(Array(script.utf8))
        try output.commit()
        return path
    }
}
