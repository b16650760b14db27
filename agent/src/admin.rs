//! The admin listener: `/healthz` (the process answers) and `/readyz` (it can decide: every
//! issuer's keys are loaded, which for key files is done before anything listens).

use axum::Router;
use axum::routing::get;

/// The admin routes.
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }))
}
