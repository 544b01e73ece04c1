import CheckpointCore

/// A stack-and-memo pickle interpreter that builds data and never runs code.
///
/// It understands the opcodes of protocols 0–5 that data pickles use. GLOBAL resolves names against
/// the allow-list of `PickleGlobal` only (nothing is imported); REDUCE interprets the few allowed
/// constructors (OrderedDict, set, bytes via `_codecs.encode`, torch's tensor rebuild functions);
/// persistent ids become `TorchStorage` values. INST, OBJ, NEWOBJ, extension codes and out-of-band
/// buffers are refused. Depth, stack, memo and object counts are bounded by `PickleLimits`, and every
/// length is checked against the bytes that remain.
public struct PickleMachine {
    let data: [UInt8]
    let limits: PickleLimits
    private var position = 0
    private var opcodeStart = 0
    private var opcodeName = ""
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var objects = 0
    /// Storages by key: a key seen again is the same storage (tied weights).
    public private(set) var storages: [String: TorchStorage] = [:]
    public private(set) var storageOrder: [String] = []
    /// Protocol declared by PROTO (nil when absent: protocol 0 or 1).
    public private(set) var proto: Int?

    public init(data: [UInt8], limits: PickleLimits = PickleLimits()) {
        self.data = data
        self.limits = limits
    }

    /// Runs the pickle to its STOP and returns the object it built.
    public mutating func run() throws(PickleError) -> PickleValue {
        while position < data.count {
            opcodeStart = position
            let opcode = data[position]
            opcodeName = PickleOpcode.name(opcode)
            position += 1
            if opcode == PickleOpcode.stop {
                guard let result = stack.popLast() else { throw .stackUnderflow(opcode: "STOP", offset: opcodeStart) }
                return result
            }
            try execute(opcode)
            if stack.count > limits.maxStack { throw .stackTooLarge(limit: limits.maxStack) }
        }
        throw .noStop
    }

    // MARK: - Dispatch

