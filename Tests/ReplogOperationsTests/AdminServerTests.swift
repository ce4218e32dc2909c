import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Prometheus
import ReplogAdmin
import Testing

/// A minimal HTTP/1.1 client over a real socket: one request, `Connection: close`, read to EOF.
func httpRequest(_ method: String, _ path: String, port: Int) async throws -> (status: Int, body: String) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(
            ByteBuffer(string: "\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        )
        var response = ByteBuffer()
        for try await var chunk in inbound { response.writeBuffer(&chunk) }
        let text = String(buffer: response)
        let statusLine = text.prefix { $0 != "\r" }
        let status = Int(statusLine.split(separator: " ")[1])!
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }
}

@Suite struct AdminServerTests {
    final class State: Sendable {
        let report = NIOLockedValueBox(
            AdminReport(
                ready: false,
                reason: "status RECOVERING, 40 positions behind",
                statusJSON: "{\"status\":\"RECOVERING\"}"
            )
        )
    }

    @Test func servesHealthReadinessStatusAndMetrics() async throws {
        let registry = PrometheusCollectorRegistry()
        let appends = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "replog",
                metricName: "appends",
                unitName: "total",
                helpText: "Appends acknowledged"
            )
        )
        appends.increment(by: Int64(3))
        let state = State()
        let server = try await AdminServer.bind(
            host: "127.0.0.1",
            port: 0,
            registry: registry,
            logger: Logger(label: "test")
        ) { state.report.withLockedValue { $0 } }
        let port = try #require(server.localAddress.port)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }

            let health = try await httpRequest("GET", "/health", port: port)
            #expect(health.status == 200)
            #expect(health.body == "ok\n")

            let notReady = try await httpRequest("GET", "/ready", port: port)
            #expect(notReady.status == 503)
            #expect(notReady.body == "not ready: status RECOVERING, 40 positions behind\n")

            state.report.withLockedValue {
                $0 = AdminReport(ready: true, reason: "VOTING", statusJSON: "{\"status\":\"VOTING\"}")
            }
            let ready = try await httpRequest("GET", "/ready", port: port)
            #expect(ready.status == 200)

            let status = try await httpRequest("GET", "/status", port: port)
            #expect(status.status == 200)
            #expect(status.body == "{\"status\":\"VOTING\"}\n")

            let metrics = try await httpRequest("GET", "/metrics", port: port)
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("# HELP replog_appends_total Appends acknowledged"))
            #expect(metrics.body.contains("replog_appends_total 3"))

            let missing = try await httpRequest("GET", "/nope", port: port)
            #expect(missing.status == 404)
            #expect(missing.body.contains("try /health, /ready, /status or /metrics"))

            let post = try await httpRequest("POST", "/ready", port: port)
            #expect(post.status == 405)

            group.cancelAll()
        }
        // Once run() has returned the port is closed.
        await #expect(throws: (any Error).self) { try await httpRequest("GET", "/health", port: port) }
    }

    @Test func bindingABusyPortFailsWithTheSystemReason() async throws {
        let registry = PrometheusCollectorRegistry()
        let first = try await AdminServer.bind(
            host: "127.0.0.1",
            port: 0,
            registry: registry,
            logger: Logger(label: "t")
        ) {
            AdminReport(ready: true, reason: "", statusJSON: "{}")
        }
        let port = try #require(first.localAddress.port)
        await #expect(throws: (any Error).self) {
            _ = try await AdminServer.bind(
                host: "127.0.0.1",
                port: port,
                registry: registry,
                logger: Logger(label: "t")
            ) {
                AdminReport(ready: true, reason: "", statusJSON: "{}")
            }
        }
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await first.run() }
            group.cancelAll()
        }
    }
}
