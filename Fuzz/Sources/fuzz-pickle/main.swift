import CheckpointFormats
import FuzzInput

/// The pickle machine on arbitrary bytes, and the state-dict selection on what it builds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    var machine = PickleMachine(data: bytes)
    guard let root = try? machine.run() else { return 0 }
    _ = try? TorchStateDict.select(from: root, key: nil, file: "fuzz")
    return 0
}

FuzzDriver.run(fuzz)
