import CheckpointCore

/// Writes one GGUF file byte for byte as gguf-py's `GGUFWriter` would for the same key/values (in
/// the order given), tensors (in the order given) and alignment (`general.alignment`, else 32):
/// every tensor's data padded with zeros to the alignment, the last one included.
public final class GGUFWriter: CheckpointWriter {
    public let destination: String
    public let writeOrder: [Int]
    private let tensors: [TensorInfo]
    private let alignment: Int
    private let output: AtomicOutput
    private var position = 0
    private var writtenInTensor = 0

    public var outputPaths: [String] { [destination] }

    /// A `filter` (zstd) transforms the bytes on their way to the file.
    public init(destination: String, metadata: GGUFMetadata, tensors: [TensorInfo], overwrite: Bool, filter: OutputFilter? = nil) throws {
        let alignment = try GGUFEncoding.alignment(of: metadata, file: destination)
        let ids = try GGUFEncoding.typeIDs(tensors, file: destination)
        let header = try GGUFEncoding.header(metadata: metadata, tensors: tensors, typeIDs: ids, alignment: alignment, file: destination)
        self.destination = destination
        self.tensors = tensors
        self.alignment = alignment
        self.writeOrder = Array(tensors.indices)
        self.output = try AtomicOutput(destination: destination, overwrite: overwrite, filter: filter)
        // The header is padded to the alignment, and so is every tensor's data (the last one too).
        let padded = tensors.map { GGUFLayout.padded($0.byteCount, to: alignment) ?? -1 }
        if let total = checkedTotal([header.count] + padded) { try output.expectSize(total) }
        try output.write(header)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try accept(bytes.count) { try output.write(bytes) }
    }

    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws {
        try accept(count) { try output.copy(from: file, offset: offset, count: count) }
    }

    /// Whether every tensor's bytes arrived (trailing empty tensors are settled first).
    func isComplete() throws -> Bool {
        try padEmptyTensors()
        return position == tensors.count
    }

    public func finish() throws {
        try padEmptyTensors()
        guard position == tensors.count else {
            throw WriterSequenceError(message: "\(destination): finished after \(position) of \(tensors.count) tensors")
        }
        try output.commit()
    }

    public func abort() { output.abort() }

    private static let zeros = [UInt8](repeating: 0, count: 1 << 16)

    private func accept(_ count: Int, _ body: () throws -> Void) throws {
        try padEmptyTensors()
        guard count > 0 else { return }
        guard position < tensors.count else {
            throw WriterSequenceError(message: "\(destination): more bytes than the tensors declared")
        }
        let expected = tensors[position].byteCount
        guard count <= expected - writtenInTensor else {
            throw WriterSequenceError(message: "\(destination): tensor '\(tensors[position].name)' got more than its \(expected) bytes")
        }
        try body()
        writtenInTensor += count
        if writtenInTensor == expected { try completeTensor() }
    }

    /// Pads the finished tensor's data to the alignment and moves to the next tensor.
    private func completeTensor() throws {
        let size = tensors[position].byteCount
        var padding = (GGUFLayout.padded(size, to: alignment) ?? size) - size
        while padding > 0 {
            let n = min(padding, Self.zeros.count)
            try Self.zeros.withUnsafeBytes { try output.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            padding -= n
        }
        position += 1
        writtenInTensor = 0
    }

    private func padEmptyTensors() throws {
        while position < tensors.count && tensors[position].byteCount == 0 && writtenInTensor == 0 {
            try completeTensor()
        }
    }
}
