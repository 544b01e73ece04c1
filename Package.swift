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
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CheckpointFormats", dependencies: ["CheckpointCore", "CZstd", "CZlib"]),
        .executableTarget(
            name: "ckpt",
            dependencies: [
                "CheckpointCore", "CheckpointFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "CheckpointCoreTests", dependencies: ["CheckpointCore"]),
        .testTarget(name: "CheckpointFormatsTests", dependencies: ["CheckpointFormats", "CheckpointCore"]),
        .testTarget(name: "ckptTests", dependencies: ["ckpt"]),
    ]
)
