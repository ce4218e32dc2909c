import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Short, human descriptions of network errors for messages operators read: "connection
/// refused" rather than NIO's nested structures.
public enum ErrorText {
    public static func describe(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError {
            let reasons = connection.connectionErrors.map { describe($0.error) }
            if let first = reasons.first { return "cannot connect: \(first)" }
            if let dns = connection.dnsAError ?? connection.dnsAAAAError { return "cannot resolve the host: \(dns)" }
            return "cannot connect"
        }
        if let io = error as? IOError {
            return String(cString: strerror(io.errnoCode)).lowercased()
        }
        if let channelError = error as? ChannelError, case .connectTimeout(let amount) = channelError {
            return "cannot connect: no answer within \(amount.nanoseconds / 1_000_000) ms"
        }
        return "\(error)"
    }
}
