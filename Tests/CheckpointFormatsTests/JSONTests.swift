import Testing
@testable import CheckpointFormats

@Suite struct JSONTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func parsesAndKeepsOrderDuplicatesAndNumberText() throws {
        let value = try parse(" {\"b\":[1,-0.5e3,true,null],\"a\":\"x\",\"b\":{}}  ")
        guard case let .object(members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["b", "a", "b"])
        #expect(members[0].value == .array([.number("1"), .number("-0.5e3"), .bool(true), .null]))
        #expect(value["a"] == .string("x"))
    }

    @Test func decodesEscapes() throws {
        #expect(try parse(#""a\"b\\c\/\n\u00e9\ud83d\ude00""#) == .string("a\"b\\c/\né😀"))
    }

    @Test(arguments: [
        "{\"a\":1,}", "[1,]", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{a:1}", "{\"a\":1}x", "{\"a\":1}\0",
        "\"\\ud800\"", "\"\\x\"", "\"a\nb\"", "", "{", "[[[[", "tru", "{\"a\" 1}", "1e",
    ])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try parse(text) }
    }

    @Test func limitsDepth() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.Failure.self) { try parse(deep) }
    }

    @Test func compactEmitterMatchesSerde() {
        let text = JSONEmitter(style: .compact).text(.object([
            JSONMember("q", .string("a\"b\\c\n\u{01}é/\u{7F}\u{08}\u{0C}\t\r")), JSONMember("n", .array([.number("1"), .null])),
        ]))
        #expect(text == "{\"q\":\"a\\\"b\\\\c\\n\\u0001é/\u{7F}\\b\\f\\t\\r\",\"n\":[1,null]}")
    }

    @Test func pythonEmitterMatchesJsonDumps() {
        // json.dumps({"metadata": {"total_size": 3}, "weight_map": {"é": "a", "x😀": "b"}}, indent=2)
        let text = JSONEmitter(style: .python(indent: 2)).text(.object([
            JSONMember("metadata", .object([JSONMember("total_size", .number("3"))])),
            JSONMember("weight_map", .object([JSONMember("é", .string("a")), JSONMember("x😀", .string("b\u{7F}"))])),
            JSONMember("empty", .object([])), JSONMember("list", .array([])),
        ]))
        let expected = """
        {
          "metadata": {
            "total_size": 3
          },
          "weight_map": {
            "\\u00e9": "a",
            "x\\ud83d\\ude00": "b\\u007f"
          },
          "empty": {},
          "list": []
        }
        """
        #expect(text == expected)
    }
}
