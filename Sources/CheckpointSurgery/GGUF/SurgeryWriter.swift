import CheckpointCore
import CheckpointFormats

extension OutputTarget {
    /// The writer of a merge or unmerge output. A GGUF output carries the input's metadata as
    /// `ckpt convert` does (a GGUF base keeps its architecture, hyperparameters and vocabulary, with
    /// `general.file_type` recomputed); other outputs keep the safetensors metadata as before.
    func makeSurgeryWriter(source: CheckpointMetadata, tensors: [TensorInfo], overwrite: Bool) throws -> any CheckpointWriter {
        if storesBlockTypes { return try makeWriter(carrying: source, tensors: tensors, overwrite: overwrite).writer }
        return try makeWriter(metadata: source.safetensors, tensors: tensors, overwrite: overwrite)
    }
}
