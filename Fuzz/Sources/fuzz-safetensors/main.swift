import CheckpointFormats
import FuzzInput

/// The safetensors reader on arbitrary bytes: header length, JSON, dtypes, shapes, offsets, coverage.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzInput.reader(data, size, name: "input.safetensors") { try SafeTensorsReader(path: $0) }
}

FuzzDriver.run(fuzz)
