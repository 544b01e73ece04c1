import CheckpointCore

/// `model.safetensors.index.json`: which shard holds each tensor, plus index metadata
/// (`total_size`, and `total_parameters` in recent transformers).
public struct ShardIndex: Sendable {
    /// Index metadata in file order, values as their JSON text (numbers) or string.
    public var metadata: [(key: String, value: String)]
    /// `weight_map` in file order: tensor name → shard file name.
    public var weightMap: [(tensor: String, shard: String)]

    /// Shard file names in name order (the `-0000k-of-0000n` naming sorts as written).
    public var shardNames: [String] {
        var seen = Set<[UInt8]>()
        return weightMap.map(\.shard).filter { seen.insert(Array($0.utf8)).inserted }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public static func read(path: String) throws -> ShardIndex {
        let file = try ReadOnlyFile(path: path)
        guard file.size <= 256 << 20 else { throw SafeTensorsError.invalidIndex(file: path, reason: "\(file.size) bytes is too large for an index") }
        let document: JSONValue
        do {
            document = try JSONParser.parse(try file.read(at: 0, count: file.size))
        } catch let failure as JSONParser.Failure {
            throw SafeTensorsError.invalidIndex(file: path, reason: "not JSON: \(failure)")
        }
        guard case .object = document else { throw SafeTensorsError.invalidIndex(file: path, reason: "top level is \(document.kindName), expected an object") }
        guard case let .object(entries)? = document["weight_map"] else {
            throw SafeTensorsError.invalidIndex(file: path, reason: "no \"weight_map\" object")
        }
        var weightMap: [(tensor: String, shard: String)] = []
        var seen = Set<[UInt8]>()
        for entry in entries {
            guard case let .string(shard) = entry.value else {
                throw SafeTensorsError.invalidIndex(file: path, reason: "weight_map[\"\(escapedForTerminal(entry.key))\"] is \(entry.value.kindName), expected a file name")
            }
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw SafeTensorsError.invalidIndex(file: path, reason: "shard name '\(escapedForTerminal(shard))' must be a plain file name in the index's folder")
            }
            guard seen.insert(Array(entry.key.utf8)).inserted else {
                throw SafeTensorsError.invalidIndex(file: path, reason: "tensor '\(escapedForTerminal(entry.key))' is listed twice in weight_map")
            }
            weightMap.append((entry.key, shard))
        }
        var metadata: [(key: String, value: String)] = []
        if case let .object(members)? = document["metadata"] {
            for member in members {
                switch member.value {
                case let .string(text): metadata.append((member.key, text))
                case let .number(text): metadata.append((member.key, text))
                default: metadata.append((member.key, JSONEmitter(style: .compact).text(member.value)))
                }
            }
        }
        return ShardIndex(metadata: metadata, weightMap: weightMap)
    }

    /// The index file's text as transformers writes it: `json.dumps(index, indent=2, sort_keys=True) + "\n"`.
    public static func text(totalSize: Int, weightMap: [(tensor: String, shard: String)]) -> [UInt8] {
        let sorted = weightMap.sorted { $0.tensor.utf8.lexicographicallyPrecedes($1.tensor.utf8) }
        let document = JSONValue.object([
            JSONMember("metadata", .object([JSONMember("total_size", .number(String(totalSize)))])),
            JSONMember("weight_map", .object(sorted.map { JSONMember($0.tensor, .string($0.shard)) })),
        ])
        return JSONEmitter(style: .python(indent: 2)).bytes(document) + [0x0A]
    }
}
