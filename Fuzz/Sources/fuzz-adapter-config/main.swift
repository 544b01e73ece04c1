import CheckpointSurgery
import FuzzInput

/// PEFT's adapter_config.json reader on arbitrary bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzInput.file(data, size, name: "adapter_config.json")
    _ = try? PEFTConfig.read(path: path)
    return 0
}

FuzzDriver.run(fuzz)
