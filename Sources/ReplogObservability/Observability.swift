public import Logging
import Metrics
public import Prometheus

/// Sets up logging and metrics for a replog process, once, at start.
public enum Observability {
    /// Bootstraps swift-log with ``ReplogLogHandler`` and swift-metrics with a Prometheus
    /// registry, and returns that registry for the admin endpoint's `/metrics`.
    ///
    /// Both systems can be bootstrapped only once per process: call this from `main` only.
    public static func bootstrap(level: Logger.Level, format: LogFormat) -> PrometheusCollectorRegistry {
        LoggingSystem.bootstrap { label in ReplogLogHandler(label: label, level: level, format: format) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}

extension Logger.Level {
    /// Parses the `--log-level` values (`trace`, `debug`, `info`, `notice`, `warning`, `error`,
    /// `critical`).
    public init?(flag: String) {
        self.init(rawValue: flag.lowercased())
    }
}
