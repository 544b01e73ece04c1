/// Bounds on what a pickle may build, so that a hostile `data.pkl` cannot exhaust memory or stack.
/// Real state dicts stay far below: nesting under 10, one stack entry per item of a batch of 1000.
public struct PickleLimits: Sendable {
    public var maxDepth = 1000
    public var maxStack = 1 << 20
    public var maxMemo = 1 << 24
    public var maxObjects = 1 << 26

    public init() {}
}
