import CheckpointFormats
import FuzzInput

/// A sharded checkpoint's index (model.safetensors.index.json) on arbitrary bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzInput.file(data, size, name: "model.safetensors.index.json")
    guard let index = try? ShardIndex.read(path: path) else { return 0 }
    _ = index.shardNames
    return 0
}

FuzzDriver.run(fuzz)
