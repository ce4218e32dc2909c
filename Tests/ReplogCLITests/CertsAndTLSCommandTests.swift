import Foundation
import ReplogNet
import ReplogNetTLS
import ReplogTLS
import ReplogTestSupport
import Testing

/// `replog certs ...` as real processes, and client commands talking mutual TLS with what it made.
@Suite struct CertsAndTLSCommandTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replog-certs-\(UUID().uuidString)")
        .path

    @Test func certsCommandsMakeInspectableFilesAndRefuseToOverwrite() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ca = try await ReplogProcess.run(["certs", "create-ca", "--dir", directory])
        #expect(ca.status == 0, "\(ca.stderr)")
        let again = try await ReplogProcess.run(["certs", "create-ca", "--dir", directory])
        #expect(again.status != 0)
        #expect(again.stderr.contains("refusing to overwrite it (pass --force to replace it)"))
        let node = try await ReplogProcess.run([
            "certs", "create-node", "--dir", directory, "--role", "coordinator", "--id", "c1",
            "--host", "127.0.0.1", "--host", "c1.example",
        ])
        #expect(node.status == 0, "\(node.stderr)")
        let badRole = try await ReplogProcess.run([
            "certs", "create-node", "--dir", directory, "--role", "client", "--id", "x", "--host", "a",
        ])
        #expect(badRole.status != 0 && badRole.stderr.contains("--role must be replica or coordinator"))
        let client = try await ReplogProcess.run(["certs", "create-client", "--dir", directory, "--name", "alice"])
        #expect(client.status == 0, "\(client.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/client-alice.key")
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        let show = try await ReplogProcess.run(["certs", "show", directory + "/coordinator-c1.pem"])
        #expect(show.stdout.contains("role:     coordinator (id c1)"), "\(show.stdout)")
        #expect(show.stdout.contains("URI:replog://role/coordinator/c1, IP:127.0.0.1, DNS:c1.example"))
        let warn = try await ReplogProcess.run(["certs", "show", "--warn-days", "400", directory + "/client-alice.pem"])
        #expect(warn.stdout.contains("WARNING: this certificate expires in"))
        let missing = try await ReplogProcess.run(["certs", "show", directory + "/nope.pem"])
        #expect(missing.status != 0 && missing.stderr.contains("No such file or directory"))
    }

    @Test func appendOverMutualTLSWithCertificatesFromTheCLI() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for arguments in [
            ["certs", "create-ca", "--dir", directory],
            ["certs", "create-node", "--dir", directory, "--role", "coordinator", "--id", "c1", "--host", "127.0.0.1"],
            ["certs", "create-client", "--dir", directory, "--name", "alice"],
        ] {
            let result = try await ReplogProcess.run(arguments)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let server = try await InMemoryLogServer(
            security: .mutualTLS(
                certificatePath: directory + "/coordinator-c1.pem",
                keyPath: directory + "/coordinator-c1.key",
                caPath: directory + "/ca.pem",
                allowedPeerRoles: [.client]
            )
        )
        let tls = [
            "--coordinator", server.endpoint.description, "--cert", directory + "/client-alice.pem",
            "--key", directory + "/client-alice.key", "--ca", directory + "/ca.pem",
        ]
        let appended = try await ReplogProcess.run(["append"] + tls + ["over tls"])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout == "1\n")
        #expect(server.state.withLockedValue { $0.entries[1].map { String(buffer: $0) } } == "over tls")

        let plaintext = try await ReplogProcess.run(
            ["append", "--coordinator", server.endpoint.description, "--insecure", "--timeout", "2", "x"]
        )
        #expect(plaintext.status != 0, "\(plaintext.stderr)")
        #expect(plaintext.stderr.contains("WARNING: --insecure: talking plaintext without TLS"))
        #expect(server.state.withLockedValue { $0.entries[2] } == nil)
        let otherCA = directory + "/other"
        for arguments in [
            ["certs", "create-ca", "--dir", otherCA],
            ["certs", "create-client", "--dir", otherCA, "--name", "mallory"],
        ] {
            let result = try await ReplogProcess.run(arguments)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let foreign = try await ReplogProcess.run([
            "append", "--coordinator", server.endpoint.description, "--timeout", "2",
            "--cert", otherCA + "/client-mallory.pem", "--key", otherCA + "/client-mallory.key",
            "--ca", directory + "/ca.pem", "x",
        ])
        #expect(foreign.status != 0)
        #expect(foreign.stderr.contains("tlsv1 alert unknown ca"), "\(foreign.stderr)")
        let noMaterial = try await ReplogProcess.run(["append", "--coordinator", server.endpoint.description, "x"])
        #expect(noMaterial.status != 0 && noMaterial.stderr.contains("TLS needs --cert, --key and --ca"))
        await server.stop()
    }

    @Test func tls12OnlyWithAllowTLS12() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for arguments in [
            ["certs", "create-ca", "--dir", directory],
            ["certs", "create-node", "--dir", directory, "--role", "coordinator", "--id", "c1", "--host", "127.0.0.1"],
            ["certs", "create-client", "--dir", directory, "--name", "alice"],
        ] {
            let result = try await ReplogProcess.run(arguments)
            #expect(result.status == 0, "\(result.stderr)")
        }
        // A server that speaks TLS 1.2 only.
        var configuration = TLSConfiguration(
            certificateChainPath: directory + "/coordinator-c1.pem",
            privateKeyPath: directory + "/coordinator-c1.key",
            trustedCertificateAuthoritiesPath: directory + "/ca.pem"
        )
        configuration.minimumVersion = .tls12
        configuration.maximumVersion = .tls12
        let server = try await InMemoryLogServer(
            security: .mutualTLS(try TLSContextProvider(configuration: configuration))
        )
        let tls = [
            "--coordinator", server.endpoint.description, "--cert", directory + "/client-alice.pem",
            "--key", directory + "/client-alice.key", "--ca", directory + "/ca.pem", "--timeout", "2",
        ]
        let refused = try await ReplogProcess.run(["append"] + tls + ["x"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("TLS"), "\(refused.stderr)")
        let allowed = try await ReplogProcess.run(["append", "--allow-tls12"] + tls + ["over tls 1.2"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout == "1\n")
        await server.stop()
    }
}
