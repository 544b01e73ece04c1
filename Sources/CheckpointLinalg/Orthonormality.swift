import CBLAS

extension Matrix {
    /// An upper bound of ‖MᵀM − I‖_F for M with (nearly) unit columns: the Gram matrix is formed in
    /// Double, where products of Float32 values are exact and a sum of n terms is off by at most
    /// n·u_d·Σ|mᵢ||mⱼ| ≤ n·u_d·‖mᵢ‖·‖mⱼ‖ per entry (u_d = 2⁻⁵³, any order or FMA use), so the bound
    /// adds only that allowance, about 1e-11 here, instead of the λ√n·u ≈ 1e-5 per entry of a Float32
    /// Gram: a Float32 Gram's allowance alone can be larger than what it measures.
    public var orthonormalityDefect: Double {
        let n = rows, l = columns
        guard n > 0, l > 0, let n32 = Int32(exactly: n), let l32 = Int32(exactly: l) else { return 0 }
        let wide = elements.map(Double.init)
        var gram = [Double](repeating: 0, count: l * l)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, l32, n32, 1, wide, l32, 0, &gram, l32)
        var sum = 0.0, largest = 0.0
        for i in 0..<l {
            let diagonal = gram[i * l + i]
            largest = max(largest, diagonal)
            sum += (diagonal - 1) * (diagonal - 1)
            for j in (i + 1)..<l { sum += 2 * gram[i * l + j] * gram[i * l + j] }
        }
        // ‖mᵢ‖·‖mⱼ‖ ≤ max ‖mᵢ‖², and the few roundings of the sum above are far below the allowance.
        let allowance = Double(n) * Double.ulpOfOne / 2 * max(largest, 1) * Double(l) * 1.01
        return sum.squareRoot() + allowance
    }
}
