/// How tensors are grouped into shards: huggingface_hub's `split_state_dict_into_shards_factory`
/// (what transformers' `save_pretrained` uses), so that our shards match theirs byte for byte.
///
/// Tensors are taken in state-dict order and added greedily; a tensor that would take the current
/// shard over the cap starts a new shard; a tensor larger than the cap gets a shard of its own,
/// placed in the list at the moment it is met (before the shard being filled).
public enum ShardPlan {
    /// Groups of tensor indices, one group per shard, in shard order.
    public static func groups(byteCounts: [Int], maxShardSize: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var current: [Int] = []
        var currentSize = 0
        for (index, size) in byteCounts.enumerated() {
            if size > maxShardSize {
                shards.append([index])
                continue
            }
            if currentSize + size > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(index)
            currentSize += size
        }
        if !current.isEmpty { shards.append(current) }
        return shards
    }
}
