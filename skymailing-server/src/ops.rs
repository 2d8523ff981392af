//! What an operator's tooling calls: liveness, readiness and metrics.

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use crate::Service;

/// Liveness: the process answers.
#[handler]
pub(crate) fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
#[handler]
pub(crate) async fn readyz(service: Data<&Service>) -> Response {
    match service.app.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "database": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Json(json!({ "status": "unavailable", "database": e.to_string() }))
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        }
    }
}

/// Prometheus text format: the counters and histograms recorded so far, and
/// the queue depth read now.
#[handler]
pub(crate) async fn prometheus(service: Data<&Service>) -> Response {
    let handle = crate::metrics::prometheus();
    match service.app.store.pending_deliveries().await {
        Ok(n) => metrics::gauge!("skymailing_deliveries_pending").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count pending deliveries"),
    }
    handle.run_upkeep();
    handle
        .render()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .into_response()
}
