import CoreMetrics
import ReplogWire

/// What the RPC layer counts: `replog_rpc_refusals_total{reason}`, the connections and requests
/// it refused (a role that may not connect or send a message, another cluster, a protocol version
/// it does not speak, a frame before the hello), by the error code it answered with.
struct RPCMetrics: Sendable {
    let factory: (any MetricsFactory)?

    func refused(_ code: ErrorCode) {
        let dimensions = [("reason", Self.snakeCase(code.description))]
        if let factory {
            Counter(label: "replog_rpc_refusals_total", dimensions: dimensions, factory: factory).increment()
        } else {
            Counter(label: "replog_rpc_refusals_total", dimensions: dimensions).increment()
        }
    }

    /// `roleNotAllowed` -> `role_not_allowed`, as the TLS layer names its reasons.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }
}
