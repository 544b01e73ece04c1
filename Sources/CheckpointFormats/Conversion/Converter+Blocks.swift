import CheckpointCore

extension Converter {
    /// Bytes of `rows` rows of `rowLength` elements of `dtype` (block types: whole blocks per row).
    static func rowBytes(_ dtype: DType, rowLength: Int) -> Int {
        dtype.byteCount(elements: rowLength) ?? 0
    }

    /// Converts `count` elements (whole rows of `rowLength`) between any two types ckpt can decode and
    /// encode, through float32 when a ggml block type is on either side.
    func recode(_ input: UnsafeRawBufferPointer, _ from: DType, into output: UnsafeMutableRawBufferPointer, _ to: DType, count: Int, rowLength: Int, scratch: inout OwnedBytes?) throws {
        if from == to {
            if let target = output.baseAddress, let source = input.baseAddress { target.copyMemory(from: source, byteCount: min(input.count, output.count)) }
            return
        }
        guard from.isBlockQuantized || to.isBlockQuantized else {
            try convertInParallel(input, from, output, to, count)
            return
        }
        if scratch == nil || scratch!.count < count * 4 { scratch = OwnedBytes(count: count * 4) }
        guard let floats = scratch else { return }
        let values = UnsafeMutableRawBufferPointer(rebasing: floats.bytes[0..<(count * 4)])
        if from.isBlockQuantized {
            try GGMLCodec.dequantize(from, from: input, into: values.bindMemory(to: Float.self))
        } else {
            try convertInParallel(input, from, values, .f32, count)
        }
        if to.isBlockQuantized {
            try GGMLCodec.quantize(to, from: UnsafeBufferPointer(values.bindMemory(to: Float.self)), into: output, rowLength: rowLength)
        } else {
            try convertInParallel(UnsafeRawBufferPointer(values), .f32, output, to, count)
        }
    }

    /// Streams a tensor that is quantized or dequantized on the way, whole rows at a time: each chunk of
    /// rows is read with `pread`, decoded to float32, encoded and written, so memory stays at a few
    /// chunk buffers whatever the tensor size.
    func writeRecoded(_ item: ConversionPlan.Item, into writer: any CheckpointWriter, progress: (Int) -> Void) throws {
        let rowLength = max(item.output.shape.last ?? 1, 1)
        let rows = item.output.elementCount / rowLength
        let inRow = Self.rowBytes(item.sourceDType, rowLength: rowLength)
        let outRow = Self.rowBytes(item.output.dtype, rowLength: rowLength)
        let chunkRows = max(1, min(rows, chunkElements / rowLength))
        let input = OwnedBytes(count: chunkRows * inRow)
        let output = OwnedBytes(count: chunkRows * outRow)
        var scratch: OwnedBytes?
        let chunks = try TensorChunks(reader: reader, index: item.source)
        var row = 0
        while row < rows {
            let n = min(chunkRows, rows - row)
            let chunk = try chunks.bytes(at: row * inRow, count: n * inRow, buffer: input)
            let target = UnsafeMutableRawBufferPointer(rebasing: output.bytes[0..<(n * outRow)])
            do {
                try recode(chunk, item.sourceDType, into: target, item.output.dtype, count: n * rowLength, rowLength: rowLength, scratch: &scratch)
            } catch {
                throw TensorError(tensor: item.output.name, underlying: error)
            }
            try writer.write(UnsafeRawBufferPointer(target))
            progress(n * outRow)
            row += n
        }
    }
}
