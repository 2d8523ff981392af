//! Prometheus metrics: one recorder per process (the `metrics` facade is
//! global), the HTTP request counter and access log, and the gauges read at
//! scrape time.
//! The engine in core counts deliveries by outcome and times runs through the
//! same facade.

use std::sync::OnceLock;
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
        handle
    })
}

/// Counts and times every request by route pattern (never the raw path, so
/// ids do not explode the label set), method and status.
pub(crate) struct HttpMetrics;

impl<E: Endpoint> Middleware<E> for HttpMetrics {
    type Output = HttpMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        prometheus();
        HttpMetricsEndpoint(ep)
    }
}

pub(crate) struct HttpMetricsEndpoint<E>(E);

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
        let route = route.map_or_else(|| "unmatched".to_owned(), |r| r.to_string());
        // The pattern, not the path: paths carry ids and unsubscribe tokens.
        tracing::info!(
            target: "skymailing::http",
            method = %method,
            route = %route,
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "request"
        );
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
