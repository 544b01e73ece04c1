/// The row reorder llama.cpp's converter applies to Q and K projections (and to LoRA B factors of
/// them) so that rotary embeddings pair neighbouring rows: within each of `heads` groups of rows, the
/// two halves are interleaved (`reshape(heads, 2, rows/heads/2, …).swapaxes(1, 2)`). `inverse`
/// undoes it (GGUF → Hugging Face).
public struct RowPermutation: Sendable, Equatable {
    public var heads: Int
    public var inverse: Bool

    public init(heads: Int, inverse: Bool = false) {
        self.heads = heads
        self.inverse = inverse
    }

    /// Whether `rows` rows can be permuted (whole heads of an even number of rows).
    public func fits(rows: Int) -> Bool {
        heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0
    }

    /// The input row that lands at output row `row`, for a tensor of `rows` rows (`fits(rows:)`).
    public func sourceRow(_ row: Int, rows: Int) -> Int {
        let size = rows / heads
        let half = size / 2
        let head = row / size
        let inner = row % size
        if inverse {
            // Output (HF) row i·half + j came from GGUF row 2j + i.
            return head * size + (inner % half) * 2 + inner / half
        }
        // Output (GGUF) row 2j + i came from HF row i·half + j.
        return head * size + (inner % 2) * half + inner / 2
    }
}
