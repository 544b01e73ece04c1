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

/// The pickle machine on hand-written opcodes: values, memo, protocol-0 text forms, limits.
@Suite struct PickleMachineTests {
    func run(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws -> PickleValue {
        var machine = PickleMachine(data: bytes, limits: limits)
        return try machine.run()
    }

    @Test func integersOfEveryWidth() throws {
        func int(_ bytes: [UInt8]) throws -> Int? { if case let .int(value) = try run([0x80, 2] + bytes + [0x2E]) { return value }; return nil }
        #expect(try int([0x4B, 0xFF]) == 255)
        #expect(try int([0x4D, 0x00, 0x01]) == 256)
        #expect(try int([0x4A, 0xFF, 0xFF, 0xFF, 0xFF]) == -1)
        #expect(try int([0x8A, 0x05, 0x00, 0x00, 0x00, 0x80, 0x00]) == 1 << 31)
        #expect(try int([0x8A, 0x01, 0xFF]) == -1)
        #expect(try int([0x8A, 0x00]) == 0)
        #expect(try int(Array("I12345\n".utf8)) == 12345)
        #expect(try int(Array("L-7L\n".utf8)) == -7)
    }

    @Test func memoAndTextOpcodes() throws {
        // Protocol 0: (V'abc' p0 g0 l  → ['abc', 'abc'] with PUT/GET and raw-unicode-escape.
        let value = try run(Array("(Va\\u00e9c\np0\ng0\nl.".utf8))
        guard case let .object(list) = value else { Issue.record("not a list"); return }
        #expect(list.items.count == 2)
        if case let .string(text) = list.items[1] { #expect(text == "aéc") } else { Issue.record("not a string") }
        if case let .float(number) = try run([0x80, 2, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x2E]) { #expect(number == 1.5) } else { Issue.record("not a float") }
        // Protocol-2 bytes: _codecs.encode('ÿ', 'latin1') → b'\xff'.
        let encode: [UInt8] = Array("c_codecs\nencode\n(".utf8) + [0x58, 2, 0, 0, 0, 0xC3, 0xBF, 0x58, 6, 0, 0, 0] + Array("latin1tR.".utf8)
        if case let .bytes(raw) = try run(encode) { #expect(raw == [0xFF]) } else { Issue.record("not bytes") }
    }

    @Test func limitsAreConfigurable() throws {
        var limits = PickleLimits()
        limits.maxMemo = 2
        #expect(throws: PickleError.tooManyMemoEntries(limit: 2)) { try run([0x80, 2, 0x4E, 0x71, 0, 0x71, 1, 0x71, 2, 0x2E], limits: limits) }
        limits = PickleLimits()
        limits.maxObjects = 3
        #expect(throws: PickleError.tooManyObjects(limit: 3)) { try run([0x80, 2, 0x5D, 0x5D, 0x5D, 0x5D, 0x2E], limits: limits) }
        limits = PickleLimits()
        limits.maxStack = 4
        #expect(throws: PickleError.stackTooLarge(limit: 4)) { try run([0x80, 2] + [UInt8](repeating: 0x4E, count: 5) + [0x2E], limits: limits) }
        #expect(throws: PickleError.noStop) { try run([0x80, 2, 0x4E]) }
        #expect(throws: PickleError.markMissing(opcode: "TUPLE", offset: 2)) { try run([0x80, 2, 0x74, 0x2E]) }
        #expect(throws: PickleError.stackUnderflow(opcode: "APPEND", offset: 3)) { try run([0x80, 2, 0x5D, 0x61, 0x2E]) }
    }
}
