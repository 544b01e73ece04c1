import CheckpointCore

/// The records of a `torch.save` zip: the archive folder, `data.pkl` run through the pickle machine,
/// the version and byte order, and the storage records (`data/<key>`), each checked against the
/// size the pickle declares.
public struct TorchArchive: @unchecked Sendable {
    public let zip: ZipArchive
    /// The folder every record lives in (`pytorch_model` for `pytorch_model.bin`).
    public let folder: String
    public let root: PickleValue
    public let storages: [String: TorchStorage]
    /// Storage keys in the order the pickle first refers to them.
    public let storageOrder: [String]
    public let storageEntries: [String: ZipEntry]
    public let version: Int?
    public let bigEndian: Bool
    public let pickleProtocol: Int?

    /// Versions of the zip format torch reads (caffe2/serialize/versions.h).
    public static let supportedVersions = 1...10

    public init(zip: ZipArchive, verify: Bool = false, limits: PickleLimits = PickleLimits()) throws {
        let path = zip.path
        self.zip = zip
        guard let first = zip.entries.first else { throw TorchError.noDataPickle(file: path) }
        guard let slash = first.name.firstIndex(of: "/") else { throw TorchError.notInFolder(file: path, entry: first.name) }
        let folder = String(first.name[..<slash])
        for entry in zip.entries where !entry.name.hasPrefix(folder + "/") {
            throw TorchError.mixedFolders(file: path, first: first.name, other: entry.name)
        }
        self.folder = folder
        func record(_ name: String) -> ZipEntry? { zip.entry(named: folder + "/" + name) }
        // TorchScript archives also hold a data.pkl (of module objects); their code/ and constants.pkl tell them apart.
        if record("constants.pkl") != nil || zip.entries.contains(where: { $0.name.hasPrefix(folder + "/code/") }) {
            throw TorchError.torchScript(file: path)
        }
        guard let pickleEntry = record("data.pkl") else { throw TorchError.noDataPickle(file: path) }
        if let versionEntry = record("version") ?? record(".data/version") {
            let text = String(decoding: try zip.contents(of: versionEntry, verify: verify).byteArray.prefix(32), as: UTF8.self)
            let trimmed = text.trimmingCharacters(in: " \n\r\t")
            guard let number = Int(trimmed) else { throw TorchError.badVersion(file: path, text: trimmed) }
            guard TorchArchive.supportedVersions.contains(number) else { throw TorchError.unsupportedVersion(file: path, version: number) }
            version = number
        } else {
            version = nil
        }
        if let orderEntry = record("byteorder") {
            let text = String(decoding: try zip.contents(of: orderEntry, verify: verify).byteArray.prefix(16), as: UTF8.self)
            guard text == "little" || text == "big" else { throw TorchError.unknownByteOrder(file: path, text: text) }
            bigEndian = text == "big"
        } else {
            bigEndian = false
        }
        let pickleBytes = try zip.contents(of: pickleEntry, verify: verify).byteArray
        var machine = PickleMachine(data: pickleBytes, limits: limits)
        do {
            root = try machine.run()
        } catch {
            throw TorchError.pickle(file: path, error: error)
        }
        pickleProtocol = machine.proto
        storages = machine.storages
        storageOrder = machine.storageOrder
        var entries: [String: ZipEntry] = [:]
        for key in machine.storageOrder {
            guard let storage = machine.storages[key], let entry = record("data/" + key) else {
                throw TorchError.missingStorage(file: path, key: key)
            }
            guard entry.size == storage.byteCount else {
                throw TorchError.storageSizeMismatch(file: path, key: key, recordSize: entry.size, expected: storage.byteCount)
            }
            entries[key] = entry
        }
        storageEntries = entries
        if verify {
            for entry in zip.entries { try zip.verify(entry) }
        }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
