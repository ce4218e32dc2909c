import NIOCore
import Testing

@testable import ReplogNet

#if canImport(Glibc)
    import Glibc
#endif

/// TCP_NODELAY is a TCP-level option: set at the socket level its number (1) is SO_DEBUG, which
/// only a privileged process may set. A root test run never noticed; every connection of a
/// replica or coordinator running as an unprivileged user (a systemd unit's `User=`, a container's
/// non-root user) failed with "permission denied".
@Suite struct SocketOptionTests {
    @Test func connectionsSetNoDelayAtTheTCPLevelAndNotSODebug() async throws {
        try await Net.withServer(handler: echo) { _, port in
            let connection = try await Net.connect(port: port)
            let noDelay = try await connection.channel.getOption(.tcpOption(.tcp_nodelay)).get()
            let debug = try await connection.channel.getOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_DEBUG)))
                .get()
            await connection.close()
            #expect(noDelay != 0)
            #expect(debug == 0)
        }
    }
}
