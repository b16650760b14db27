//! Per-principal quotas: [`QuotaLayer`] counts each request against its caller's bucket
//! (governor's GCRA: a steady rate and a burst) and answers 429 with `Retry-After` (gRPC
//! `RESOURCE_EXHAUSTED`) past it.
//!
//! The buckets live in a [`SharedState`](crate::state::SharedState): this process's memory
//! (bounded) by default, or Redis to share one quota among every instance of a service.
//!
//! ```
//! # #[cfg(feature = "axum")] fn f(validator: meshward::jwt::Validator) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use meshward::jwt::AuthLayer;
//! use meshward::quota::{Limit, QuotaKey, QuotaLayer};
//! use tower::ServiceBuilder;
//!
//! let app: axum::Router = axum::Router::new()
//!     .route("/orders", axum::routing::get(|| async { "[]" }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(AuthLayer::new(validator))
//!             .layer(QuotaLayer::new(
//!                 Limit::builder()
//!                     .requests(100, Duration::from_secs(60))
//!                     .burst(10)
//!                     .key(QuotaKey::ClientId)
//!                     .build()?,
//!             )),
//!     );
//! # Ok(()) }
//! ```

mod error;
mod gcra;
mod key;
mod layer;
mod service;

pub use self::error::{QuotaConfigError, QuotaConfigErrorKind, QuotaError, QuotaErrorKind};
pub use self::key::{KeyFn, QuotaKey};
pub use self::layer::{Limit, LimitBuilder, QuotaLayer};
pub use self::service::{Decision, FailMode, PendingDecision, Quota, QuotaGate, ResponseFuture};

#[cfg(test)]
mod tests;
