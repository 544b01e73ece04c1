import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

/// Text and JSON renderings of a merge / unmerge for the user.
enum SurgeryReport {
    static func table(_ changes: [TensorChange]) -> String {
        // Quantized outputs add the error requantization added, relative to ‖ΔW‖.
        let quantized = changes.contains { $0.requantizationNorm != nil }
        var lines = ["tensor\tkind\trank\t‖ΔW‖/‖W‖" + (quantized ? "\trequant/‖ΔW‖" : "")]
        for change in changes {
            let requant = quantized ? "\t" + (change.relativeRequantization.map(format6) ?? "-") : ""
            lines.append("\(escapedForTerminal(change.tensor))\t\(change.kind)\t\(change.rank)\t\(String(format6(change.relativeChange)))" + requant)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format6(_ value: Double) -> String {
        value.isFinite ? ByteSize.formatted(value, decimals: 6) : "inf"
    }

    static func json(command: String, adapters: [Adapter], weights: [Double], plan: MergePlan, outcome: SurgeryOutcome?, seconds: Double?, extra: [JSONMember] = []) -> JSONValue {
        var members: [JSONMember] = [JSONMember("command", .string(command))]
        members.append(JSONMember("adapters", .array(zip(adapters, weights).map { adapter, weight in
            .object([
                JSONMember("path", .string(adapter.path)),
                JSONMember("format", .string(adapter.format.rawValue)),
                JSONMember("weight", .number(String(weight))),
                JSONMember("modules", .number(String(adapter.deltas.count))),
                JSONMember("replaced_tensors", .number(String(adapter.replacements.count))),
                JSONMember("notes", .array(adapter.notes.map { .string($0) })),
            ])
        })))
        if let outcome {
            members.append(JSONMember("outputs", .array(outcome.outputs.map { .string($0) })))
            if !outcome.residualOutputs.isEmpty { members.append(JSONMember("residual", .array(outcome.residualOutputs.map { .string($0) }))) }
            members.append(JSONMember("tensors", .array(outcome.changes.map { change in
                .object([
                    JSONMember("tensor", .string(change.tensor)),
                    JSONMember("module", .string(change.module)),
                    JSONMember("kind", .string(change.kind)),
                    JSONMember("rank", .number(String(change.rank))),
                    JSONMember("adapters", .array(change.adapters.map { .number(String($0)) })),
                    JSONMember("base_norm", number(change.baseNorm)),
                    JSONMember("delta_norm", number(change.changeNorm)),
                    JSONMember("relative_change", number(change.relativeChange)),
                ] + (change.requantizationNorm.map { norm in
                    [JSONMember("requantization_norm", number(norm)), JSONMember("requantization_relative", number(change.relativeRequantization ?? 0))]
                } ?? []))
            })))
        }
        members += extra
        members.append(JSONMember("added", .array(plan.added.map { .string($0) })))
        members.append(JSONMember("skipped", .array(plan.skipped.map { .string($0) })))
        members.append(JSONMember("notes", .array(plan.notes.map { .string($0) })))
        if let seconds { members.append(JSONMember("seconds", .number(ByteSize.formatted(seconds, decimals: 3)))) }
        return .object(members)
    }

    static func number(_ value: Double) -> JSONValue {
        value.isFinite ? .number(String(value)) : .null
    }

    /// The dry-run plan as text.
    static func plan(_ plan: MergePlan, adapters: [Adapter], weights: [Double]) -> String {
        var lines: [String] = []
        for (index, adapter) in adapters.enumerated() {
            lines.append("adapter \(index): \(escapedForTerminal(adapter.path)) (\(adapter.format.rawValue), \(adapter.deltas.count) modules, weight \(weights[index]))")
            for note in adapter.notes { lines.append("  note: \(escapedForTerminal(note))") }
        }
        for output in plan.targets.keys.sorted() {
            guard let target = plan.targets[output] else { continue }
            let info = plan.outputs[output]
            var what: [String] = target.steps.map { step in
                let scales = step.delta.blocks.map { ByteSize.formatted($0.scale * step.weight, decimals: 6) }.joined(separator: ",")
                return "adapter \(step.adapter) \(step.delta.magnitude != nil ? "dora" : step.delta.kind.rawValue) r=\(step.delta.rank) scale=\(scales)"
            }
            what += target.biasSteps.map { "adapter \($0.adapter) lora_B.bias" }
            if let replacement = target.replacement { what.append("replaced by adapter \(replacement.adapter) (modules_to_save)") }
            if what.isEmpty { what = ["copy of \(plan.outputs[output].name)'s source (untied)"] }
            lines.append("\(escapedForTerminal(info.name)) \(info.dtype.userName) \(info.shape): \(what.joined(separator: "; "))")
        }
        for name in plan.added { lines.append("added: \(escapedForTerminal(name))") }
        for skipped in plan.skipped { lines.append("skipped: \(escapedForTerminal(skipped))") }
        for note in plan.notes { lines.append("note: \(escapedForTerminal(note))") }
        return lines.joined(separator: "\n") + "\n"
    }
}
