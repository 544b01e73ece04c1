import CheckpointCore

/// Why the pickle machine stopped. Offsets are positions in `data.pkl`.
public enum PickleError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(offset: Int, opcode: String)
    case noStop
    case unknownOpcode(byte: UInt8, offset: Int)
    case unsupportedOpcode(name: String, offset: Int, reason: String)
    case refusedGlobal(module: String, name: String, offset: Int, executesCode: Bool)
    case stackUnderflow(opcode: String, offset: Int)
    case markMissing(opcode: String, offset: Int)
    case memoMissing(index: Int, offset: Int)
    case tooManyMemoEntries(limit: Int)
    case tooDeep(limit: Int)
    case stackTooLarge(limit: Int)
    case tooManyObjects(limit: Int)
    case lengthTooLarge(opcode: String, length: UInt64, remaining: Int, offset: Int)
    case integerTooLarge(bytes: Int, offset: Int)
    case invalidText(opcode: String, offset: Int)
    case notCallable(what: String, offset: Int)
    case wrongTarget(opcode: String, target: String, offset: Int)
    case badArguments(function: String, reason: String, offset: Int)
    case cycle
    case sealedMutation
    case persistentID(reason: String, offset: Int)
    case storageDTypeConflict(key: String, first: DType, second: DType)
    case unsupportedTensor(kind: String, offset: Int)
    case unsupportedDType(name: String, offset: Int)
    case viewOutOfBounds(shape: [Int], stride: [Int], offset: Int, needed: Int, storageElements: Int)

    /// The case name, stable for tests and reports.
    public var caseName: String {
        switch self {
        case .cycle: return "cycle"
        case .sealedMutation: return "sealedMutation"
        case .noStop: return "noStop"
        default: return Mirror(reflecting: self).children.first?.label ?? "\(self)"
        }
    }

    public var description: String {
        switch self {
        case let .truncated(offset, opcode):
            return "pickle data ends inside \(opcode) at byte \(offset): the file is corrupted or truncated"
        case .noStop:
            return "pickle data ends without a STOP opcode: the file is corrupted or truncated"
        case let .unknownOpcode(byte, offset):
            return "unknown pickle opcode 0x\(String(byte, radix: 16)) at byte \(offset): not a pickle, or corrupted"
        case let .unsupportedOpcode(name, offset, reason):
            return "pickle opcode \(name) at byte \(offset) is refused: \(reason)"
        case let .refusedGlobal(module, name, offset, executesCode):
            let base = "refusing to construct \(escapedForTerminal(module)).\(escapedForTerminal(name)) (pickle byte \(offset)): not a tensor, container or primitive"
            if executesCode {
                return base + "; this is how malicious pickles run code: do not load this file with torch.load(weights_only=False)"
            }
            return base + " (torch.load(weights_only=True) refuses it too); if you trust the file, re-save only its state dict"
        case let .stackUnderflow(opcode, offset):
            return "pickle opcode \(opcode) at byte \(offset) needs more values than the stack holds: the file is corrupted"
        case let .markMissing(opcode, offset):
            return "pickle opcode \(opcode) at byte \(offset) has no MARK before it: the file is corrupted"
        case let .memoMissing(index, offset):
            return "pickle refers to memo entry \(index) at byte \(offset), which was never stored: the file is corrupted"
        case let .tooManyMemoEntries(limit):
            return "pickle stores more than \(limit) memo entries (a memo bomb?); refusing"
        case let .tooDeep(limit):
            return "pickle nests containers deeper than \(limit) levels (not a state dict; a nesting bomb?); refusing"
        case let .stackTooLarge(limit):
            return "pickle stack grows beyond \(limit) values (not a state dict); refusing"
        case let .tooManyObjects(limit):
            return "pickle builds more than \(limit) objects (not a state dict; an object bomb?); refusing"
        case let .lengthTooLarge(opcode, length, remaining, offset):
            return "pickle opcode \(opcode) at byte \(offset) declares \(length) bytes but only \(remaining) remain: the file is corrupted or malicious"
        case let .integerTooLarge(bytes, offset):
            return "pickle integer of \(bytes) bytes at byte \(offset) does not fit 64 bits; refusing"
        case let .invalidText(opcode, offset):
            return "pickle opcode \(opcode) at byte \(offset) holds text that is not valid for it: the file is corrupted"
        case let .notCallable(what, offset):
            return "pickle calls \(what) at byte \(offset), which is not an allowed constructor; refusing"
        case let .wrongTarget(opcode, target, offset):
            return "pickle opcode \(opcode) at byte \(offset) applied to \(target); only dicts take items and only lists take appends; refusing"
        case let .badArguments(function, reason, offset):
            return "pickle calls \(function) at byte \(offset) with unexpected arguments (\(reason)): the file is corrupted or not a plain state dict"
        case .cycle:
            return "pickle puts a container inside itself (not a state dict); refusing"
        case .sealedMutation:
            return "pickle changes a container after placing it in another (not how torch.save writes); refusing"
        case let .persistentID(reason, offset):
            return "Only persistent_load of storage is allowed: persistent id at byte \(offset) \(reason)"
        case let .storageDTypeConflict(key, first, second):
            return "storage \(escapedForTerminal(key)) viewed with two dtypes (\(first.userName) and \(second.userName)); the file is corrupted"
        case let .unsupportedTensor(kind, offset):
            return "pickle byte \(offset): \(kind) cannot be represented by ckpt (only dense tensors are); re-save the state dict with plain tensors"
        case let .unsupportedDType(name, offset):
            return "pickle byte \(offset): dtype \(escapedForTerminal(name)) has no equivalent in ckpt (supported: every safetensors dtype)"
        case let .viewOutOfBounds(shape, stride, offset, needed, storageElements):
            return "setStorage: sizes \(shape), strides \(stride), storage offset \(offset) require a storage of \(needed) elements, but it has \(storageElements): the file is corrupted"
        }
    }
}
