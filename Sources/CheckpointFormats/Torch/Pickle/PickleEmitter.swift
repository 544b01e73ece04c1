/// Writes protocol-2 pickle opcodes the way CPython's C pickler does (formats.md §3.3–3.5): ints in
/// the smallest of BININT1 / BININT2 / BININT / LONG1, strings as BINUNICODE, memo indices assigned in
/// order with BINPUT (LONG_BINPUT from 256) and recalled with BINGET / LONG_BINGET.
struct PickleEmitter {
    private(set) var bytes: [UInt8] = [PickleOpcode.proto, 2]
    private var nextMemo = 0
    /// Memo indices of values the pickler would see as the same object (globals, shared strings).
    private var shared: [String: Int] = [:]

    mutating func op(_ opcode: UInt8) { bytes.append(opcode) }

    /// BINPUT of the value just written; returns its memo index.
    @discardableResult
    mutating func memoize() -> Int {
        let index = nextMemo
        nextMemo += 1
        if index < 256 {
            bytes += [PickleOpcode.binPut, UInt8(index)]
        } else {
            bytes.append(PickleOpcode.longBinPut)
            bytes.appendLE(UInt32(index))
        }
        return index
    }

    mutating func get(_ index: Int) {
        if index < 256 {
            bytes += [PickleOpcode.binGet, UInt8(index)]
        } else {
            bytes.append(PickleOpcode.longBinGet)
            bytes.appendLE(UInt32(index))
        }
    }

    mutating func int(_ value: Int) {
        switch value {
        case 0...0xFF: bytes += [PickleOpcode.binInt1, UInt8(value)]
        case 0x100...0xFFFF:
            bytes.append(PickleOpcode.binInt2)
            bytes.appendLE(UInt16(value))
        case Int(Int32.min)...Int(Int32.max):
            bytes.append(PickleOpcode.binInt)
            bytes.appendLE(Int32(value))
        default:
            // LONG1: the shortest little-endian two's complement, as CPython's encode_long.
            var raw: [UInt8] = []
            raw.appendLE(Int64(value))
            while raw.count > 1 {
                let last = raw[raw.count - 1], previous = raw[raw.count - 2]
                if (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) { raw.removeLast() } else { break }
            }
            bytes += [PickleOpcode.long1, UInt8(raw.count)] + raw
        }
    }

    /// A fresh string object (memoized).
    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(PickleOpcode.binUnicode)
        bytes.appendLE(UInt32(utf8.count))
        bytes += utf8
        memoize()
    }

    /// A string or global that is one shared object in the pickler: BINGET after its first time.
    mutating func sharedString(_ text: String) {
        if let index = shared["s:" + text] { return get(index) }
        string(text)
        shared["s:" + text] = nextMemo - 1
    }

    mutating func global(_ module: String, _ name: String) {
        if let index = shared["g:" + module + "." + name] { return get(index) }
        bytes.append(PickleOpcode.global)
        bytes += Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
        shared["g:" + module + "." + name] = memoize()
    }

    /// A tuple of ints (a size or stride): EMPTY_TUPLE, TUPLE1-3 or MARK…TUPLE, memoized when not empty.
    mutating func intTuple(_ values: [Int]) {
        guard !values.isEmpty else { return op(PickleOpcode.emptyTuple) }
        if values.count > 3 { op(PickleOpcode.mark) }
        values.forEach { int($0) }
        switch values.count {
        case 1: op(PickleOpcode.tuple1)
        case 2: op(PickleOpcode.tuple2)
        case 3: op(PickleOpcode.tuple3)
        default: op(PickleOpcode.tuple)
        }
        memoize()
    }

    mutating func stop() { op(PickleOpcode.stop) }
}
