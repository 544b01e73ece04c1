import CheckpointCore

/// What is wrong with a file opened as a PyTorch checkpoint, and what to do about it.
public enum TorchError: Error, Sendable, CustomStringConvertible {
    case notZip(file: String, detected: DetectedFormat)
    case legacyFormat(file: String)
    case torchScript(file: String)
    case noDataPickle(file: String)
    case notInFolder(file: String, entry: String)
    case mixedFolders(file: String, first: String, other: String)
    case badVersion(file: String, text: String)
    case unsupportedVersion(file: String, version: Int)
    case unknownByteOrder(file: String, text: String)
    case pickle(file: String, error: PickleError)
    case missingStorage(file: String, key: String)
    case storageSizeMismatch(file: String, key: String, recordSize: Int, expected: Int)
    case noStateDict(file: String, candidates: [String])
    case keyNotFound(file: String, key: String, available: [String])
    case keyNotADict(file: String, key: String, found: String)
    case tensorShape(file: String, error: TensorShapeError)

    public var description: String {
        func q(_ text: String) -> String { "'" + escapedForTerminal(text) + "'" }
        switch self {
        case let .notZip(file, detected):
            return "\(q(file)) is \(detected), not a PyTorch zip checkpoint"
        case let .legacyFormat(file):
            return "\(q(file)) is a legacy (pre-1.6 / non-zip) torch.save file, which ckpt does not read: re-save it with torch ≥ 1.6 in a trusted environment: torch.save(torch.load(f, weights_only=True), f2)"
        case let .torchScript(file):
            return "\(q(file)) is a TorchScript archive (torch.jit.save: code and constants.pkl), not a state dict; save model.state_dict() with torch.save instead"
        case let .noDataPickle(file):
            return "\(q(file)) is a zip archive without data.pkl: not a torch.save checkpoint"
        case let .notInFolder(file, entry):
            return "\(q(file)): file in archive is not in a subdirectory: \(q(entry)); not a torch.save checkpoint"
        case let .mixedFolders(file, first, other):
            return "\(q(file)): zip entries belong to different folders (\(q(first)) and \(q(other))); not a torch.save checkpoint"
        case let .badVersion(file, text):
            return "\(q(file)): the version record holds \(q(text)), not an integer; the archive is damaged"
        case let .unsupportedVersion(file, version):
            return "\(q(file)): Attempted to read a PyTorch file with version \(version), but the supported versions are 1 to 10; re-save it with a current torch"
        case let .unknownByteOrder(file, text):
            return "\(q(file)): Unknown endianness type: \(q(text)); the archive is damaged"
        case let .pickle(file, error):
            return "\(q(file)): data.pkl: \(error)"
        case let .missingStorage(file, key):
            return "\(q(file)): the pickle refers to storage \(q(key)) but the archive has no data/\(escapedForTerminal(key)) record (truncated or damaged)"
        case let .storageSizeMismatch(file, key, recordSize, expected):
            return "\(q(file)): record size \(recordSize) mismatch with dst size \(expected) for storage data/\(escapedForTerminal(key)) (damaged archive)"
        case let .noStateDict(file, candidates):
            let list = candidates.isEmpty ? "it holds no tensors" : "candidates: " + candidates.map(q).joined(separator: ", ")
            return "\(q(file)): cannot tell which part of the checkpoint is the state dict (\(list)); choose one with --key PATH"
        case let .keyNotFound(file, key, available):
            return "\(q(file)): --key \(q(key)) is not in the checkpoint; it has: \(available.map(q).joined(separator: ", "))"
        case let .keyNotADict(file, key, found):
            return "\(q(file)): --key \(q(key)) names \(found), not a dict of tensors"
        case let .tensorShape(file, error):
            return "\(q(file)): \(error)"
        }
    }
}
