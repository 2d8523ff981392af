//! Prometheus metrics: one recorder per process (the `metrics` facade is
//! global), the HTTP request counter and access log, and the gauges read at
//! scrape time.
//! The engine in core counts deliveries by outcome and times runs through the
//! same facade.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::PathPattern;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// The process's Prometheus handle, installing the recorder on first use.
pub(crate) fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            900.0, 3600.0,
        ];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
            .expect("non-empty buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed by an embedding program; then this
        // one stays empty and the program's own exporter has the figures.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder is already installed; /metrics shows only gauges");
        }
        describe();
        handle
    })
}

/// Health probes, scrapes and progress polls: logged at DEBUG when they succeed.
pub(crate) fn is_routine(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics" | "/favicon.ico")
        || route.ends_with("/progress")
        || route.starts_with("/static/")
}

/// The HELP lines of the metrics this process writes.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "skymailing_http_requests_total",
        "HTTP requests answered, by route pattern, method and status"
    );
    describe_histogram!(
        "skymailing_http_request_duration_seconds",
        "Time to answer an HTTP request, by route pattern and method"
    );
    describe_counter!(
        "skymailing_deliveries_total",
        "Delivery attempts recorded, by outcome"
    );
    describe_counter!(
        "skymailing_feedback_total",
        "Bounce and complaint reports recorded, by kind and whether they named a delivery of ours"
    );
    describe_gauge!(
        "skymailing_feedback_reports",
        "Bounce and complaint reports recorded by every process on the database, by kind"
    );
    describe_counter!(
        "skymailing_runs_paused_total",
        "Runs paused for their failures and bounces"
    );
    describe_counter!(
        "skymailing_engine_errors_total",
        "Engine steps that failed, by step"
    );
    describe_counter!(
        "skymailing_domain_waits_total",
        "Deliveries held back for their recipient domain"
    );
    describe_histogram!(
        "skymailing_run_duration_seconds",
        "Time from a run's start to its report"
    );
    describe_gauge!(
        "skymailing_deliveries_pending",
        "Deliveries waiting to be sent, retries included"
    );
    describe_counter!(
        "skymailing_runs_finished_total",
        "Runs finished with a report"
    );
    describe_counter!(
        "skymailing_engine_restarts_total",
        "Times the supervisor restarted the engine"
    );
    describe_counter!(
        "skymailing_domain_backoffs_total",
        "Throttling replies that slowed a recipient domain"
    );
    describe_gauge!(
        "skymailing_domain_backoff_level",
        "How far a recipient domain is slowed (0: not at all)"
    );
    describe_counter!(
        "skymailing_send_budget_waits_total",
        "Claims that waited for the shared send rate"
    );
    describe_gauge!(
        "skymailing_send_rate_per_second",
        "The shared send rate configured"
    );
    describe_counter!(
        "skymailing_hashing_refused_total",
        "Password hashing requests refused while the hashing queue was full"
    );
    describe_counter!(
        "skymailing_http_connections_refused_total",
        "Connections closed at once for the connection caps"
    );
}

/// Counts and times every request by route template (never the raw path,
/// so ids do not explode the label set), method and status.
pub(crate) struct HttpMetrics {
    /// The API's routes as poem names them (`/api/v1/clients/:param0`) →
    /// as the OpenAPI document does (`/api/v1/clients/{id}`).
    templates: Arc<HashMap<String, String>>,
}

impl HttpMetrics {
    /// With the API's templates read from its OpenAPI document (its paths,
    /// under `prefix`).
    pub(crate) fn new(spec: &str, prefix: &str) -> Self {
        let mut templates = HashMap::new();
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(spec)
            && let Some(paths) = doc["paths"].as_object()
        {
            for path in paths.keys() {
                let mut n = 0;
                let poem: Vec<String> = path
                    .split('/')
                    .map(|seg| {
                        if seg.starts_with('{') && seg.ends_with('}') {
                            n += 1;
                            format!(":param{}", n - 1)
                        } else {
                            seg.to_owned()
                        }
                    })
                    .collect();
                templates.insert(
                    format!("{prefix}{}", poem.join("/")),
                    format!("{prefix}{path}"),
                );
            }
        }
        HttpMetrics {
            templates: Arc::new(templates),
        }
    }
}

/// A route pattern as a template: the API's from its document, the pages'
/// `:name` segments as `{name}`.
fn template(templates: &HashMap<String, String>, pattern: &str) -> String {
    if let Some(t) = templates.get(pattern) {
        return t.clone();
    }
    pattern
        .split('/')
        .map(|seg| match seg.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl<E: Endpoint> Middleware<E> for HttpMetrics {
    type Output = HttpMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        prometheus();
        HttpMetricsEndpoint(ep, self.templates.clone())
    }
}

pub(crate) struct HttpMetricsEndpoint<E>(E, Arc<HashMap<String, String>>);

impl<E: Endpoint> Endpoint for HttpMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        // Known methods only: any other name would add a series for ever.
        let method = match req.method().as_str() {
            m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
            _ => "other".to_owned(),
        };
        let started = Instant::now();
        let result = self.0.call(req).await.map(IntoResponse::into_response);
        let (status, route) = match &result {
            Ok(resp) => (
                resp.status(),
                resp.data::<PathPattern>().map(|p| p.0.clone()),
            ),
            Err(err) => (err.status(), err.data::<PathPattern>().map(|p| p.0.clone())),
        };
        let route = route.map_or_else(|| "unmatched".to_owned(), |r| template(&self.1, &r));
        // The pattern, not the path: paths carry ids and unsubscribe tokens.
        // Probes and the progress bars' polls come every second or so: at
        // DEBUG, unless they fail.
        let routine = is_routine(&route) && status.is_success();
        let ms = started.elapsed().as_millis() as u64;
        if routine {
            tracing::debug!(target: "skymailing::http", method = %method, route = %route,
                status = status.as_u16(), ms, "request");
        } else {
            tracing::info!(target: "skymailing::http", method = %method, route = %route,
                status = status.as_u16(), ms, "request");
        }
        let labels = [
            ("route", route),
            ("method", method),
            ("status", status.as_u16().to_string()),
        ];
        metrics::counter!("skymailing_http_requests_total", &labels).increment(1);
        metrics::histogram!("skymailing_http_request_duration_seconds", &labels[..2])
            .record(started.elapsed().as_secs_f64());
        result
    }
}
