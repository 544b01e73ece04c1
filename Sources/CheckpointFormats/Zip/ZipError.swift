import CheckpointCore

/// Ways a zip archive can be malformed, each with where it was found and what to do.
public enum ZipError: Error, Sendable, Equatable, CustomStringConvertible {
    case noEndOfCentralDirectory(file: String)
    case multiDisk(file: String)
    case zip64LocatorInvalid(file: String, reason: String)
    case zip64RecordInvalid(file: String, offset: Int, reason: String)
    case zip64Inconsistent(file: String, field: String, classic: UInt64, zip64: UInt64)
    case zip64Missing(file: String, field: String)
    case centralDirectoryOutOfRange(file: String, offset: UInt64, size: UInt64, limit: Int)
    case tooManyEntries(file: String, count: UInt64, limit: Int)
    case centralDirectoryTruncated(file: String, entry: Int)
    case badCentralSignature(file: String, entry: Int, offset: Int)
    case entryCountMismatch(file: String, declared: Int, found: Int)
    case zip64ExtraMissing(file: String, entry: String, field: String)
    case unsafeName(file: String, entry: String)
    case duplicateName(file: String, entry: String)
    case encrypted(file: String, entry: String)
    case unsupportedMethod(file: String, entry: String, method: UInt16)
    case storedSizeMismatch(file: String, entry: String, compressed: Int, size: Int)
    case localHeaderOutOfRange(file: String, entry: String, offset: Int)
    case badLocalSignature(file: String, entry: String, offset: Int)
    case localHeaderMismatch(file: String, entry: String, field: String)
    case dataOutOfRange(file: String, entry: String, offset: Int, size: Int, limit: Int)
    case overlappingEntries(file: String, first: String, second: String)
    case crcMismatch(file: String, entry: String, stored: UInt32, computed: UInt32)
    case inflateFailed(file: String, entry: String, reason: String)
    case inflatedSizeMismatch(file: String, entry: String, declared: Int, actual: Int)

    /// The case name, stable for tests and reports.
    public var caseName: String { Mirror(reflecting: self).children.first?.label ?? "\(self)" }

    public var description: String {
        func q(_ text: String) -> String { "'" + escapedForTerminal(text) + "'" }
        switch self {
        case let .noEndOfCentralDirectory(file):
            return "\(q(file)) is not a complete zip archive: no end-of-central-directory record (truncated download?); download the file again"
        case let .multiDisk(file):
            return "\(q(file)) is part of a multi-disk (split) zip archive; join the parts into one file first"
        case let .zip64LocatorInvalid(file, reason):
            return "\(q(file)): corrupt zip64 locator (\(reason)); the archive is damaged"
        case let .zip64RecordInvalid(file, offset, reason):
            return "\(q(file)): corrupt zip64 end-of-central-directory record at offset \(offset) (\(reason)); the archive is damaged"
        case let .zip64Inconsistent(file, field, classic, zip64):
            return "\(q(file)): zip64 record disagrees with the end-of-central-directory record on \(field) (\(zip64) vs \(classic)); the archive is damaged"
        case let .zip64Missing(file, field):
            return "\(q(file)): the end-of-central-directory record defers \(field) to a zip64 record that is missing; the archive is damaged or truncated"
        case let .centralDirectoryOutOfRange(file, offset, size, limit):
            return "\(q(file)): central directory at offset \(offset) of \(size) bytes lies outside the \(limit) bytes before its end record (truncated or damaged archive)"
        case let .tooManyEntries(file, count, limit):
            return "\(q(file)): the archive declares \(count) entries, more than the \(limit) ckpt accepts (not a checkpoint, or damaged)"
        case let .centralDirectoryTruncated(file, entry):
            return "\(q(file)): central directory ends inside entry #\(entry) (damaged archive)"
        case let .badCentralSignature(file, entry, offset):
            return "\(q(file)): central directory entry #\(entry) at offset \(offset) has no PK\\1\\2 signature (damaged archive)"
        case let .entryCountMismatch(file, declared, found):
            return "\(q(file)): the end record declares \(declared) entries but the central directory holds \(found) (damaged archive)"
        case let .zip64ExtraMissing(file, entry, field):
            return "\(q(file)): entry \(q(entry)) defers its \(field) to a zip64 extra field that is missing or too short (corrupt zip entry)"
        case let .unsafeName(file, entry):
            return "\(q(file)): entry name \(q(entry)) is absolute, empty or climbs out of the archive with '..'; refusing the archive"
        case let .duplicateName(file, entry):
            return "\(q(file)): two entries are named \(q(entry)) (ambiguous archive)"
        case let .encrypted(file, entry):
            return "\(q(file)): entry \(q(entry)) is encrypted; ckpt reads unencrypted archives only"
        case let .unsupportedMethod(file, entry, method):
            return "\(q(file)): entry \(q(entry)) uses compression method \(method); ckpt reads stored (0) and deflated (8) entries; re-save with torch.save"
        case let .storedSizeMismatch(file, entry, compressed, size):
            return "\(q(file)): stored entry \(q(entry)) declares \(compressed) bytes on disk but \(size) bytes of content (corrupt zip entry)"
        case let .localHeaderOutOfRange(file, entry, offset):
            return "\(q(file)): local header of entry \(q(entry)) at offset \(offset) lies outside the archive's data area (truncated or damaged)"
        case let .badLocalSignature(file, entry, offset):
            return "\(q(file)): no local header (PK\\3\\4) for entry \(q(entry)) at offset \(offset) (damaged archive)"
        case let .localHeaderMismatch(file, entry, field):
            return "\(q(file)): local and central headers of entry \(q(entry)) disagree on the \(field) (corrupt zip entry)"
        case let .dataOutOfRange(file, entry, offset, size, limit):
            return "\(q(file)): data of entry \(q(entry)) (\(size) bytes at offset \(offset)) runs past \(limit), the start of the central directory (truncated or damaged)"
        case let .overlappingEntries(file, first, second):
            return "\(q(file)): entries \(q(first)) and \(q(second)) overlap (a malformed or malicious archive)"
        case let .crcMismatch(file, entry, stored, computed):
            return "\(q(file)): CRC-32 of entry \(q(entry)) is \(hex(computed)) but the archive records \(hex(stored)): the data is corrupt; download the file again"
        case let .inflateFailed(file, entry, reason):
            return "\(q(file)): cannot inflate entry \(q(entry)): \(reason) (corrupt zip entry)"
        case let .inflatedSizeMismatch(file, entry, declared, actual):
            return "\(q(file)): entry \(q(entry)) inflates to \(actual) bytes, not the declared \(declared) (corrupt zip entry)"
        }
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
