//! The one audit event: every decision of every layer, with one field set, emitted here and
//! nowhere else; and beside it, with the `metrics` feature, a counter and a latency histogram.
//!
//! The event goes to the `meshward::audit` tracing target: refusals at `INFO`, admissions at
//! `DEBUG`. Its fields are always these, absent when unknown:
//!
//! | field | value |
//! | --- | --- |
//! | `layer` | `auth` (bearer token, service-token chain), `authz` (scopes, peers, policies), `mint` (an outbound service token) |
//! | `decision` | `allow`, `deny`, or `would_deny` (a layer in dry-run mode let it through) |
//! | `reason` | a short, stable label: `authenticated`, `anonymous`, `allowed`, or the refusal's ([`Rejection::label`]) |
//! | `rule` | the rule of a rule table that decided, when one did |
//! | `method`, `path` | the request's |
//! | `sub`, `iss` | the principal's subject and issuer (the end user's) |
//! | `caller`, `chain` | the service that called, and every service the request came through in call order (`a > b > c`), when it came through services |
//! | `audience` | the service an outbound token is minted for (`mint` only) |
//! | `peer` | the client certificate's SPIFFE ID (else its subject) |
//!
//! Never token contents: no token, no claim values beyond `sub` and `iss`.
//!
//! With the `metrics` feature, each decision also increments `meshward_decisions_total`
//! (labels `layer`, `decision`, `reason`) and records `meshward_decision_duration_seconds`
//! (labels `layer`, `decision`) through the [`metrics`](https://docs.rs/metrics) facade, for
//! whichever exporter the application installs (Prometheus, OpenTelemetry, …).

use http::Request;

use crate::peer::{PeerIdentity, peer_identity};
use crate::principal::Principal;
use crate::rejection::Rejection;

/// Which layer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// Bearer-token authentication.
    Auth,
    /// Authorization: scopes, peers, policies.
    Authz,
    /// An outbound service token.
    Mint,
}

impl Layer {
    fn label(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Authz => "authz",
            Self::Mint => "mint",
        }
    }
}

/// What was decided, and why.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// Let through; the label says on what grounds.
    Allow(&'static str),
    /// Refused.
    Deny(&'a Rejection),
    /// Would have been refused, and was let through: a layer in dry-run mode.
    WouldDeny(&'a Rejection),
}

/// When the layer started deciding, for the latency histogram (free without `metrics`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started {
    #[cfg(feature = "metrics")]
    at: std::time::Instant,
}

impl Started {
    #[inline]
    pub(crate) fn now() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            at: std::time::Instant::now(),
        }
    }
}

/// Records one decision: the audit event, and with `metrics` the counter and histogram.
pub(crate) fn record<B>(
    layer: Layer,
    request: &Request<B>,
    principal: Option<&Principal>,
    outcome: Outcome<'_>,
    started: Started,
) {
    record_rule(layer, request, principal, outcome, None, started);
}

/// As [`record`], naming the rule of a rule table that decided.
pub(crate) fn record_rule<B>(
    layer: Layer,
    request: &Request<B>,
    principal: Option<&Principal>,
    outcome: Outcome<'_>,
    rule: Option<&str>,
    started: Started,
) {
    let (decision, reason) = match outcome {
        Outcome::Allow(reason) => ("allow", reason),
        Outcome::Deny(rejection) => ("deny", rejection.label()),
        Outcome::WouldDeny(rejection) => ("would_deny", rejection.label()),
    };
    emit(
        layer,
        request,
        Fields {
            principal,
            audience: None,
            rule,
        },
        decision,
        reason,
        started,
    );
}

/// Records a service token minted (`allow`) or refused (`deny`) for an outbound call to
/// `audience`.
pub(crate) fn record_mint<B>(
    request: &Request<B>,
    principal: Option<&Principal>,
    audience: Option<&str>,
    outcome: Result<(), &'static str>,
    started: Started,
) {
    let (decision, reason) = match outcome {
        Ok(()) => ("allow", "minted"),
        Err(reason) => ("deny", reason),
    };
    emit(
        Layer::Mint,
        request,
        Fields {
            principal,
            audience,
            rule: None,
        },
        decision,
        reason,
        started,
    );
}

/// The fields that only some layers know.
struct Fields<'a> {
    principal: Option<&'a Principal>,
    audience: Option<&'a str>,
    rule: Option<&'a str>,
}

fn emit<B>(
    layer: Layer,
    request: &Request<B>,
    fields: Fields<'_>,
    decision: &'static str,
    reason: &'static str,
    started: Started,
) {
    let Fields {
        principal,
        audience,
        rule,
    } = fields;
    // One field set for both levels; the values are only computed when the event is enabled.
    macro_rules! event {
        ($level:expr, $message:literal) => {
            tracing::event!(
                target: "meshward::audit",
                $level,
                layer = layer.label(),
                decision,
                reason,
                rule,
                method = %request.method(),
                path = request.uri().path(),
                sub = principal.and_then(Principal::subject),
                iss = principal.map(Principal::issuer),
                caller = principal.and_then(Principal::caller),
                chain = principal.filter(|p| p.is_delegated()).map(|p| p.actor_chain().join(" > ")),
                audience,
                peer = peer_of(principal, request).as_ref().map(PeerIdentity::display_name),
                $message
            )
        };
    }
    if decision == "allow" {
        event!(tracing::Level::DEBUG, "allowed");
    } else {
        event!(tracing::Level::INFO, "denied");
    }
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(
            "meshward_decisions_total",
            "layer" => layer.label(),
            "decision" => decision,
            "reason" => reason,
        )
        .increment(1);
        metrics::histogram!(
            "meshward_decision_duration_seconds",
            "layer" => layer.label(),
            "decision" => decision,
        )
        .record(started.at.elapsed().as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = started;
}

fn peer_of<B>(principal: Option<&Principal>, request: &Request<B>) -> Option<PeerIdentity> {
    match principal.and_then(Principal::peer) {
        Some(peer) => Some(peer.clone()),
        None => peer_identity(request.extensions()),
    }
}
