import NIOCore

/// How the CLI shows entry bytes and JSON, shared by every command that prints log content.
enum EntryFormatting {
    /// The bytes as text when they are printable UTF-8, else as hex; `isText` says which.
    static func display(_ bytes: ByteBuffer) -> (text: String, isText: Bool) {
        let view = bytes.readableBytesView
        if let text = String(validating: view, as: UTF8.self),
            text.unicodeScalars.allSatisfy({ $0 == "\t" || $0.value >= 0x20 && $0.value != 0x7F })
        {
            return (text, true)
        }
        return (hex(view), false)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
