import CheckpointCore
import CheckpointFormats

/// The PyTorch-specific part of `ckpt inspect`: archive facts, the chosen state dict, tied and shared
/// tensors, and what else the file holds.
enum TorchReport {
    static func lines(_ info: TorchFileInfo, aliases: [(name: String, target: String)], names: [String]) -> [(String, String)] {
        var out: [(String, String)] = []
        let version = info.version.map(String.init) ?? "(none)"
        let order = info.bigEndian ? "big-endian (bytes swapped on read)" : "little-endian"
        out.append(("archive", "folder '\(escapedForTerminal(info.folder))', version \(version), \(order), pickle protocol \(info.pickleProtocol.map(String.init) ?? "0/1"), \(info.storageCount) storages"))
        out.append(("state dict", info.stateDictKey.isEmpty ? "(top level)" : "'\(escapedForTerminal(info.stateDictKey))' (choose another with --key)"))
        for (number, alias) in aliases.enumerated() {
            out.append((number == 0 ? "aliases" : "", "\(escapedForTerminal(alias.name)) = \(escapedForTerminal(alias.target)) (same tensor, stored once)"))
        }
        for (number, shared) in info.sharedStorage.enumerated() {
            out.append((number == 0 ? "shared" : "", "\(escapedForTerminal(shared.name)) views part of the storage of \(escapedForTerminal(shared.with)) (written as its own tensor)"))
        }
        for (number, other) in info.otherContent.enumerated() {
            out.append((number == 0 ? "skipped" : "", "\(escapedForTerminal(other.path)): \(other.summary)"))
        }
        if !names.isEmpty, names.allSatisfy({ $0.hasPrefix("module.") }) {
            out.append(("note", "every name starts with 'module.' (saved from DataParallel); --rename '^module\\.=' removes it"))
        }
        return out
    }

    static func json(_ info: TorchFileInfo, aliases: [(name: String, target: String)]) -> JSONValue {
        .object([
            JSONMember("archive_folder", .string(info.folder)),
            JSONMember("version", info.version.map { .number(String($0)) } ?? .null),
            JSONMember("byteorder", .string(info.bigEndian ? "big" : "little")),
            JSONMember("pickle_protocol", info.pickleProtocol.map { .number(String($0)) } ?? .null),
            JSONMember("storages", .number(String(info.storageCount))),
            JSONMember("state_dict_key", .string(info.stateDictKey)),
            JSONMember("aliases", .object(aliases.map { JSONMember($0.name, .string($0.target)) })),
            JSONMember("shared_storage", .object(info.sharedStorage.map { JSONMember($0.name, .string($0.with)) })),
            JSONMember("skipped", .object(info.otherContent.map { JSONMember($0.path, .string($0.summary)) })),
        ])
    }
}
