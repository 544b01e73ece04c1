import ArgumentParser

struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Inspect, convert and operate on model checkpoints (safetensors, GGUF, PyTorch; single, sharded or split).",
        discussion: """
        PATH arguments accept a .safetensors file, a .gguf file (any part of a split set), a PyTorch \
        checkpoint written by torch.save (.bin, .pt, .pth; its pickle is interpreted, never executed), a \
        sharded folder with model.safetensors.index.json or pytorch_model.bin.index.json (or the index file \
        itself), or a folder holding one such file; any file may be zstd-compressed (.zst).

        Exit status: 0 success; 1 problems found (verify); 2 usage error (bad option or value); 3 invalid or unsupported input \
        file; 4 I/O error (cannot read, write, or rename; disk full; an input changed while being read); 128+N killed by signal N, e.g. 130 for \
        SIGINT and 143 for SIGTERM (temporary outputs are removed first; no partial output is left behind).
        """,
        version: "0.1.0",
        subcommands: [InspectCommand.self, ConvertCommand.self, MergeCommand.self, UnmergeCommand.self, BenchCommand.self, RankCommand.self, ResizeCommand.self, ExtractCommand.self, MeloraCommand.self, CombineCommand.self, VerifyCommand.self, BenchLowRankCommand.self]
    )
}
