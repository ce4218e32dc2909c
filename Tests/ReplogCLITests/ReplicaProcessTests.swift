import Foundation
import Testing

/// `replog replica` as real processes on 127.0.0.1.
@Suite(.serialized) struct ReplicaProcessTests {
    let directory: String
    let cluster = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("replica-process-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func statusJSON(adminPort: Int) async -> [String: Any]? {
        guard let url = URL(string: "http://127.0.0.1:\(adminPort)/status"),
            let result = try? await ReplogProcess.curl(url)
        else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(result.utf8)) as? [String: Any]
    }

    @Test func aBlankReplicaRecoversToVotingAndEveryReplicaStopsCleanlyOnSIGTERM() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ports = try (0..<3).map { _ in try freePort() }
        let adminPorts = try (0..<3).map { _ in try freePort() }
        let peers = (0..<3).map { "\($0 + 1)=127.0.0.1:\(ports[$0])" }.joined(separator: ",")
        for index in 0..<2 {
            let initialized = try await ReplogProcess.run(["initialize", "--path", "\(directory)/r\(index + 1)"])
            #expect(initialized.status == 0, "\(initialized.stderr)")
        }
        // Start the blank replica first: it must keep trying until the others are up.
        var daemons: [ReplogDaemon] = []
        for index in [2, 0, 1] {
            daemons.append(
                try ReplogDaemon(
                    [
                        "replica", "--path", "\(directory)/r\(index + 1)", "--listen", "127.0.0.1:\(ports[index])",
                        "--id", "\(index + 1)", "--peers", peers, "--cluster-id", cluster, "--insecure",
                        "--admin", "127.0.0.1:\(adminPorts[index])",
                    ],
                    logPath: "\(directory)/log\(index + 1)"
                )
            )
        }
        var status = ""
        let deadline = Date().addingTimeInterval(60)
        while status != "VOTING" && Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            status = await statusJSON(adminPort: adminPorts[2])?["status"] as? String ?? ""
        }
        #expect(status == "VOTING", "replica 3 log:\n\(daemons[0].log)")
        #expect(daemons[0].log.contains("replica status changed replica/id=3 replica/status=RECOVERING"))
        for daemon in daemons {
            let exit = await daemon.stop()
            #expect(exit == 0, "did not stop cleanly on SIGTERM:\n\(daemon.log)")
            #expect(daemon.log.contains("stopped"))
        }
        // The store is closed and readable offline, and remembers its cluster.
        let read = try await ReplogProcess.run(["read", "--path", "\(directory)/r3"])
        #expect(read.status == 0, "\(read.stderr)")
    }

    @Test func badConfigurationsAreRefusedWithTheReason() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let peers = "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3"
        let base = ["replica", "--path", "\(directory)/r1", "--listen", "127.0.0.1:1", "--id", "1", "--peers", peers]
        let quorum = try await ReplogProcess.run(base + ["--cluster-id", cluster, "--insecure", "--quorum", "1"])
        #expect(quorum.status != 0)
        #expect(quorum.stderr.contains("quorum 1 is not a majority of 3 replicas"))
        let noTLS = try await ReplogProcess.run(base + ["--cluster-id", cluster])
        #expect(noTLS.stderr.contains("TLS needs --cert, --key and --ca"))
        let badPeers = try await ReplogProcess.run(
            ["replica", "--path", "\(directory)/r1", "--listen", "127.0.0.1:1", "--id", "1", "--peers", "1=nowhere"]
                + ["--cluster-id", cluster, "--insecure"]
        )
        #expect(badPeers.stderr.contains("--peers entry '1=nowhere' is not ID=HOST:PORT"))

        // A directory that belongs to another cluster is refused, naming both ids.
        let port = try freePort()
        let first = try ReplogDaemon(
            ["replica", "--path", "\(directory)/owned", "--listen", "127.0.0.1:\(port)", "--id", "1"]
                + ["--peers", "1=127.0.0.1:\(port)", "--cluster-id", cluster, "--insecure"],
            logPath: "\(directory)/first.log"
        )
        let started = Date()
        while !first.log.contains("replica listening") && Date().timeIntervalSince(started) < 30 {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(await first.stop() == 0)
        let other = "11111111-2222-3333-4444-555555555555"
        let foreign = try await ReplogProcess.run(
            ["replica", "--path", "\(directory)/owned", "--listen", "127.0.0.1:\(port)", "--id", "1"]
                + ["--peers", "1=127.0.0.1:\(port)", "--cluster-id", other, "--insecure"]
        )
        #expect(foreign.status != 0)
        #expect(foreign.stderr.contains("belongs to cluster \(cluster) but --cluster-id is \(other)"))
    }
}

/// SIGHUP reloads a running process's TLS material instead of stopping it.
@Suite struct ReloadOnSIGHUPTests {
    @Test func aTLSReplicaReloadsItsCertificatesOnSIGHUPAndKeepsRunning() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sighup-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certs = directory + "/certs"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for arguments in [
            ["certs", "create-ca", "--dir", certs],
            ["certs", "create-node", "--dir", certs, "--role", "replica", "--id", "1", "--host", "127.0.0.1"],
        ] {
            let made = try await ReplogProcess.run(arguments)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let port = try freePort()
        let replica = try ReplogDaemon(
            [
                "replica", "--path", directory + "/r1", "--listen", "127.0.0.1:\(port)", "--id", "1",
                "--peers", "1=127.0.0.1:\(port)", "--quorum", "1", "--cluster-id",
                "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                "--cert", certs + "/replica-1.pem", "--key", certs + "/replica-1.key", "--ca", certs + "/ca.pem",
            ],
            logPath: directory + "/replica.log"
        )
        var waited = 0
        while !replica.log.contains("replica listening") && waited < 300 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        kill(replica.process.processIdentifier, SIGHUP)
        waited = 0
        while !replica.log.contains("TLS material reloaded") && waited < 300 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        let reloaded = replica.log.split(separator: "\n").first { $0.contains("TLS material reloaded") }
        #expect(reloaded?.contains("tls/trigger=SIGHUP") == true, "\(replica.log)")
        #expect(replica.process.isRunning)
        #expect(await replica.stop() == 0, "\(replica.log)")
    }
}
