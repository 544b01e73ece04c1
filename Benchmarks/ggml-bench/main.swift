// Prints the ggml codecs' throughput: `swift run -c release ggml-bench [--parallel] [elements] [TYPE...]`.
import CheckpointCore
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let parallel = arguments.contains("--parallel")
let elements = arguments.compactMap { Int($0) }.first ?? 1 << 22
let selected = Set(arguments.filter { Int($0) == nil && !$0.hasPrefix("--") }.map { $0.uppercased() })
print("ggml codec throughput, \(parallel ? "parallel chunks" : "one thread"), \(elements) floats; GB/s of float32 (4 bytes/element)")
print("type     dequantize  quantize")
for type in DType.allCases where type.isBlockQuantized && (selected.isEmpty || selected.contains(type.ggmlName ?? "")) {
    guard let result = GGMLThroughput.measure(type, elements: elements, parallel: parallel), let name = type.ggmlName else { continue }
    let quantize: String = result.quantizeGBps.map { String(format: "%8.2f", $0) } ?? "       -"
    let dequantize: String = String(format: "%10.2f", result.dequantizeGBps)
    print(name.padding(toLength: 8, withPad: " ", startingAt: 0) + dequantize + "  " + quantize)
}
