import CReplogCRC32C

/// CRC-32C (Castagnoli), the checksum of every record, segment header and metadata file.
public enum CRC32C {
    /// Continues `crc` over `bytes`; start from 0.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        replog_crc32c(crc, bytes.baseAddress, bytes.count)
    }

    /// Checksum of a byte sequence.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBytes { checksum($0) }
    }

    /// The table-driven implementation alone, so tests can compare it with the hardware one.
    public static func portableChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        replog_crc32c_portable(crc, bytes.baseAddress, bytes.count)
    }

    /// Whether the CPU's CRC32 instruction is in use.
    public static var isHardwareAccelerated: Bool { replog_crc32c_is_hardware() != 0 }
}
