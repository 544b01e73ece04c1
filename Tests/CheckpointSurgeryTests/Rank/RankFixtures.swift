import Foundation

/// fixtures/rank (made by fixtures/rank/make_fixtures.py with torch, transformers and PEFT).
enum RankFixtures {
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("fixtures").path
    }()
    static let rank = folder + "/rank"

    /// expected.json, parsed.
    nonisolated(unsafe) static let expected: [String: Any] = {
        guard let data = FileManager.default.contents(atPath: rank + "/expected.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }()

    static func section(_ name: String) -> [String: [String: Any]] { expected[name] as? [String: [String: Any]] ?? [:] }

    static func temporaryFolder(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "ckpt-rank-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
