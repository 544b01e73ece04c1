/// Pickle opcodes of protocols 0–5 (CPython `Lib/pickle.py`), by byte.
enum PickleOpcode {
    static let mark: UInt8 = 0x28, stop: UInt8 = 0x2E, pop: UInt8 = 0x30, popMark: UInt8 = 0x31, dup: UInt8 = 0x32
    static let float: UInt8 = 0x46, int: UInt8 = 0x49, binInt: UInt8 = 0x4A, binInt1: UInt8 = 0x4B, long: UInt8 = 0x4C
    static let binInt2: UInt8 = 0x4D, none: UInt8 = 0x4E, persID: UInt8 = 0x50, binPersID: UInt8 = 0x51, reduce: UInt8 = 0x52
    static let string: UInt8 = 0x53, binString: UInt8 = 0x54, shortBinString: UInt8 = 0x55, unicode: UInt8 = 0x56
    static let binUnicode: UInt8 = 0x58, append: UInt8 = 0x61, build: UInt8 = 0x62, global: UInt8 = 0x63, dict: UInt8 = 0x64
    static let emptyDict: UInt8 = 0x7D, appends: UInt8 = 0x65, get: UInt8 = 0x67, binGet: UInt8 = 0x68, inst: UInt8 = 0x69
    static let longBinGet: UInt8 = 0x6A, list: UInt8 = 0x6C, emptyList: UInt8 = 0x5D, obj: UInt8 = 0x6F, put: UInt8 = 0x70
    static let binPut: UInt8 = 0x71, longBinPut: UInt8 = 0x72, setItem: UInt8 = 0x73, tuple: UInt8 = 0x74
    static let emptyTuple: UInt8 = 0x29, setItems: UInt8 = 0x75, binFloat: UInt8 = 0x47
    static let proto: UInt8 = 0x80, newObj: UInt8 = 0x81, ext1: UInt8 = 0x82, ext2: UInt8 = 0x83, ext4: UInt8 = 0x84
    static let tuple1: UInt8 = 0x85, tuple2: UInt8 = 0x86, tuple3: UInt8 = 0x87, newTrue: UInt8 = 0x88, newFalse: UInt8 = 0x89
    static let long1: UInt8 = 0x8A, long4: UInt8 = 0x8B
    static let binBytes: UInt8 = 0x42, shortBinBytes: UInt8 = 0x43
    static let shortBinUnicode: UInt8 = 0x8C, binUnicode8: UInt8 = 0x8D, binBytes8: UInt8 = 0x8E, emptySet: UInt8 = 0x8F
    static let addItems: UInt8 = 0x90, frozenSet: UInt8 = 0x91, newObjEx: UInt8 = 0x92, stackGlobal: UInt8 = 0x93
    static let memoize: UInt8 = 0x94, frame: UInt8 = 0x95
    static let byteArray8: UInt8 = 0x96, nextBuffer: UInt8 = 0x97, readonlyBuffer: UInt8 = 0x98

    static let names: [UInt8: String] = [
        0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
        0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID", 0x51: "BINPERSID",
        0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE",
        0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET",
        0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET", 0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT",
        0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS",
        0x47: "BINFLOAT", 0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
        0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES",
        0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET",
        0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
        0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    static func name(_ byte: UInt8) -> String { names[byte] ?? "0x" + String(byte, radix: 16) }
}
