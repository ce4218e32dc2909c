import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplogModel
import ReplogTLS
import Testing

@Suite("TLS reload on file change and SIGHUP", .serialized)
struct TLSReloaderTests {
    let fixture: CertificateFixture

    init() throws { fixture = try CertificateFixture() }

    private func waitFor(_ events: NIOLockedValueBox<[String]>, _ needle: String) async throws {
        let deadline = Date().addingTimeInterval(10)
        while !events.withLockedValue({ $0.contains(where: { $0.contains(needle) }) }) {
            guard Date() < deadline else {
                throw TimedOut(what: "\(needle); events: \(events.withLockedValue { $0 })")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func fileChangesAndSIGHUPReloadAndBrokenFilesAreReported() async throws {
        let live = CertificateDirectory(path: fixture.root + "/watched")
        try live.createCertificateAuthority(now: fixture.now)
        try live.createCertificate(role: .replica, id: "r1", hosts: ["127.0.0.1"], now: fixture.now)
        let provider = try fixture.provider(TLSConfiguration(directory: live, role: .replica, id: "r1"))
        let events = NIOLockedValueBox<[String]>([])
        let reloader = TLSReloader(
            provider: provider,
            interval: .milliseconds(50),
            eventLoop: MultiThreadedEventLoopGroup.singleton.next()
        ) { event in
            switch event {
            case .reloaded(let trigger): events.withLockedValue { $0.append("reloaded by \(trigger)") }
            case .failed(let error, let trigger): events.withLockedValue { $0.append("failed by \(trigger): \(error)") }
            }
        }
        defer { reloader.stop() }
        let first = provider.current
        try await Task.sleep(for: .milliseconds(200))
        #expect(events.withLockedValue { $0 }.isEmpty)

        try live.createCertificate(role: .replica, id: "r1", hosts: ["127.0.0.1"], now: fixture.now, force: true)
        try await waitFor(events, "reloaded by file change")
        #expect(provider.current !== first)

        let second = provider.current
        kill(getpid(), SIGHUP)
        try await waitFor(events, "reloaded by SIGHUP")
        #expect(provider.current !== second)

        let third = provider.current
        try "garbage".write(toFile: live.caCertificatePath, atomically: true, encoding: .utf8)
        try await waitFor(events, "failed by file change")
        #expect(provider.current === third)
    }
}
