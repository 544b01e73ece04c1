import CheckpointCore

extension Converter {
    /// Writes a tensor that is reshaped or rescaled on the way (row permutation, transpose, scale),
    /// then cast: the tensor is gathered in memory (the largest such tensor bounds memory), scaled in
    /// float32 when asked, converted to the output dtype and written.
    func writeTransformed(_ item: ConversionPlan.Item, into writer: any CheckpointWriter) throws {
        let source = try reader.data(at: item.source)
        let rows = item.transposed ? (item.output.shape.last ?? 1) : (item.output.shape.first ?? 1)
        let count = item.output.elementCount
        let inRow = rows > 0 ? source.count / rows : 0
        var gathered = OwnedBytes(count: source.count)
        if item.transposed {
            // Output [columns, rows] from input [rows, columns], element by element.
            let width = item.sourceDType.bits / 8
            let columns = rows > 0 ? count / rows : 0
            if let input = source.bytes.baseAddress, let output = gathered.bytes.baseAddress {
                for row in 0..<rows {
                    for column in 0..<columns {
                        (output + (column * rows + row) * width).copyMemory(from: input + (row * columns + column) * width, byteCount: width)
                    }
                }
            }
        } else if let permutation = item.rowPermutation {
            if let input = source.bytes.baseAddress, let output = gathered.bytes.baseAddress {
                for row in 0..<rows {
                    (output + row * inRow).copyMemory(from: input + permutation.sourceRow(row, rows: rows) * inRow, byteCount: inRow)
                }
            }
        } else if let input = source.bytes.baseAddress, let output = gathered.bytes.baseAddress {
            output.copyMemory(from: input, byteCount: source.count)
        }
        var dtype = item.sourceDType
        do {
            if let scale = item.scale {
                let floats = OwnedBytes(count: count * 4)
                var scratch: OwnedBytes?
                try recode(UnsafeRawBufferPointer(gathered.bytes), dtype, into: floats.bytes, .f32, count: count, rowLength: max(item.output.shape.last ?? 1, 1), scratch: &scratch)
                let values = floats.bytes.bindMemory(to: Float.self)
                for index in values.indices { values[index] = Float(Double(values[index]) * scale) }
                gathered = floats
                dtype = .f32
            }
            if dtype != item.output.dtype {
                let converted = OwnedBytes(count: item.output.byteCount)
                var scratch: OwnedBytes?
                try recode(UnsafeRawBufferPointer(gathered.bytes), dtype, into: converted.bytes, item.output.dtype, count: count, rowLength: max(item.output.shape.last ?? 1, 1), scratch: &scratch)
                gathered = converted
            }
        } catch {
            throw TensorError(tensor: item.output.name, underlying: error)
        }
        try writer.write(UnsafeRawBufferPointer(rebasing: gathered.bytes[0..<item.output.byteCount]))
    }
}
