import CheckpointCore
import CZlib

/// Raw-deflate decompression of one zip entry (zlib `inflate` with negative window bits: no zlib
/// header, as zip stores it), into a buffer of exactly the declared size.
enum Inflate {
    /// Inflates `input` into `expectedSize` bytes; more or fewer bytes, or a corrupt stream, is an error.
    static func entry(_ input: UnsafeRawBufferPointer, expectedSize: Int, file: String, entry: String) throws -> OwnedBytes {
        let output = OwnedBytes(count: expectedSize)
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ZipError.inflateFailed(file: file, entry: entry, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var consumed = 0
        var produced = 0
        // zlib counts in UInt32: feed and drain in slices below 1 GiB.
        let slice = 1 << 30
        var status = Z_OK
        var spare: UInt8 = 0
        while status != Z_STREAM_END {
            let inCount = min(slice, input.count - consumed)
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + consumed })
            stream.avail_in = UInt32(inCount)
            let outCount = min(slice, expectedSize - produced)
            if outCount > 0, let base = output.bytes.baseAddress {
                stream.next_out = base.assumingMemoryBound(to: UInt8.self) + produced
                stream.avail_out = UInt32(outCount)
            } else {
                // Room for one byte only to detect data past the declared size.
                stream.next_out = withUnsafeMutablePointer(to: &spare) { $0 }
                stream.avail_out = 1
            }
            let before = (stream.avail_in, stream.avail_out)
            status = inflate(&stream, Z_NO_FLUSH)
            let usedIn = Int(before.0 - stream.avail_in)
            let usedOut = Int(before.1 - stream.avail_out)
            consumed += usedIn
            if outCount == 0 && usedOut > 0 {
                throw ZipError.inflatedSizeMismatch(file: file, entry: entry, declared: expectedSize, actual: expectedSize + usedOut)
            }
            produced += usedOut
            switch status {
            case Z_OK, Z_STREAM_END: break
            case Z_BUF_ERROR where usedIn == 0 && usedOut == 0:
                throw ZipError.inflateFailed(file: file, entry: entry, reason: "the compressed data ends early")
            case Z_BUF_ERROR: break
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw ZipError.inflateFailed(file: file, entry: entry, reason: message)
            }
        }
        guard produced == expectedSize else {
            throw ZipError.inflatedSizeMismatch(file: file, entry: entry, declared: expectedSize, actual: produced)
        }
        return output
    }
}
