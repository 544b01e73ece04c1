import CheckpointFormats
import FuzzInput

/// The GGUF reader on arbitrary bytes: header, typed key/values, tensor table, alignment, offsets.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzInput.reader(data, size, name: "input.gguf") { try GGUFReader(path: $0) }
}

FuzzDriver.run(fuzz)
