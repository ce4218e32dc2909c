import Foundation
import ReplogModel
import ReplogTLS
import Testing

@Suite("Certificates made with libcrypto")
struct CertificateTests {
    let fixture: CertificateFixture

    init() throws { fixture = try CertificateFixture() }

    @Test func nodeCertificateCarriesRoleHostsAndIsSignedByTheCA() throws {
        let certificate = try X509Certificate.certificates(
            pemFile: fixture.cluster.certificatePath(role: .replica, id: "r1")
        )[0]
        #expect(certificate.subject == "O = replog, CN = replica-r1")
        #expect(certificate.issuer == "O = replog, CN = replog cluster CA")
        #expect(
            certificate.subjectAlternativeNames == [
                .uri("replog://role/replica/r1"), .dns("localhost"), .ipAddress("127.0.0.1"), .ipAddress("::1"),
            ]
        )
        #expect(certificate.role?.role == .replica && certificate.role?.id == "r1")
        #expect(!certificate.isCertificateAuthority)
        #expect(certificate.notAfter - fixture.now == 365 * 86_400)
        let ca = try X509Certificate.certificates(pemFile: fixture.cluster.caCertificatePath)[0]
        #expect(ca.isCertificateAuthority && ca.role == nil)
    }

    @Test func opensslCommandReadsAndVerifiesWhatWeWrite() throws {
        let text = try run(
            "/usr/bin/openssl",
            ["x509", "-noout", "-text", "-in", fixture.cluster.certificatePath(role: .coordinator, id: "c1")]
        )
        #expect(text.contains("URI:replog://role/coordinator/c1"))
        #expect(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"))
        #expect(text.contains("CA:FALSE"))
        let verified = try run(
            "/usr/bin/openssl",
            [
                "verify", "-CAfile", fixture.cluster.caCertificatePath,
                fixture.cluster.certificatePath(role: .client, id: "alice"),
            ]
        )
        #expect(verified.contains(": OK"))
        let key = try run("/usr/bin/openssl", ["pkey", "-noout", "-text", "-in", fixture.cluster.caKeyPath])
        #expect(key.contains("prime256v1"))
    }

    @Test func keysAreWrittenOwnerOnly() throws {
        for path in [fixture.cluster.caKeyPath, fixture.cluster.keyPath(role: .client, id: "alice")] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            #expect(mode == 0o600, "\(path)")
        }
        let certificateMode =
            try FileManager.default.attributesOfItem(atPath: fixture.cluster.caCertificatePath)[
                .posixPermissions
            ] as? Int
        #expect(certificateMode == 0o644)
    }

    @Test func existingKeysAreNotOverwrittenWithoutForce() throws {
        let keyPath = fixture.cluster.keyPath(role: .replica, id: "r1")
        let before = try String(contentsOfFile: keyPath, encoding: .utf8)
        #expect(throws: CertificateError.fileExists(path: fixture.cluster.caKeyPath)) {
            try fixture.cluster.createCertificateAuthority(now: fixture.now)
        }
        #expect(throws: CertificateError.fileExists(path: keyPath)) {
            try fixture.cluster.createCertificate(role: .replica, id: "r1", hosts: ["a"], now: fixture.now)
        }
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == before)
        try fixture.cluster.createCertificate(role: .replica, id: "r1", hosts: ["a"], now: fixture.now, force: true)
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) != before)
    }

    @Test func badInputIsRefusedWithWhatToDo() throws {
        let empty = CertificateDirectory(path: fixture.root + "/empty")
        #expect(throws: CertificateError.missingCertificateAuthority(directory: empty.path)) {
            try empty.createCertificate(role: .client, id: "a", hosts: [], now: fixture.now)
        }
        #expect(throws: CertificateError.invalidName("../x")) {
            try fixture.cluster.createCertificate(role: .client, id: "../x", hosts: [], now: fixture.now)
        }
        #expect(throws: CertificateError.noHosts) {
            try fixture.cluster.createCertificate(role: .replica, id: "r2", hosts: [], now: fixture.now)
        }
        #expect(throws: CertificateError.invalidHost("bad host!")) {
            try fixture.cluster.createCertificate(role: .replica, id: "r2", hosts: ["bad host!"], now: fixture.now)
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.cluster.keyPath(role: .replica, id: "r2")))
        let garbage = fixture.root + "/garbage.pem"
        try "not a certificate".write(toFile: garbage, atomically: true, encoding: .utf8)
        #expect(throws: CertificateError.noCertificate(path: garbage)) {
            try X509Certificate.certificates(pemFile: garbage)
        }
        #expect(
            CertificateError.missingCertificateAuthority(directory: "d").description.contains("replog certs create-ca")
        )
    }

    @Test func summaryShowsRoleAndWarnsNearExpiry() throws {
        let expired = try X509Certificate.certificates(
            pemFile: fixture.cluster.certificatePath(role: .client, id: "expired")
        )[0]
        let expiredSummary = CertificateSummary(expired, now: fixture.now)
        #expect(expiredSummary.warning?.contains("EXPIRED") == true)
        let alice = try X509Certificate.certificates(
            pemFile: fixture.cluster.certificatePath(role: .client, id: "alice")
        )[0]
        #expect(CertificateSummary(alice, now: fixture.now).warning == nil)
        let late = CertificateSummary(alice, now: alice.notAfter - 5 * 86_400)
        #expect(late.warning?.contains("expires in 5 days") == true)
        #expect(late.description.contains("role:     client (id alice)"))
        #expect(late.description.contains("URI:replog://role/client/alice"))
    }

    @Test func roleURIsParseStrictly() {
        #expect(RoleURI.parse("replog://role/tool/backup-1")! == (NodeRole.tool, "backup-1"))
        #expect(RoleURI.parse("replog://role/admin/x") == nil)
        #expect(RoleURI.parse("replog://role/replica/") == nil)
        #expect(RoleURI.parse("https://role/replica/1") == nil)
        #expect(RoleURI.make(role: .coordinator, id: "c") == "replog://role/coordinator/c")
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
