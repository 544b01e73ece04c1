extension ThinSVD {
    /// The first `k` components (all when k exceeds their number).
    public func truncated(_ k: Int) -> ThinSVD {
        let keep = max(min(k, sigma.count), 0)
        var left = Matrix(rows: u.rows, columns: keep)
        for row in 0..<u.rows {
            for j in 0..<keep { left.elements[row * keep + j] = u.elements[row * u.columns + j] }
        }
        let right = vt.withView { $0.rows(0..<keep).copy() }
        return ThinSVD(u: left, sigma: Array(sigma.prefix(keep)), vt: right)
    }

    /// LoRA factors of the first `k` components with σ on the up side (kohya, PEFT, LyCORIS,
    /// peers.md §4.3): `B = U_k·diag(σ_k)` (m × k), `A = Vᵀ_k` (k × n), divided by `scale` so that
    /// `scale · B·A` is the truncation.
    public func loraFactors(rank k: Int, scale: Double = 1) -> (b: Matrix, a: Matrix) {
        let part = truncated(k)
        var b = part.u
        let keep = part.sigma.count
        for row in 0..<b.rows {
            for j in 0..<keep { b.elements[row * keep + j] = Float(Double(b.elements[row * keep + j]) * Double(part.sigma[j]) / scale) }
        }
        return (b, part.vt)
    }
}
