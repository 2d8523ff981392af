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

/// How long the readiness check waits for the database.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers and, in a process that runs the delivery
/// engine, the engine is running and not stalled (see `EngineHealth`).
/// A process without an engine (`serve --no-worker`) reports only itself.
#[handler]
pub(crate) async fn readyz(service: Data<&Service>) -> Response {
    // A probe wants its answer in time: a database that does not answer
    // within the bound is as good as gone.
    let database = match tokio::time::timeout(PROBE_TIMEOUT, service.app.stats.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Err(e.to_string())
        }
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    };
    let engine = match service.engine_handle() {
        Some(h) => Some(
            tokio::time::timeout(PROBE_TIMEOUT, h.health())
                .await
                .unwrap_or_else(|_| skymailing_core::engine::EngineHealth::Stalled {
                    since: h.engine().last_progress(),
                }),
        ),
        None => None,
    };
    let engine_ok = engine.as_ref().is_none_or(|h| h.is_running());
    let body = json!({
        "status": if database.is_ok() && engine_ok { "ready" } else { "unavailable" },
        "database": database.as_ref().map_or_else(|e| e.clone(), |()| "ok".to_owned()),
        "engine": engine.map_or_else(|| "not in this process".to_owned(), |h| h.to_string()),
    });
    if database.is_ok() && engine_ok {
        Json(body).into_response()
    } else {
        Json(body)
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
    }
}

/// Prometheus text format: the counters and histograms recorded so far, and
/// the queue depth read now.
#[handler]
pub(crate) async fn prometheus(service: Data<&Service>) -> Response {
    let handle = crate::metrics::prometheus();
    match service.app.stats.queue_depth().await {
        Ok(n) => metrics::gauge!("skymailing_deliveries_pending").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count pending deliveries"),
    }
    match service.app.feedback.counts().await {
        Ok(counts) => {
            for (kind, n) in counts {
                metrics::gauge!("skymailing_feedback_reports", "kind" => kind.as_str())
                    .set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count feedback reports"),
    }
    handle.run_upkeep();
    handle
        .render()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .into_response()
}
