// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for ckpt's parsers. A separate package (depending on the main one by path) so that
// the fuzzer and address-sanitizer flags never reach the normal `swift build` / `swift test`.
// Build and run with ./run.sh TARGET SECONDS.
// run.sh passes -Xswiftc -sanitize=fuzzer,address so that the readers (in the main package) are
// instrumented too, not only these harnesses.

let targets = ["safetensors", "gguf", "zip", "pickle", "adapter-config", "index"]

let package = Package(
    name: "ckpt-fuzz",
    dependencies: [.package(name: "ckpt", path: "..")],
    targets: [
        .target(name: "FuzzInput", dependencies: [.product(name: "CheckpointCore", package: "ckpt"), .product(name: "CheckpointFormats", package: "ckpt")]),
    ] + targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [
                "FuzzInput",
                .product(name: "CheckpointCore", package: "ckpt"),
                .product(name: "CheckpointFormats", package: "ckpt"),
                .product(name: "CheckpointSurgery", package: "ckpt"),
            ]
        )
    }
)
