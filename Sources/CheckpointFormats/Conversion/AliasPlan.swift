import CheckpointCore

extension ConversionPlan {
    /// The source's aliases (alias, kept name) as they apply to this plan's output: both names must be
    /// selected, and both are renamed like tensors.
    public func outputAliases(_ aliases: [(name: String, target: String)], selection: TensorSelection) -> [(name: String, target: String)] {
        let written = Set(items.map { Array($0.output.name.utf8) })
        return aliases.compactMap { alias in
            guard selection.keeps(alias.name) else { return nil }
            let target = selection.rename(alias.target)
            guard written.contains(Array(target.utf8)) else { return nil }
            return (selection.rename(alias.name), target)
        }
    }
}
