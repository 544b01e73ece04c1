import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

@Suite struct ConversionTests {
    @Test func selectionAndRenames() throws {
        let selection = try TensorSelection(include: ["^model\\."], exclude: ["norm"], renames: ["^model\\.layers\\.(\\d+)\\.=blk.$1.", "weight$=w"])
        #expect(selection.keeps("model.layers.0.q.weight"))
        #expect(!selection.keeps("model.layers.0.norm.weight"))
        #expect(!selection.keeps("lm_head.weight"))
        #expect(selection.rename("model.layers.12.q.weight") == "blk.12.q.w")
        #expect(throws: TensorSelection.PatternError.self) { try TensorSelection(include: ["("]) }
        #expect(throws: TensorSelection.PatternError.self) { try TensorSelection(renames: ["noequals"]) }
    }

    @Test func planCastsFloatsOnlyAndCatchesCollisions() throws {
        let tensors = [
            try TensorInfo(name: "a", dtype: .bf16, shape: [2]), try TensorInfo(name: "b", dtype: .i64, shape: [2]),
            try TensorInfo(name: "c", dtype: .bool, shape: [2]),
        ]
        let plan = try ConversionPlan(tensors: tensors, selection: TensorSelection(), floatDType: .f16, intDType: nil)
        #expect(plan.items.map(\.output.dtype) == [.f16, .i64, .bool])
        let ints = try ConversionPlan(tensors: tensors, selection: TensorSelection(), floatDType: nil, intDType: .i32)
        #expect(ints.items.map(\.output.dtype) == [.bf16, .i32, .bool])
        #expect(throws: ConversionPlan.PlanError.self) {
            try ConversionPlan(tensors: tensors, selection: TensorSelection(renames: [".*=x"]), floatDType: nil, intDType: nil)
        }
        #expect(throws: ConversionPlan.PlanError.self) {
            try ConversionPlan(tensors: tensors, selection: TensorSelection(include: ["zzz"]), floatDType: nil, intDType: nil)
        }
        #expect(throws: ConversionPlan.PlanError.self) {
            try ConversionPlan(tensors: tensors, selection: TensorSelection(), floatDType: .i8, intDType: nil)
        }
    }

    @Test func convertsAcrossChunksAndThreads() throws {
        let folder = try makeTemporaryFolder("convert")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let count = 300_001
        let values = (0..<count).map { Float($0) * 0.001 - 17 }
        try writeSafeTensors(folder + "/in.safetensors", metadata: [("format", "pt")], [
            (try TensorInfo(name: "big", dtype: .f32, shape: [count]), floats(values)),
            (try TensorInfo(name: "ids", dtype: .i32, shape: [3]), le([Int32(1), 2, 3])),
        ])
        let reader = try Checkpoint.open(folder + "/in.safetensors")
        let plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: .bf16, intDType: nil)
        var converter = Converter(reader: reader, plan: plan)
        converter.chunkElements = 70_000
        converter.threads = 3
        let writer = try SafeTensorsWriter(destination: folder + "/out.safetensors", metadata: reader.metadata.safetensors, tensors: plan.outputTensors, overwrite: false)
        var last = 0
        try converter.run(into: writer) { done, total in
            #expect(done > last && done <= total)
            last = done
        }
        #expect(last == plan.outputBytes)
        let output = try SafeTensorsReader(path: folder + "/out.safetensors")
        let expected = le(values.map { HalfPrecision.f32BitsToBF16($0.bitPattern) })
        #expect(Array(try output.data(at: output.tensors.firstIndex { $0.name == "big" }!).bytes) == expected)
        #expect(Array(try output.data(at: output.tensors.firstIndex { $0.name == "ids" }!).bytes) == le([Int32(1), 2, 3]))
    }

    @Test func failedConversionLeavesNoOutput() throws {
        let folder = try makeTemporaryFolder("convfail")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeSafeTensors(folder + "/in.safetensors", metadata: nil, [
            (try TensorInfo(name: "ids", dtype: .i64, shape: [2]), le([Int64(1), 1 << 40])),
        ])
        let reader = try Checkpoint.open(folder + "/in.safetensors")
        let plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: .i32)
        let writer = try SafeTensorsWriter(destination: folder + "/out.safetensors", metadata: nil, tensors: plan.outputTensors, overwrite: false)
        #expect(throws: Converter.TensorError.self) { try Converter(reader: reader, plan: plan).run(into: writer) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["in.safetensors"])
    }

    @Test func outputTargets() throws {
        #expect(try OutputTarget.resolve(path: "a/b.safetensors", format: nil, shardSize: nil) == .safetensors(path: "a/b.safetensors"))
        #expect(try OutputTarget.resolve(path: "a/b.safetensors", format: nil, shardSize: 10) == .shardedSafetensors(folder: "a", prefix: "b", maxShardSize: 10))
        #expect(try OutputTarget.resolve(path: "out/", format: nil, shardSize: 10) == .shardedSafetensors(folder: "out", prefix: "model", maxShardSize: 10))
        #expect(try OutputTarget.resolve(path: "x.gguf", format: nil, shardSize: nil) == .gguf(path: "x.gguf", splitMaxSize: 0, splitMaxTensors: 0))
        #expect(try OutputTarget.resolve(path: "x.pt", format: nil, shardSize: nil) == .torch(path: "x.pt"))
        #expect(throws: OutputTarget.ResolutionError.self) { try OutputTarget.resolve(path: "x.gguf", format: nil, shardSize: 10) }
        #expect(throws: OutputTarget.ResolutionError.self) { try OutputTarget.resolve(path: "x.weights", format: nil, shardSize: nil) }
        #expect(throws: OutputTarget.ResolutionError.self) { try OutputTarget.resolve(path: "x", format: "onnx", shardSize: nil) }
    }
}
