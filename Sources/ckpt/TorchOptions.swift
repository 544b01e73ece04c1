import ArgumentParser
import CheckpointFormats

/// Options for reading PyTorch checkpoints, shared by the commands that open one.
struct TorchOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("PyTorch files: the dict to read as the state dict, as a dotted path (e.g. state_dict, model, model.module). Default: the top level, or its only (or conventionally named) dict of tensors.", valueName: "PATH"))
    var key: String?

    @Flag(name: .long, help: "PyTorch files: check the CRC-32 of every zip record before using it (reads the whole file; deflated records are always checked).")
    var verify = false

    var readOptions: TorchReadOptions { TorchReadOptions(key: key, verify: verify) }
}
