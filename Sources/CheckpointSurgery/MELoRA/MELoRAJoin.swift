import CheckpointLinalg

/// MELoRA → plain LoRA, exactly: A = blockdiag(A₁…A_n) [Σrᵢ, in], B = blockdiag(s₁B₁…s_nB_n)
/// [out, Σrᵢ], α = Σrᵢ so the scale is 1 (peers.md §4.9). The products B·A are the same sums of the
/// same terms, so the delta is unchanged up to the one rounding of sᵢ·Bᵢ.
public enum MELoRAJoin {
    public static func module(_ delta: ModuleDelta) -> LoRAOutput.Module {
        let rank = delta.blocks.reduce(0) { $0 + $1.a.rows }
        var a = Matrix(rows: rank, columns: delta.inFeatures)
        var b = Matrix(rows: delta.outFeatures, columns: rank)
        var offset = 0
        for block in delta.blocks {
            let r = block.a.rows
            for i in 0..<r {
                for j in 0..<block.a.columns { a[offset + i, block.columnOffset + j] = block.a[i, j] }
            }
            for row in 0..<block.b.rows {
                for j in 0..<r { b[block.rowOffset + row, offset + j] = Float(Double(block.b[row, j]) * block.scale) }
            }
            offset += r
        }
        return LoRAOutput.Module(module: delta.module, kind: .linear, kernel: [], b: b, a: a, alpha: Double(rank))
    }
}