    private mutating func execute(_ op: UInt8) throws(PickleError) {
        typealias O = PickleOpcode
        switch op {
        case O.proto: proto = Int(try byte())
        case O.frame: _ = try bytes(8)
        case O.mark:
            guard marks.count < limits.maxDepth else { throw .tooDeep(limit: limits.maxDepth) }
            marks.append(stack.count)
        case O.pop:
            if stack.isEmpty, let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop() }
        case O.popMark: _ = try popToMark()
        case O.dup: push(try top())
        case O.none: push(.none)
        case O.newTrue: push(.bool(true))
        case O.newFalse: push(.bool(false))
        case O.binInt: push(.int(Int(Int32(bitPattern: UInt32(truncatingIfNeeded: try le(4))))))
        case O.binInt1: push(.int(Int(try byte())))
        case O.binInt2: push(.int(Int(try le(2))))
        case O.long1: push(.int(try longValue(Int(try byte()))))
        case O.long4:
            let count = Int(try le(4))
            push(.int(try longValue(count)))
        case O.int: try pushTextInt()
        case O.long:
            var text = try line()
            if text.hasSuffix("L") { text.removeLast() }
            guard let value = Int(text) else { throw .integerTooLarge(bytes: text.count, offset: opcodeStart) }
            push(.int(value))
        case O.float:
            guard let value = Double(try line()) else { throw .invalidText(opcode: opcodeName, offset: opcodeStart) }
            push(.float(value))
        case O.binFloat: push(.float(Double(bitPattern: try be(8))))
        case O.binUnicode: push(.string(try utf8(try counted(try le(4)))))
        case O.shortBinUnicode: push(.string(try utf8(try counted(UInt64(try byte())))))
        case O.binUnicode8: push(.string(try utf8(try counted(try le(8)))))
        case O.unicode: push(.string(try rawUnicodeEscape(try line())))
        case O.binString: push(.bytes(try counted(try le(4))))
        case O.shortBinString: push(.bytes(try counted(UInt64(try byte()))))
        case O.binBytes: push(.bytes(try counted(try le(4))))
        case O.shortBinBytes: push(.bytes(try counted(UInt64(try byte()))))
        case O.binBytes8: push(.bytes(try counted(try le(8))))
        case O.string: push(.bytes(try quotedString(try line())))
        case O.emptyTuple: push(try object(.tuple))
        case O.tuple: push(try object(.tuple, items: try popToMark()))
        case O.tuple1: push(try object(.tuple, items: try pop(1)))
        case O.tuple2: push(try object(.tuple, items: try pop(2)))
        case O.tuple3: push(try object(.tuple, items: try pop(3)))
        case O.emptyList: push(try object(.list))
        case O.list: push(try object(.list, items: try popToMark()))
        case O.emptyDict: push(try object(.dict))
        case O.dict:
            let items = try popToMark()
            let dict = try newObject(.dict)
            try setItems(dict, items)
            push(.object(dict))
        case O.emptySet: push(try object(.set))
        case O.frozenSet: push(try object(.set, items: try popToMark()))
        case O.append:
            let value = try pop()
            try container(for: "APPEND", kind: [.list]).append(value, limit: limits.maxDepth)
        case O.appends:
            let items = try popToMark()
            let list = try container(for: "APPENDS", kind: [.list])
            for item in items { try list.append(item, limit: limits.maxDepth) }
        case O.addItems:
            let items = try popToMark()
            let set = try container(for: "ADDITEMS", kind: [.set])
            for item in items { try set.append(item, limit: limits.maxDepth) }
        case O.setItem:
            let pair = try pop(2)
            try setItems(try container(for: "SETITEM", kind: [.dict, .orderedDict]), pair)
        case O.setItems:
            let items = try popToMark()
            try setItems(try container(for: "SETITEMS", kind: [.dict, .orderedDict]), items)
        case O.binPut: try memoize(Int(try byte()))
        case O.longBinPut: try memoize(Int(try le(4)))
        case O.put: try memoize(try textIndex())
        case O.memoize: try memoize(memo.count)
        case O.binGet: push(try recall(Int(try byte())))
        case O.longBinGet: push(try recall(Int(try le(4))))
        case O.get: push(try recall(try textIndex()))
        case O.global:
            let module = try line()
            let name = try line()
            push(.global(try resolve(module, name)))
        case O.stackGlobal:
            let pair = try pop(2)
            guard case let .string(module) = pair[0], case let .string(name) = pair[1] else {
                throw .badArguments(function: "STACK_GLOBAL", reason: "module and name must be strings", offset: opcodeStart)
            }
            push(.global(try resolve(module, name)))
        case O.inst:
            let module = try line()
            let name = try line()
            _ = try resolve(module, name)
            throw .unsupportedOpcode(name: "INST", offset: opcodeStart, reason: "it creates a class instance (\(module).\(name)); state dicts never do")
        case O.obj:
            let items = try popToMark()
            let what = items.first.map(\.summary) ?? "nothing"
            throw .unsupportedOpcode(name: "OBJ", offset: opcodeStart, reason: "it creates a class instance (\(what)); state dicts never do")
        case O.newObj, O.newObjEx:
            let values = try pop(op == O.newObj ? 2 : 3)
            if case .global(.orderedDict) = values[0] {
                push(try object(.orderedDict))
                return
            }
            throw .unsupportedOpcode(name: opcodeName, offset: opcodeStart, reason: "it creates a class instance (\(values[0].summary)); state dicts never do")
        case O.reduce:
            let arguments = try pop()
            let callable = try pop()
            push(try reduce(callable, arguments))
        case O.build:
            let state = try pop()
            try build(try top(), state)
        case O.binPersID: push(try persistentLoad(try pop()))
        case O.persID: push(try persistentLoad(.string(try line())))
        case O.ext1, O.ext2, O.ext4:
            throw .unsupportedOpcode(name: opcodeName, offset: opcodeStart, reason: "extension-registry globals are never used by torch.save")
        case O.nextBuffer, O.readonlyBuffer, O.byteArray8:
            throw .unsupportedOpcode(name: opcodeName, offset: opcodeStart, reason: "out-of-band buffers and bytearrays are never used by torch.save")
        default:
            throw .unknownOpcode(byte: op, offset: opcodeStart)
        }
    }

    // MARK: - Stack, memo and objects

    private mutating func push(_ value: PickleValue) { stack.append(value) }

    private mutating func pop() throws(PickleError) -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.popLast() else { throw .stackUnderflow(opcode: opcodeName, offset: opcodeStart) }
        return value
    }

    private mutating func pop(_ count: Int) throws(PickleError) -> [PickleValue] {
        guard stack.count - count >= (marks.last ?? 0) else { throw .stackUnderflow(opcode: opcodeName, offset: opcodeStart) }
        let values = Array(stack[(stack.count - count)...])
        stack.removeLast(count)
        return values
    }

    private func top() throws(PickleError) -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.last else { throw .stackUnderflow(opcode: opcodeName, offset: opcodeStart) }
        return value
    }

    private mutating func popToMark() throws(PickleError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw .markMissing(opcode: opcodeName, offset: opcodeStart) }
        let values = Array(stack[mark...])
        stack.removeLast(stack.count - mark)
        return values
    }

    private mutating func newObject(_ kind: PickleObject.Kind, items: [PickleValue] = []) throws(PickleError) -> PickleObject {
        objects += 1
        guard objects <= limits.maxObjects else { throw .tooManyObjects(limit: limits.maxObjects) }
        let made = PickleObject(kind, items: items)
        if made.depth > limits.maxDepth { throw .tooDeep(limit: limits.maxDepth) }
        for case let .object(child) in items {
            guard child !== made else { throw .cycle }
            try made.adopt(.object(child), limit: limits.maxDepth)
        }
        return made
    }

    private mutating func object(_ kind: PickleObject.Kind, items: [PickleValue] = []) throws(PickleError) -> PickleValue {
        .object(try newObject(kind, items: items))
    }

    private func container(for opcode: String, kind: Set<PickleObject.Kind>) throws(PickleError) -> PickleObject {
        let target = try top()
        guard case let .object(object) = target, kind.contains(object.kind) else {
            throw .wrongTarget(opcode: opcode, target: target.summary, offset: opcodeStart)
        }
        return object
    }

    private func setItems(_ dict: PickleObject, _ items: [PickleValue]) throws(PickleError) {
        guard items.count % 2 == 0 else { throw .stackUnderflow(opcode: opcodeName, offset: opcodeStart) }
        var index = 0
        while index < items.count {
            try dict.set(items[index], items[index + 1], limit: limits.maxDepth)
            index += 2
        }
    }

    private mutating func memoize(_ index: Int) throws(PickleError) {
        let value = try top()
        if memo.updateValue(value, forKey: index) == nil, memo.count > limits.maxMemo {
            throw .tooManyMemoEntries(limit: limits.maxMemo)
        }
    }

    private func recall(_ index: Int) throws(PickleError) -> PickleValue {
        guard let value = memo[index] else { throw .memoMissing(index: index, offset: opcodeStart) }
        return value
    }

    // MARK: - Globals and calls

    private func resolve(_ module: String, _ name: String) throws(PickleError) -> PickleGlobal {
        if let global = PickleGlobal.resolve(module: module, name: name) { return global }
        let root = String(module.split(separator: ".").first ?? "")
        let dangerous = PickleGlobal.codeExecutionModules.contains(root) || PickleGlobal.codeExecutionModules.contains(module)
        throw .refusedGlobal(module: module, name: name, offset: opcodeStart, executesCode: dangerous)
    }

    private mutating func reduce(_ callable: PickleValue, _ arguments: PickleValue) throws(PickleError) -> PickleValue {
        guard case let .global(function) = callable else { throw .notCallable(what: callable.summary, offset: opcodeStart) }
        guard case let .object(tuple) = arguments, tuple.kind == .tuple else {
            throw .badArguments(function: function.qualifiedName, reason: "arguments are \(arguments.summary), not a tuple", offset: opcodeStart)
        }
        let args = tuple.items
        switch function {
        case .orderedDict:
            guard args.isEmpty else { throw .badArguments(function: function.qualifiedName, reason: "expected no arguments", offset: opcodeStart) }
            return try object(.orderedDict)
        case .builtinSet, .builtinFrozenset:
            guard args.count <= 1 else { throw .badArguments(function: function.qualifiedName, reason: "expected one list", offset: opcodeStart) }
            if case let .object(list)? = args.first, list.kind == .list || list.kind == .tuple { return try object(.set, items: list.items) }
            guard args.isEmpty else { throw .badArguments(function: function.qualifiedName, reason: "expected a list", offset: opcodeStart) }
            return try object(.set)
        case .codecsEncode:
            guard args.count == 2, case let .string(text) = args[0], case let .string(encoding) = args[1] else {
                throw .badArguments(function: function.qualifiedName, reason: "expected (str, encoding)", offset: opcodeStart)
            }
            switch encoding.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                var out: [UInt8] = []
                for scalar in text.unicodeScalars {
                    guard scalar.value <= 0xFF else { throw .invalidText(opcode: "_codecs.encode", offset: opcodeStart) }
                    out.append(UInt8(scalar.value))
                }
                return .bytes(out)
            case "utf-8", "utf8": return .bytes(Array(text.utf8))
            default: throw .badArguments(function: function.qualifiedName, reason: "encoding \(encoding)", offset: opcodeStart)
            }
        case .torchSize:
            guard args.count == 1, case let .object(sizes) = args[0], sizes.kind == .tuple else {
                throw .badArguments(function: function.qualifiedName, reason: "expected one tuple", offset: opcodeStart)
            }
            return .object(sizes)
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3:
            return .tensor(try rebuildTensor(function, args))
        case .rebuildParameter, .rebuildParameterWithState:
            guard args.count == (function == .rebuildParameter ? 3 : 4), case let .tensor(tensor) = args[0] else {
                throw .badArguments(function: function.qualifiedName, reason: "expected (tensor, requires_grad, hooks\(function == .rebuildParameter ? "" : ", state"))", offset: opcodeStart)
            }
            return .tensor(tensor)
        case let .unsupportedTensorKind(name):
            throw .unsupportedTensor(kind: name, offset: opcodeStart)
        case .storageClass, .torchDType:
            throw .notCallable(what: function.qualifiedName, offset: opcodeStart)
        }
    }

    private func build(_ target: PickleValue, _ state: PickleValue) throws(PickleError) {
        switch target {
        case let .object(object) where object.isDict:
            var dict = state
            // (dict state, slot state) tuples: the slot part must be empty.
            if case let .object(pair) = state, pair.kind == .tuple, pair.items.count == 2 {
                dict = pair.items[0]
                if case .object = pair.items[1] { throw .badArguments(function: "BUILD", reason: "slot state on a dict", offset: opcodeStart) }
            }
            if case .none = dict { return }
            guard case let .object(attributes) = dict, attributes.isDict else {
                throw .badArguments(function: "BUILD", reason: "state is \(dict.summary)", offset: opcodeStart)
            }
            for pair in attributes.pairs { try object.setAttribute(pair.key, pair.value, limit: limits.maxDepth) }
        case .tensor:
            // Python attributes set on a tensor (`t.foo = 1`): not tensor data, ignored.
            return
        default:
            throw .wrongTarget(opcode: "BUILD", target: target.summary, offset: opcodeStart)
        }
    }

    // MARK: - Torch storages and tensors

    private mutating func persistentLoad(_ pid: PickleValue) throws(PickleError) -> PickleValue {
        guard case let .object(tuple) = pid, tuple.kind == .tuple, tuple.items.count == 5 else {
            throw .persistentID(reason: "is \(pid.summary), not a 5-tuple ('storage', class, key, location, size)", offset: opcodeStart)
        }
        let items = tuple.items
        guard case let .string(typename) = items[0], typename == "storage" else {
            throw .persistentID(reason: "has typename \(items[0].summary), expected 'storage'", offset: opcodeStart)
        }
        guard case let .global(.storageClass(className, dtype)) = items[1] else {
            throw .persistentID(reason: "names \(items[1].summary) instead of a storage class", offset: opcodeStart)
        }
        guard let dtype else { throw .unsupportedDType(name: "torch.\(className)", offset: opcodeStart) }
        guard case let .string(key) = items[2], !key.isEmpty, key.utf8.allSatisfy({ $0 >= 0x21 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }), key != ".", key != ".." else {
            throw .persistentID(reason: "has key \(items[2].summary), not a plain record name", offset: opcodeStart)
        }
        guard case let .string(location) = items[3] else {
            throw .persistentID(reason: "has location \(items[3].summary)", offset: opcodeStart)
        }
        guard case let .int(count) = items[4], count >= 0, let bytes = dtype.byteCount(elements: count) else {
            throw .persistentID(reason: "has size \(items[4].summary)", offset: opcodeStart)
        }
        if let known = storages[key] {
            guard known.dtype == dtype else { throw .storageDTypeConflict(key: key, first: known.dtype, second: dtype) }
            guard known.elementCount == count else {
                throw .persistentID(reason: "gives storage \(key) \(count) elements after \(known.elementCount)", offset: opcodeStart)
            }
            return .storage(known)
        }
        let storage = TorchStorage(key: key, dtype: dtype, elementCount: count, byteCount: bytes, location: location)
        storages[key] = storage
        storageOrder.append(key)
        return .storage(storage)
    }

    private func rebuildTensor(_ function: PickleGlobal, _ args: [PickleValue]) throws(PickleError) -> TorchTensor {
        let name = function.qualifiedName
        func fail(_ reason: String) -> PickleError { .badArguments(function: name, reason: reason, offset: opcodeStart) }
        let counts: ClosedRange<Int> = function == .rebuildTensor ? 4...4 : function == .rebuildTensorV2 ? 6...7 : 7...8
        guard counts.contains(args.count) else { throw fail("\(args.count) arguments") }
        guard case let .storage(storage) = args[0] else { throw fail("first argument is \(args[0].summary), not a storage") }
        guard case let .int(offset) = args[1], offset >= 0 else { throw fail("storage offset \(args[1].summary)") }
        let shape = try intTuple(args[2], "size", name)
        let stride = try intTuple(args[3], "stride", name)
        guard shape.count == stride.count else { throw fail("\(shape.count) sizes but \(stride.count) strides") }
        var dtype = storage.dtype
        var metadataIndex = 6
        if function == .rebuildTensorV3 {
            guard case let .global(.torchDType(dtypeName, resolved)) = args[6] else { throw fail("dtype argument is \(args[6].summary)") }
            guard let resolved else { throw .unsupportedDType(name: "torch.\(dtypeName)", offset: opcodeStart) }
            guard storage.dtype == .u8 else { throw fail("_rebuild_tensor_v3 of a typed storage") }
            dtype = resolved
            metadataIndex = 7
        }
        if args.count > metadataIndex, case let .object(metadata) = args[metadataIndex], !metadata.pairs.isEmpty {
            throw .unsupportedTensor(kind: "a tensor with extra metadata (conjugate or negative bit)", offset: opcodeStart)
        }
        guard dtype.bits % 8 == 0, dtype.bits > 0 else { throw .unsupportedDType(name: dtype.userName, offset: opcodeStart) }
        let width = dtype.bits / 8
        guard storage.byteCount % width == 0 else { throw fail("storage of \(storage.byteCount) bytes is not whole \(dtype.userName) elements") }
        let storageElements = storage.byteCount / width
        // Last element touched: offset + Σ (size − 1)·stride, checked for overflow.
        var last = offset
        var empty = false
        for (size, step) in zip(shape, stride) {
            guard size >= 0, step >= 0 else { throw fail("negative size or stride") }
            if size == 0 { empty = true; continue }
            let (product, overflow) = (size - 1).multipliedReportingOverflow(by: step)
            let (sum, overflow2) = last.addingReportingOverflow(product)
            guard !overflow, !overflow2 else { throw fail("size × stride overflows") }
            last = sum
        }
        if !empty {
            guard last < storageElements else {
                throw .viewOutOfBounds(shape: shape, stride: stride, offset: offset, needed: last &+ 1, storageElements: storageElements)
            }
        }
        return TorchTensor(storage: storage, dtype: dtype, shape: shape, stride: stride, storageOffset: offset)
    }

    private func intTuple(_ value: PickleValue, _ what: String, _ function: String) throws(PickleError) -> [Int] {
        guard case let .object(tuple) = value, tuple.kind == .tuple || tuple.kind == .list else {
            throw .badArguments(function: function, reason: "\(what) is \(value.summary)", offset: opcodeStart)
        }
        var out: [Int] = []
        for item in tuple.items {
            guard case let .int(number) = item else { throw .badArguments(function: function, reason: "\(what) holds \(item.summary)", offset: opcodeStart) }
            out.append(number)
        }
        return out
    }

    // MARK: - Reading operands

    private mutating func byte() throws(PickleError) -> UInt8 {
        guard position < data.count else { throw .truncated(offset: opcodeStart, opcode: opcodeName) }
        defer { position += 1 }
        return data[position]
    }

    private mutating func bytes(_ count: Int) throws(PickleError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= data.count - position else { throw .truncated(offset: opcodeStart, opcode: opcodeName) }
        defer { position += count }
        return data[position..<(position + count)]
    }

    private mutating func le(_ count: Int) throws(PickleError) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try bytes(count).enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }

    private mutating func be(_ count: Int) throws(PickleError) -> UInt64 {
        var value: UInt64 = 0
        for byte in try bytes(count) { value = value << 8 | UInt64(byte) }
        return value
    }

    /// A length-prefixed payload: the length is checked against the remaining bytes before use.
    private mutating func counted(_ length: UInt64) throws(PickleError) -> [UInt8] {
        let remaining = data.count - position
        guard length <= UInt64(remaining) else {
            throw .lengthTooLarge(opcode: opcodeName, length: length, remaining: remaining, offset: opcodeStart)
        }
        return Array(try bytes(Int(length)))
    }

    private func utf8(_ raw: [UInt8]) throws(PickleError) -> String {
        // CPython writes lone surrogates with "surrogatepass"; those are not valid UTF-8 and refused.
        guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidText(opcode: opcodeName, offset: opcodeStart) }
        return text
    }

    /// Little-endian two's complement of `count` bytes, which must fit in 64 bits.
    private mutating func longValue(_ count: Int) throws(PickleError) -> Int {
        guard count <= 8 else {
            if count > data.count - position { throw .lengthTooLarge(opcode: opcodeName, length: UInt64(count), remaining: data.count - position, offset: opcodeStart) }
            throw .integerTooLarge(bytes: count, offset: opcodeStart)
        }
        guard count > 0 else { return 0 }
        let raw = try le(count)
        let shift = UInt64(64 - 8 * count)
        return Int(Int64(bitPattern: raw << shift) >> Int64(shift))
    }

    /// A newline-terminated ASCII operand (protocol-0 style), at most 256 bytes.
    private mutating func line() throws(PickleError) -> String {
        let end = min(data.count, position + 257)
        guard let newline = data[position..<end].firstIndex(of: 0x0A) else {
            if end == data.count { throw .truncated(offset: opcodeStart, opcode: opcodeName) }
            throw .lengthTooLarge(opcode: opcodeName, length: UInt64(end - position), remaining: data.count - position, offset: opcodeStart)
        }
        let raw = data[position..<newline]
        position = newline + 1
        guard raw.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw .invalidText(opcode: opcodeName, offset: opcodeStart) }
        return String(decoding: raw, as: UTF8.self)
    }

    private mutating func textIndex() throws(PickleError) -> Int {
        guard let index = Int(try line()), index >= 0 else { throw .invalidText(opcode: opcodeName, offset: opcodeStart) }
        return index
    }

    private mutating func pushTextInt() throws(PickleError) {
        let text = try line()
        switch text {
        case "00": push(.bool(false))
        case "01": push(.bool(true))
        default:
            guard let value = Int(text) else { throw .integerTooLarge(bytes: text.count, offset: opcodeStart) }
            push(.int(value))
        }
    }

    /// Protocol-0 `UNICODE` text: `\uXXXX` and `\UXXXXXXXX` escapes, everything else literal.
    private func rawUnicodeEscape(_ text: String) throws(PickleError) -> String {
        var out = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            if scalars[index] == "\\", index + 1 < scalars.count, scalars[index + 1] == "u" || scalars[index + 1] == "U" {
                let digits = scalars[index + 1] == "u" ? 4 : 8
                guard index + 2 + digits <= scalars.count,
                      let value = UInt32(String(String.UnicodeScalarView(scalars[(index + 2)..<(index + 2 + digits)])), radix: 16),
                      let scalar = Unicode.Scalar(value) else { throw .invalidText(opcode: opcodeName, offset: opcodeStart) }
                out.append(scalar)
                index += 2 + digits
            } else {
                out.append(scalars[index])
                index += 1
            }
        }
        return String(out)
    }

    /// Protocol-0 `STRING`: a quoted literal; escapes other than `\\`, `\'` and `\"` are refused.
    private func quotedString(_ text: String) throws(PickleError) -> [UInt8] {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, let quote = bytes.first, quote == bytes.last, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
            throw .invalidText(opcode: opcodeName, offset: opcodeStart)
        }
        var out: [UInt8] = []
        var index = 1
        while index < bytes.count - 1 {
            if bytes[index] == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count - 1, [UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\"")].contains(bytes[index + 1]) else {
                    throw .invalidText(opcode: opcodeName, offset: opcodeStart)
                }
                index += 1
            }
            out.append(bytes[index])
            index += 1
        }
        return out
    }
}
