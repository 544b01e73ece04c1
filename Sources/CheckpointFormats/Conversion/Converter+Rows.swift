import CheckpointCore

extension Converter {
    /// Writes a tensor whose rows are reordered (and possibly cast), one head's rows at a time: reads
    /// the head's contiguous rows, gathers them in output order, converts, writes.
    func writePermuted(_ item: ConversionPlan.Item, into writer: any CheckpointWriter) throws {
        guard let permutation = item.rowPermutation else { return }
        let source = try reader.data(at: item.source)
        let rows = item.output.shape.first ?? 1
        let inRow = source.count / max(rows, 1)
        let outRow = item.output.byteCount / max(rows, 1)
        let headRows = rows / permutation.heads
        let gathered = OwnedBytes(count: headRows * inRow)
        let converted = OwnedBytes(count: headRows * outRow)
        let elementsPerRow = item.output.elementCount / max(rows, 1)
        for head in 0..<permutation.heads {
            for row in 0..<headRows {
                let from = permutation.sourceRow(head * headRows + row, rows: rows) * inRow
                gathered.bytes.baseAddress.map { target in
                    source.bytes.baseAddress.map { (target + row * inRow).copyMemory(from: $0 + from, byteCount: inRow) }
                }
            }
            if item.isCast {
                do {
                    try convertInParallel(UnsafeRawBufferPointer(gathered.bytes), item.sourceDType, converted.bytes, item.output.dtype, headRows * elementsPerRow)
                } catch {
                    throw TensorError(tensor: item.output.name, underlying: error)
                }
                try writer.write(UnsafeRawBufferPointer(converted.bytes))
            } else {
                try writer.write(UnsafeRawBufferPointer(gathered.bytes))
            }
        }
    }
}
