// swift-tools-version:6.0
import PackageDescription

// Layers (see docs/DESIGN.md): ckpt → CheckpointFormats → CheckpointCore.
// CheckpointLinalg, CheckpointSurgery and the system-library targets arrive with the issues that use them.
let package = Package(
    name: "ckpt",
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
        .library(name: "CheckpointCore", targets: ["CheckpointCore"]),
        .library(name: "CheckpointFormats", targets: ["CheckpointFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CheckpointCore"),
        .target(name: "CheckpointFormats", dependencies: ["CheckpointCore"]),
        .executableTarget(
            name: "ckpt",
            dependencies: [
                "CheckpointCore", "CheckpointFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "ggml-bench", dependencies: ["CheckpointCore"], path: "Benchmarks/ggml-bench"),
        .testTarget(name: "CheckpointCoreTests", dependencies: ["CheckpointCore"]),
        .testTarget(name: "CheckpointFormatsTests", dependencies: ["CheckpointFormats", "CheckpointCore"]),
        .testTarget(name: "ckptTests", dependencies: ["ckpt"]),
    ]
)
