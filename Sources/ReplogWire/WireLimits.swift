/// The protocol's numeric limits, as specified in `Protocol/SPEC.md`.
public enum WireLimits {
    /// The protocol version this implementation speaks.
    public static let protocolVersion: UInt8 = 1
    /// Frame magic: the ASCII bytes `RPLG`.
    public static let magic: UInt32 = 0x5250_4C47
    /// Size of the fixed frame header in bytes.
    public static let headerSize = 20
    /// Default and protocol-wide maximum payload size of one frame: 64 MiB.
    public static let maxFrameSize: UInt32 = 64 << 20
    /// Maximum size of one entry (APPEND value): 16 MiB.
    public static let maxEntrySize: UInt32 = 16 << 20
    /// Maximum size of the data of one `BackupFetchResponse`: 16 MiB, well below the frame limit.
    public static let maxBackupChunk: UInt32 = 16 << 20
    /// Maximum UTF-8 length of an identifier or address string.
    public static let maxIdentifierLength = 255
    /// Maximum UTF-8 length of the human-readable text of an error.
    public static let maxErrorTextLength = 4096
}
