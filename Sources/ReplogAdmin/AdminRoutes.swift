import NIOHTTP1

/// The admin endpoint's routing, as a pure function from a request line to a response.
enum AdminRoutes {
    struct Response: Equatable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: [UInt8]
    }

    static func respond(method: HTTPMethod, uri: String, report: () async -> AdminReport, metrics: () -> [UInt8])
        async -> Response
    {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let known = ["/health", "/ready", "/status", "/metrics"]
        guard known.contains(path) else {
            return text(.notFound, "not found: \(path); try /health, /ready, /status or /metrics\n")
        }
        guard method == .GET || method == .HEAD else {
            return text(.methodNotAllowed, "only GET and HEAD are allowed on \(path)\n")
        }
        switch path {
        case "/health":
            return text(.ok, "ok\n")
        case "/ready":
            let current = await report()
            return current.ready
                ? text(.ok, "ready: \(current.reason)\n") : text(.serviceUnavailable, "not ready: \(current.reason)\n")
        case "/status":
            let current = await report()
            return Response(status: .ok, contentType: "application/json", body: Array((current.statusJSON + "\n").utf8))
        default:
            return Response(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics())
        }
    }

    static func text(_ status: HTTPResponseStatus, _ body: String) -> Response {
        Response(status: status, contentType: "text/plain; charset=utf-8", body: Array(body.utf8))
    }
}
