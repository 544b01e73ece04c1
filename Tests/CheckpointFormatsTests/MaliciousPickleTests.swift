import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// fixtures/torch/malicious: pickles that try to run code or exhaust the reader (make_malicious.py).
/// Each is refused with its own error; none runs anything (the canary file never appears), while the
/// same bytes given to Python's pickle do create it (proof that the payloads are live).
@Suite(.serialized) struct MaliciousPickleTests {
    static let folder = fixturesFolder + "/torch/malicious"

    nonisolated(unsafe) static let manifest: [String: Any] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: folder + "/MANIFEST.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }()

    static var cases: [String: [String: Any]] { manifest["cases"] as? [String: [String: Any]] ?? [:] }
    static var names: [String] { cases.keys.sorted() }
    static var canary: String { manifest["canary"] as? String ?? "/tmp/ckpt-pickle-canary" }

    @Test func corpusIsLargeAndCoversTheAttacks() {
        #expect(Self.names.count >= 30)
        for needed in ["os_system", "builtins_eval", "builtins_exec", "subprocess_popen", "reduce_chain_getattr",
                       "reduce_inside_tensor_rebuild", "inst_system", "obj_opcode", "newobj_opcode", "memo_reuse_bomb",
                       "nesting_lists_100000", "huge_unicode_length"] {
            #expect(Self.cases[needed] != nil, "\(needed)")
        }
    }

    @Test(arguments: names)
    func refusedWithItsOwnError(_ name: String) throws {
        let expected = try #require(Self.cases[name])
        do {
            _ = try TorchReader(path: Self.folder + "/" + name + ".pt")
            Issue.record("\(name) was accepted")
        } catch let TorchError.pickle(file, error) {
            #expect(file.hasSuffix(name + ".pt"))
            #expect(error.caseName == expected["error"] as? String, "\(name): \(error)")
            #expect("\(error)".contains(expected["message"] as? String ?? "\u{0}"), "\(name): \(error)")
        }
    }

    @Test func nothingIsExecuted() throws {
        unlink(Self.canary)
        for name in Self.names {
            _ = try? Checkpoint.open(Self.folder + "/" + name + ".pt")
        }
        #expect(access(Self.canary, F_OK) != 0, "a payload ran: \(Self.canary) exists")
        // The refusal names the call and says it runs code.
        #expect(throws: TorchError.self) { try TorchReader(path: Self.folder + "/os_system.pt") }
        do {
            _ = try TorchReader(path: Self.folder + "/os_system.pt")
        } catch {
            #expect("\(error)".contains("refusing to construct os.system (pickle byte 2): not a tensor, container or primitive"))
            #expect("\(error)".contains("malicious pickles run code"))
        }
    }

    @Test(.enabled(if: InteropTests.available, "no Python: set CKPT_PYTHON"))
    func payloadsAreLiveForAnUnsafeUnpickler() throws {
        let python = try #require(InteropTests.python, "CKPT_REQUIRE_PYTHON=1 but no python (set CKPT_PYTHON)")
        unlink(Self.canary)
        defer { unlink(Self.canary) }
        let script = "import pickle, zipfile, sys\ntry:\n    pickle.loads(zipfile.ZipFile(sys.argv[1]).read('archive/data.pkl'))\nexcept Exception:\n    pass\n"
        _ = try runProcess(python, ["-c", script, Self.folder + "/os_system.pt"])
        #expect(access(Self.canary, F_OK) == 0, "Python's pickle did not run the os.system payload: the corpus is not live")
    }
}
