import Foundation
import Logging
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogTLS
import ReplogWire
import Testing

/// The TLS options of `replog replica` and `replog coordinator`: TLS 1.2 on request, cipher suites
/// and key exchange groups, and clear refusals of lists OpenSSL does not know.
@Suite(.serialized) struct ServerTLSOptionsTests {
    let directory: String
    let cluster = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("server-tls-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func makeCertificates() async throws {
        for arguments in [
            ["certs", "create-ca", "--dir", directory],
            [
                "certs", "create-node", "--dir", directory, "--role", "coordinator", "--id", "101", "--host",
                "127.0.0.1",
            ],
            ["certs", "create-client", "--dir", directory, "--name", "alice"],
        ] {
            let made = try await ReplogProcess.run(arguments)
            #expect(made.status == 0, "\(made.stderr)")
        }
    }

    var nodeTLS: [String] {
        [
            "--cert", directory + "/coordinator-101.pem", "--key", directory + "/coordinator-101.key",
            "--ca", directory + "/ca.pem",
        ]
    }

    @Test func listsOpenSSLDoesNotKnowAreRefusedBeforeAnythingStarts() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await makeCertificates()
        let coordinator = [
            "coordinator", "--id", "101", "--listen", "127.0.0.1:1", "--replicas", "1=127.0.0.1:2",
            "--cluster-id", cluster,
        ]
        let replica = [
            "replica", "--path", directory + "/r1", "--listen", "127.0.0.1:1", "--id", "1", "--peers",
            "1=127.0.0.1:1", "--cluster-id", cluster,
        ]
        let cases: [([String], String)] = [
            (coordinator + ["--tls-ciphersuites", "BOGUS"], "unknown TLS 1.3 cipher suite \"BOGUS\""),
            // OpenSSL alone would drop the unknown name and keep the other: a typo must not pass.
            (
                replica + ["--tls-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_512_GCM"],
                "unknown TLS 1.3 cipher suite \"TLS_AES_512_GCM\""
            ),
            (coordinator + ["--tls-groups", "X25519:P-999"], "unknown key exchange group \"P-999\""),
            (
                coordinator + ["--allow-tls12", "--tls-ciphers", "ECDHE+AESGCM:NOPE"],
                "\"NOPE\" in the TLS 1.2 cipher list \"ECDHE+AESGCM:NOPE\" matches no cipher"
            ),
            (
                coordinator + ["--tls-ciphers", "ECDHE+AESGCM"],
                "--tls-ciphers sets the TLS 1.2 ciphers and needs --allow-tls12"
            ),
            (coordinator + ["--tls-groups", "X25519::P-256"], "has an empty entry"),
            (
                coordinator + ["--allow-tls12", "--tls-groups", "X25519"],
                "TLS 1.2 peers could not use the P-256 certificates"
            ),
        ]
        for (arguments, message) in cases {
            let result = try await ReplogProcess.run(arguments + nodeTLS)
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        let insecure = try await ReplogProcess.run(coordinator + ["--insecure", "--allow-tls12"])
        #expect(insecure.stderr.contains("--allow-tls12 configures TLS, but --insecure turns TLS off"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/r1"))
    }

    @Test func tls12CipherSuitesAndGroupsAreNegotiatedAsTheServerSays() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await makeCertificates()
        func coordinator(_ name: String, _ options: [String]) throws -> (ReplogDaemon, Int) {
            let port = try freePort()
            let daemon = try ReplogDaemon(
                [
                    "coordinator", "--id", "101", "--listen", "127.0.0.1:\(port)", "--replicas",
                    "1=127.0.0.1:\(try freePort())", "--cluster-id", cluster, "--log-level", "debug",
                ] + nodeTLS + options,
                logPath: directory + "/\(name).log"
            )
            return (daemon, port)
        }
        // A: TLS 1.2 allowed, with ChaCha20 only. B: TLS 1.3 only, one suite, X25519 only.
        let (a, portA) = try coordinator(
            "a",
            ["--allow-tls12", "--tls-ciphers", "ECDHE+CHACHA20", "--tls-groups", "X25519:P-256"]
        )
        let (b, portB) = try coordinator(
            "b",
            ["--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "--tls-groups", "X25519"]
        )
        defer {
            a.kill()
            b.kill()
        }
        for daemon in [a, b] {
            let deadline = Date().addingTimeInterval(30)
            while !daemon.log.contains("coordinator listening") && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        /// Whether a client with these settings gets a leader answer from the coordinator on `port`.
        func connects(_ port: Int, _ adjust: (inout TLSConfiguration) -> Void) async throws -> Bool {
            var configuration = TLSConfiguration(
                certificateChainPath: directory + "/client-alice.pem",
                privateKeyPath: directory + "/client-alice.key",
                trustedCertificateAuthoritiesPath: directory + "/ca.pem"
            )
            adjust(&configuration)
            var options = ConnectionOptions()
            options.connectTimeout = .seconds(10)
            do {
                let connection = try await RPCConnection.connect(
                    host: "127.0.0.1",
                    port: port,
                    identity: PeerIdentity(clusterID: .unknown, role: .client, nodeID: "alice"),
                    security: .mutualTLS(try TLSContextProvider(configuration: configuration)),
                    options: options
                )
                _ = try await connection.request(.leaderRequest)
                await connection.close()
                return true
            } catch is TLSError {
                return false
            } catch RPCError.connectionClosed {
                return false
            }
        }
        let tls12: (inout TLSConfiguration) -> Void = {
            $0.minimumVersion = .tls12
            $0.maximumVersion = .tls12
        }
        #expect(try await connects(portA, tls12))
        #expect(try await !connects(portB, tls12))
        #expect(a.log.contains("tls/cipher=ECDHE-ECDSA-CHACHA20-POLY1305"), "\(a.log)")
        #expect(a.log.contains("tls/version=TLSv1.2"), "\(a.log)")
        let tls12AES: (inout TLSConfiguration) -> Void = {
            tls12(&$0)
            $0.tls12CipherList = "ECDHE+AESGCM"
        }
        #expect(try await !connects(portA, tls12AES))

        let aesOnly: (inout TLSConfiguration) -> Void = { $0.tls13CipherSuites = "TLS_AES_128_GCM_SHA256" }
        #expect(try await !connects(portB, aesOnly))
        #expect(try await connects(portA, aesOnly))
        #expect(try await connects(portB) { _ in })
        #expect(b.log.contains("tls/cipher=TLS_CHACHA20_POLY1305_SHA256"), "\(b.log)")

        let p256Only: (inout TLSConfiguration) -> Void = { $0.groups = "P-256" }
        #expect(try await !connects(portB, p256Only))
        #expect(try await connects(portA, p256Only))
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }
}
