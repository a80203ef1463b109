//! Prometheus metrics, served on their own listener (`POLIS_METRICS_LISTEN_ADDR`) at
//! `/metrics/prometheus` in the OpenMetrics text format. HTTP metrics carry Ory's
//! names (`http_requests_total`, `http_requests_duration_seconds`, labelled `code`,
//! `method`, `endpoint`); Polis's own start with `polis_`.
//!
//! One [`Metrics`] per application, held in `AppState`: no global registry, so tests
//! running side by side in one process do not count each other's requests. A part of
//! Polis that wants a metric asks for it once, at start-up, in one line:
//! `let deliveries = metrics.counter::<OutcomeLabels>("polis_webhook_deliveries", "…");`
//! and keeps the handle.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::store::Store;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds, from a cached read (~1 ms) to a timed-out dependency.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Makes latency histograms with [`LATENCY_BUCKETS`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LatencyHistogram;

impl MetricConstructor<Histogram> for LatencyHistogram {
    fn new_metric(&self) -> Histogram {
        Histogram::new(LATENCY_BUCKETS)
    }
}

/// A family of counters keyed by `L`.
pub type Counters<L> = Family<L, Counter>;
/// A family of latency histograms keyed by `L`.
pub type Latencies<L> = Family<L, Histogram, LatencyHistogram>;

/// Ory's HTTP labels. `endpoint` is the route pattern (`/orgs/{org}/members`), never a
/// raw path, so the number of series stays bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub code: u16,
    pub method: &'static str,
    pub endpoint: String,
}

/// A call to a service Polis depends on (Kratos; later Hydra), by what was asked and
/// how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub service: &'static str,
    pub operation: &'static str,
    pub outcome: &'static str,
}

/// The same call, for its latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamOperation {
    pub service: &'static str,
    pub operation: &'static str,
}

/// Anything counted by how it ended (`ok`, `failed`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// The metrics every request path touches, plus the registry others add theirs to.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_requests: Counters<HttpLabels>,
    pub http_duration: Latencies<HttpLabels>,
    pub upstream_requests: Counters<UpstreamLabels>,
    pub upstream_duration: Latencies<UpstreamOperation>,
    /// `hit`: answered from the session cache; `miss`: Kratos was asked.
    pub session_cache: Counters<OutcomeLabels>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let metrics = Metrics {
            registry: Mutex::new(Registry::default()),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(LatencyHistogram),
            upstream_requests: Family::default(),
            upstream_duration: Family::new_with_constructor(LatencyHistogram),
            session_cache: Family::default(),
        };
        metrics.register(
            "http_requests",
            "HTTP requests answered, by status code, method and route pattern",
            metrics.http_requests.clone(),
        );
        metrics.register(
            "http_requests_duration_seconds",
            "Time to answer HTTP requests, by status code, method and route pattern",
            metrics.http_duration.clone(),
        );
        metrics.register(
            "polis_upstream_requests",
            "Calls to Kratos (and other Ory services), by operation and outcome",
            metrics.upstream_requests.clone(),
        );
        metrics.register(
            "polis_upstream_request_duration_seconds",
            "Latency of calls to Kratos (and other Ory services), by operation",
            metrics.upstream_duration.clone(),
        );
        metrics.register(
            "polis_session_cache_lookups",
            "Session lookups answered from the cache (hit) or by asking Kratos (miss)",
            metrics.session_cache.clone(),
        );
        metrics
    }

    /// Registers a counter family and returns it.
    pub fn counter<L>(&self, name: &str, help: &str) -> Counters<L>
    where
        L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
    {
        let family = Counters::<L>::default();
        self.register(name, help, family.clone());
        family
    }

    /// Registers a gauge (e.g. a lag in seconds) and returns it.
    pub fn gauge(&self, name: &str, help: &str) -> Gauge<f64, std::sync::atomic::AtomicU64> {
        let gauge = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        self.register(name, help, gauge.clone());
        gauge
    }

    /// Registers a latency histogram family and returns it.
    pub fn latency<L>(&self, name: &str, help: &str) -> Latencies<L>
    where
        L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
    {
        let family = Latencies::<L>::new_with_constructor(LatencyHistogram);
        self.register(name, help, family.clone());
        family
    }

    /// Reports the store's connection pool on every scrape.
    pub fn watch_pool(&self, store: Arc<dyn Store>) {
        self.registry()
            .register_collector(Box::new(PoolCollector(store)));
    }

    /// Every metric, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry());
        text
    }

    /// Records one answered HTTP request.
    pub fn observe_http(&self, labels: HttpLabels, took: Duration) {
        self.http_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    /// Records one call to an upstream service.
    pub fn observe_upstream(&self, labels: UpstreamLabels, took: Duration) {
        self.upstream_duration
            .get_or_create(&UpstreamOperation {
                service: labels.service,
                operation: labels.operation,
            })
            .observe(took.as_secs_f64());
        self.upstream_requests.get_or_create(&labels).inc();
    }

    fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry().register(name, help, metric);
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves the registry whole: keep using it.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pool's connections by state, read when Prometheus scrapes.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolState {
    state: &'static str,
}

struct PoolCollector(Arc<dyn Store>);

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolCollector")
    }
}

impl prometheus_client::collector::Collector for PoolCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        let status = self.0.pool_status();
        let mut connections = encoder.encode_descriptor(
            "polis_db_pool_connections",
            "Database connections by state (in_use, idle)",
            None,
            MetricType::Gauge,
        )?;
        for (state, value) in [("in_use", status.in_use), ("idle", status.idle)] {
            let labels = PoolState { state };
            ConstGauge::new(i64::from(value)).encode(connections.encode_family(&labels)?)?;
        }
        let gauges = [
            (
                "polis_db_pool_waiting",
                "Requests waiting for a database connection",
                status.waiting,
            ),
            (
                "polis_db_pool_max_connections",
                "The pool's size limit (POLIS_DB_MAX_CONNECTIONS)",
                status.max,
            ),
        ];
        for (name, help, value) in gauges {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(i64::from(value)).encode(metric)?;
        }
        Ok(())
    }
}

/// The HTTP method as a label: the standard ones by name, anything else `OTHER`, so a
/// client cannot grow the number of series with made-up methods.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_metrics_use_ory_names_and_route_patterns() {
        let metrics = Metrics::new();
        let labels = HttpLabels {
            code: 200,
            method: "GET",
            endpoint: "/orgs/{org}/members".into(),
        };
        metrics.observe_http(labels, Duration::from_millis(3));
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"http_requests_total{code="200",method="GET",endpoint="/orgs/{org}/members"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"http_requests_duration_seconds_bucket{le="0.005",code="200",method="GET",endpoint="/orgs/{org}/members"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn one_line_adds_a_counter() {
        let metrics = Metrics::new();
        let deliveries =
            metrics.counter::<OutcomeLabels>("polis_webhook_deliveries", "Webhook deliveries");
        deliveries
            .get_or_create(&OutcomeLabels { outcome: "ok" })
            .inc();
        assert!(metrics
            .encode()
            .contains(r#"polis_webhook_deliveries_total{outcome="ok"} 1"#));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let odd = axum::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "OTHER");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }
}
