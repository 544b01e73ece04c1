import CheckpointCore

/// What `CheckpointVerifier` found about one tensor.
public struct TensorVerification: Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var byteCount: Int
    /// NaN / infinity counts; nil when the dtype has no such values or the bytes could not be read.
    public var nonFinite: NonFiniteCount?
    /// Lower-case hex SHA-256 of the tensor's bytes as stored (when asked for and readable).
    public var sha256: String?
    public var readable = true
}

/// One thing wrong with a checkpoint. `subject` names the tensor, zip record or file concerned.
public struct VerificationProblem: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A tensor's bytes could not be read in full (file truncated or changed, I/O error).
        case unreadable
        /// A tensor holds NaN or infinite values.
        case nonFinite = "non-finite"
        /// A zip record's CRC-32 does not match its bytes, or a record cannot be inflated.
        case checksum
        /// A rule across files or headers is broken (e.g. an index's declared total size).
        case structure
        /// A merged tensor differs from its recomputation from the base and the adapters
        /// (`ckpt verify --against`).
        case mismatch
    }

    public var kind: Kind
    public var subject: String
    public var message: String

    public init(kind: Kind, subject: String, message: String) {
        self.kind = kind
        self.subject = subject
        self.message = message
    }
}

/// The outcome of a full verification pass.
public struct VerificationReport: Sendable {
    public var path: String
    public var format: CheckpointFormat
    public var files: [String]
    public var tensors: [TensorVerification] = []
    public var problems: [VerificationProblem] = []
    /// Tensor bytes read and checked.
    public var checkedBytes = 0
    /// Zip records whose CRC-32 was checked (PyTorch checkpoints).
    public var zipRecordsChecked = 0

    public var isClean: Bool { problems.isEmpty }
}
