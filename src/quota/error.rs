//! Errors of the quota concern.

use std::time::Duration;

use crate::error::kinded_error;
use crate::rejection::{Refusal, Rejection, RejectionKind};

kinded_error! {
    /// A request was not let through by the [`QuotaLayer`](super::QuotaLayer).
    ///
    /// How each kind is answered (429 with `Retry-After`, or 503; gRPC 8 or 14) is decided in
    /// one place, [`Rejection`].
    pub struct QuotaError(QuotaErrorKind);
}

/// The kinds of [`QuotaError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaErrorKind {
    /// The caller used up its quota; it may try again after `retry_after` (429, gRPC 8).
    #[error("quota exceeded, retry in {retry_after:?}")]
    Exceeded {
        /// How long until the next request would be let through.
        retry_after: Duration,
    },
    /// The shared store of the quotas cannot answer, and the layer fails closed (503,
    /// gRPC 14).
    #[error("the quota store is unavailable")]
    StoreUnavailable,
}

impl QuotaErrorKind {
    /// A short, stable, snake_case label (audit events, metrics).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Exceeded { .. } => "quota_exceeded",
            Self::StoreUnavailable => "quota_unavailable",
        }
    }
}

impl Refusal for QuotaError {
    fn rejection_kind(&self) -> RejectionKind {
        match self.kind() {
            QuotaErrorKind::Exceeded { .. } => RejectionKind::TooManyRequests,
            QuotaErrorKind::StoreUnavailable => RejectionKind::Unavailable,
        }
    }

    fn client_description(&self) -> &'static str {
        match self.kind() {
            QuotaErrorKind::Exceeded { .. } => "quota exceeded",
            QuotaErrorKind::StoreUnavailable => "quota cannot be checked",
        }
    }

    fn label(&self) -> &'static str {
        self.kind().label()
    }

    fn retry_after(&self) -> Option<Duration> {
        match self.kind() {
            QuotaErrorKind::Exceeded { retry_after } => Some(*retry_after),
            QuotaErrorKind::StoreUnavailable => None,
        }
    }
}

impl From<QuotaError> for Rejection {
    fn from(error: QuotaError) -> Self {
        Rejection::refuse(error)
    }
}

kinded_error! {
    /// A [`QuotaLayer`](super::QuotaLayer) cannot be built as configured.
    pub struct QuotaConfigError(QuotaConfigErrorKind);
}

/// The kinds of [`QuotaConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaConfigErrorKind {
    /// A rate, burst or period that cannot work (zero, or a period shorter than a
    /// nanosecond per request).
    #[error("invalid quota: {what}")]
    InvalidLimit {
        /// Which one, and why.
        what: &'static str,
    },
}
