import CheckpointCore

/// Writes one safetensors file exactly as the reference writer (`safetensors` ≥ 0.3.1, Rust
/// `serialize`) does for the same tensors and metadata:
/// tensors laid out by descending dtype rank, then by name compared as UTF-8 bytes; a compact JSON
/// header with `__metadata__` first (when given) and keys `dtype`, `shape`, `data_offsets`; the header
/// padded with spaces to a multiple of 8. Metadata keys are written in the order given (the reference
/// uses a randomly seeded hash map, so no order is "the" reference order).
public final class SafeTensorsWriter: CheckpointWriter {
    public let destination: String
    public let writeOrder: [Int]
    private let tensors: [TensorInfo]
    private let output: AtomicOutput
    private var position = 0
    private var writtenInTensor = 0

    public var outputPaths: [String] { [destination] }

    /// The order in which the reference writer lays out `tensors` (indices into the array).
    public static func layoutOrder(_ tensors: [TensorInfo]) -> [Int] {
        tensors.indices.sorted { a, b in
            let rankA = SafeTensorsDType.rank(of: tensors[a].dtype)
            let rankB = SafeTensorsDType.rank(of: tensors[b].dtype)
            if rankA != rankB { return rankA > rankB }
            return tensors[a].name.utf8.lexicographicallyPrecedes(tensors[b].name.utf8)
        }
    }

    /// The 8-byte length and the padded JSON header for `tensors` already in layout order.
    public static func headerBytes(metadata: [(key: String, value: String)]?, orderedTensors: [TensorInfo], path: String) throws -> [UInt8] {
        var members: [JSONMember] = []
        if let metadata {
            members.append(JSONMember("__metadata__", .object(metadata.map { JSONMember($0.key, .string($0.value)) })))
        }
        var offset = 0
        for tensor in orderedTensors {
            let end = offset + tensor.byteCount
            members.append(JSONMember(tensor.name, .object([
                JSONMember("dtype", .string(SafeTensorsDType.name(of: tensor.dtype))),
                JSONMember("shape", .array(tensor.shape.map { .number(String($0)) })),
                JSONMember("data_offsets", .array([.number(String(offset)), .number(String(end))])),
            ])))
            offset = end
        }
        var json = JSONEmitter(style: .compact).bytes(.object(members))
        let padding = (8 - json.count % 8) % 8
        json += [UInt8](repeating: 0x20, count: padding)
        guard json.count <= SafeTensorsHeader.maxHeaderLength else {
            throw SafeTensorsError.headerWouldBeTooLarge(file: path, length: json.count)
        }
        var out = [UInt8](repeating: 0, count: 8)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.replaceSubrange(0..<8, with: $0) }
        return out + json
    }

    /// Creates the temporary output and writes the header. Names must be unique (as bytes). A `filter`
    /// (zstd) transforms the bytes on their way to the file.
    public init(destination: String, metadata: [(key: String, value: String)]?, tensors: [TensorInfo], overwrite: Bool, filter: OutputFilter? = nil) throws {
        var names = Set<[UInt8]>()
        for tensor in tensors where !names.insert(Array(tensor.name.utf8)).inserted {
            throw SafeTensorsError.duplicateName(file: destination, tensor: tensor.name)
        }
        self.destination = destination
        self.tensors = tensors
        self.writeOrder = SafeTensorsWriter.layoutOrder(tensors)
        let header = try SafeTensorsWriter.headerBytes(metadata: metadata, orderedTensors: writeOrder.map { tensors[$0] }, path: destination)
        self.output = try AtomicOutput(destination: destination, overwrite: overwrite, filter: filter)
        if let total = checkedTotal([header.count] + tensors.map(\.byteCount)) { try output.expectSize(total) }
        try output.write(header)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try accept(bytes.count)
        try output.write(bytes)
    }

    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws {
        try accept(count)
        try output.copy(from: file, offset: offset, count: count)
    }

    public func finish() throws {
        skipEmptyTensors()
        guard position == writeOrder.count else {
            throw WriterSequenceError(message: "\(destination): finished after \(position) of \(writeOrder.count) tensors")
        }
        try output.commit()
    }

    public func abort() { output.abort() }

    private func accept(_ count: Int) throws {
        skipEmptyTensors()
        guard count > 0 else { return }
        guard position < writeOrder.count else {
            throw WriterSequenceError(message: "\(destination): more bytes than the tensors declared")
        }
        let expected = tensors[writeOrder[position]].byteCount
        guard count <= expected - writtenInTensor else {
            throw WriterSequenceError(message: "\(destination): tensor '\(tensors[writeOrder[position]].name)' got more than its \(expected) bytes")
        }
        writtenInTensor += count
        if writtenInTensor == expected {
            position += 1
            writtenInTensor = 0
        }
    }

    private func skipEmptyTensors() {
        while position < writeOrder.count && tensors[writeOrder[position]].byteCount == 0 && writtenInTensor == 0 {
            position += 1
        }
    }
}
