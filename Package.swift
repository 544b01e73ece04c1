// swift-tools-version:6.0
import PackageDescription

// Layers (see docs/DESIGN.md): ckpt → CheckpointSurgery → CheckpointLinalg → CBLAS;
// ckpt → CheckpointFormats → CheckpointCore (Surgery also uses Formats and Core).
let package = Package(
    name: "ckpt",
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
        .library(name: "CheckpointCore", targets: ["CheckpointCore"]),
        .library(name: "CheckpointFormats", targets: ["CheckpointFormats"]),
        .library(name: "CheckpointLinalg", targets: ["CheckpointLinalg"]),
        .library(name: "CheckpointSurgery", targets: ["CheckpointSurgery"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CFileIO"),
        .target(name: "CheckpointCore", dependencies: ["CFileIO"]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CheckpointFormats", dependencies: ["CheckpointCore", "CZstd", "CZlib"]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CKernels", linkerSettings: [.linkedLibrary("m")]),
        .target(name: "CheckpointLinalg", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "CheckpointSurgery", dependencies: ["CheckpointLinalg", "CKernels", "CheckpointFormats", "CheckpointCore"]),
        .executableTarget(
            name: "ckpt",
            dependencies: [
                "CheckpointCore", "CheckpointFormats", "CheckpointLinalg", "CheckpointSurgery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "ggml-bench", dependencies: ["CheckpointCore"], path: "Benchmarks/ggml-bench"),
        .testTarget(name: "CheckpointCoreTests", dependencies: ["CheckpointCore"]),
        .testTarget(name: "CheckpointFormatsTests", dependencies: ["CheckpointFormats", "CheckpointCore"]),
        .testTarget(name: "CheckpointLinalgTests", dependencies: ["CheckpointLinalg"]),
        .testTarget(name: "CheckpointSurgeryTests", dependencies: ["CheckpointSurgery", "CheckpointLinalg", "CheckpointFormats", "CheckpointCore"]),
        .testTarget(name: "ckptTests", dependencies: ["ckpt"]),
    ]
)
