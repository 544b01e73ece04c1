import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
import CheckpointSurgery
#if canImport(Glibc)
import Glibc
#endif

/// The exit codes ckpt documents (see `ckpt --help` and ckpt(1)).
enum ExitStatus {
    static let success: Int32 = 0
    static let problemsFound: Int32 = 1
    static let usage: Int32 = 2
    static let invalidInput: Int32 = 3
    static let ioError: Int32 = 4

    /// Prints `error` for the user and returns the exit code its kind deserves.
    static func report(_ error: Error) -> Int32 {
        if let code = code(for: error) {
            Terminal.printError("ckpt: error: \(error)")
            return code
        }
        // Parsing errors, --help and --version belong to ArgumentParser.
        let parserCode = Ckpt.exitCode(for: error)
        let message = Ckpt.fullMessage(for: error)
        if parserCode == .success {
            print(message)
            return success
        }
        Terminal.printError(message)
        return parserCode == .validationFailure ? usage : parserCode.rawValue
    }

    static func code(for error: Error) -> Int32? {
        switch error {
        case let failure as FileError: return failure.errno == EEXIST ? usage : ioError
        case is SafeTensorsError, is GGUFError, is LlamaConfig.ConfigError, is LlamaConversion.MappingError, is GGUFArchitectureSource.UnsupportedArchitecture, is GGUFLoRAAdapter.AdapterError, is RangeError, is Checkpoint.OpenError, is TensorShapeError: return invalidInput
        case is TorchError, is ZipError, is PickleError: return invalidInput
        case is ConversionPlan.PlanError, is TensorSelection.PatternError, is DTypeRules.RuleError, is UsageError: return usage
        case let failure as Converter.TensorError: return code(for: failure.underlying) ?? invalidInput
        case is ConversionError, is GGMLCodecError, is SurgeryError, is GGUFSurgeryError, is LinalgError, is LowRankEditError: return invalidInput
        case is WriterSequenceError: return ioError
        case let failure as ZstdError: return code(forCompression: failure)
        default: return nil
        }
    }
}

/// A command-line mistake found after parsing (an option combination, an output path).
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
