internal import COpenSSL
internal import CReplogOpenSSLShims

/// One entry of OpenSSL's thread-local error queue, turned into text at the moment it is drained.
public struct OpenSSLErrorEntry: Sendable, Hashable, CustomStringConvertible {
    /// The library that raised it (`ERR_GET_LIB`).
    public var library: Int32
    /// The reason code (`ERR_GET_REASON`); alerts from the peer are `1000 + alert number`.
    public var reason: Int32
    /// OpenSSL's own text, for example `error:0A000086:SSL routines::certificate verify failed`.
    public var text: String

    public var description: String { text }
}

/// Draining the error queue: every failed OpenSSL call is followed by one drain, so that a later
/// failure on the same thread never reports a stale entry.
enum OpenSSLErrorQueue {
    static func drain() -> [OpenSSLErrorEntry] {
        var entries: [OpenSSLErrorEntry] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            entries.append(
                OpenSSLErrorEntry(
                    library: replog_ERR_GET_LIB(code),
                    reason: replog_ERR_GET_REASON(code),
                    text: text
                )
            )
        }
        return entries
    }

    static func clear() { ERR_clear_error() }

    static func text(_ entries: [OpenSSLErrorEntry]) -> String {
        entries.isEmpty ? "no OpenSSL error recorded" : entries.map(\.text).joined(separator: "; ")
    }
}
