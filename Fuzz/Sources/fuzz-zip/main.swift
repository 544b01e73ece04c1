import CheckpointFormats
import FuzzInput

/// The zip reader on arbitrary bytes (end record, zip64, central directory, local headers), then each
/// entry's contents with CRC checks (stored and deflated), then the PyTorch layer above it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = FuzzInput.file(data, size, name: "input.pt")
    guard let archive = try? ZipArchive(path: path) else { return 0 }
    for entry in archive.entries { _ = try? archive.contents(of: entry, verify: true) }
    guard let reader = try? TorchReader(zip: archive, options: TorchReadOptions()) else { return 0 }
    FuzzInput.touchAll(reader.data(at:), count: reader.tensors.count)
    return 0
}

FuzzDriver.run(fuzz)
