/// Block buffers kept for a whole merge run and reused by every changed tensor: the pages the first
/// tensor touched serve the next ones, instead of each tensor mapping (and faulting in) fresh blocks.
final class MergeBuffers: @unchecked Sendable {
    private var slots: [UnsafeMutableRawBufferPointer] = []

    init() {}

    deinit { slots.forEach { $0.deallocate() } }

    /// At least `bytes` bytes (64-byte aligned) for `slot`, grown when needed; the contents are undefined.
    func buffer(_ slot: Int, bytes: Int) -> UnsafeMutableRawBufferPointer {
        while slots.count <= slot { slots.append(UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        if slots[slot].count < bytes {
            slots[slot].deallocate()
            slots[slot] = .allocate(byteCount: max(bytes, 1), alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(rebasing: slots[slot][0..<bytes])
    }

    func floats(_ slot: Int, count: Int) -> UnsafeMutableBufferPointer<Float> {
        buffer(slot, bytes: count * 4).bindMemory(to: Float.self)
    }
}
