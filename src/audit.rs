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
//! # Floods of refusals
//!
//! A client that cannot get in can still send refusals as fast as the server answers them.
//! So that it cannot fill a disk through the audit log, refusals are logged in full up to
//! a limit per second for each layer and reason (100 by default,
//! [`set_refusals_logged_per_second`]); past it, they are counted, and the first refusal of
//! that layer and reason in a later second emits one summary event (`decision = "deny"`,
//! the reason, `suppressed = <count>`, message "refusals not logged") before its own. The
//! metrics count every refusal exactly. Admissions (at `DEBUG`) are never collapsed.
//!
//! With the `metrics` feature, each decision also increments `meshward_decisions_total`
//! (labels `layer`, `decision`, `reason`) and records `meshward_decision_duration_seconds`
//! (labels `layer`, `decision`) through the [`metrics`](https://docs.rs/metrics) facade, for
//! whichever exporter the application installs (Prometheus, OpenTelemetry, …).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use http::request::Parts;
use http::{Extensions, Method, Request, Uri};

use crate::peer::{PeerIdentity, peer_identity};
use crate::principal::Principal;
use crate::rejection::Rejection;

/// The default number of refusals logged in full per second, for each layer and reason.
pub const DEFAULT_REFUSALS_LOGGED_PER_SECOND: u32 = 100;

static REFUSALS_PER_SECOND: AtomicU32 = AtomicU32::new(DEFAULT_REFUSALS_LOGGED_PER_SECOND);

/// Sets how many refusals are logged in full per second for each layer and reason
/// ([`DEFAULT_REFUSALS_LOGGED_PER_SECOND`] by default); `None` logs every one. Refusals past
/// the limit are counted and reported in one summary event per layer and reason (see the
/// [module docs](self)). Process-wide, like the tracing subscriber the events go to.
///
/// ```
/// // A service behind a gateway that already rate-limits: log everything.
/// meshward::audit::set_refusals_logged_per_second(None);
/// # meshward::audit::set_refusals_logged_per_second(Some(meshward::audit::DEFAULT_REFUSALS_LOGGED_PER_SECOND));
/// ```
pub fn set_refusals_logged_per_second(limit: Option<u32>) {
    REFUSALS_PER_SECOND.store(limit.unwrap_or(u32::MAX), Ordering::Relaxed);
}

/// One second's refusals of one layer and reason.
struct Window {
    second: u64,
    logged: u32,
    suppressed: u64,
}

/// What to do with one refusal.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Log it, after a summary of `suppressed` refusals (when not zero) of an earlier second.
    Log { suppressed: u64 },
    /// Count it only.
    Count,
}

/// The windows of every layer and reason seen (a bounded set: labels are static).
#[derive(Default)]
struct Collapse {
    windows: Mutex<HashMap<(&'static str, &'static str), Window>>,
}

impl Collapse {
    fn admit(&self, layer: &'static str, reason: &'static str, second: u64, limit: u32) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = windows.entry((layer, reason)).or_insert(Window {
            second,
            logged: 0,
            suppressed: 0,
        });
        let mut earlier = 0;
        if window.second != second {
            earlier = window.suppressed;
            *window = Window {
                second,
                logged: 0,
                suppressed: 0,
            };
        }
        if window.logged < limit {
            window.logged += 1;
            Verdict::Log {
                suppressed: earlier,
            }
        } else {
            window.suppressed += 1;
            Verdict::Count
        }
    }
}

fn collapse() -> &'static (Collapse, Instant) {
    static COLLAPSE: OnceLock<(Collapse, Instant)> = OnceLock::new();
    COLLAPSE.get_or_init(|| (Collapse::default(), Instant::now()))
}

/// Which layer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// Bearer-token authentication.
    Auth,
    /// Authorization: scopes, peers, policies.
    Authz,
    /// An outbound service token.
    Mint,
    /// A per-principal quota.
    Quota,
}

impl Layer {
    fn label(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Authz => "authz",
            Self::Mint => "mint",
            Self::Quota => "quota",
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

/// What an audit event reads of a request: a whole request, or its head.
pub(crate) trait Head {
    fn method(&self) -> &Method;
    fn uri(&self) -> &Uri;
    fn extensions(&self) -> &Extensions;
}

impl<B> Head for Request<B> {
    fn method(&self) -> &Method {
        self.method()
    }
    fn uri(&self) -> &Uri {
        self.uri()
    }
    fn extensions(&self) -> &Extensions {
        self.extensions()
    }
}

impl Head for Parts {
    fn method(&self) -> &Method {
        &self.method
    }
    fn uri(&self) -> &Uri {
        &self.uri
    }
    fn extensions(&self) -> &Extensions {
        &self.extensions
    }
}

/// When a gate started deciding, for the decision-latency histogram (free without the
/// `metrics` feature).
#[derive(Debug, Clone, Copy)]
pub struct Started {
    #[cfg(feature = "metrics")]
    at: std::time::Instant,
}

impl Started {
    /// Now.
    #[inline]
    pub fn now() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            at: std::time::Instant::now(),
        }
    }
}

/// Records one decision: the audit event, and with `metrics` the counter and histogram.
pub(crate) fn record(
    layer: Layer,
    request: &impl Head,
    principal: Option<&Principal>,
    outcome: Outcome<'_>,
    started: Started,
) {
    record_rule(layer, request, principal, outcome, None, started);
}

/// As [`record`], naming the rule of a rule table that decided.
pub(crate) fn record_rule(
    layer: Layer,
    request: &impl Head,
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
pub(crate) fn record_mint(
    request: &impl Head,
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

fn emit(
    layer: Layer,
    request: &impl Head,
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
    } else if tracing::enabled!(target: "meshward::audit", tracing::Level::INFO) {
        let limit = REFUSALS_PER_SECOND.load(Ordering::Relaxed);
        let verdict = if limit == u32::MAX {
            Verdict::Log { suppressed: 0 }
        } else {
            let (collapse, epoch) = collapse();
            collapse.admit(layer.label(), reason, epoch.elapsed().as_secs(), limit)
        };
        if let Verdict::Log { suppressed } = verdict {
            if suppressed > 0 {
                tracing::event!(
                    target: "meshward::audit",
                    tracing::Level::INFO,
                    layer = layer.label(),
                    decision,
                    reason,
                    suppressed,
                    "refusals not logged"
                );
            }
            event!(tracing::Level::INFO, "denied");
        }
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

fn peer_of(principal: Option<&Principal>, request: &impl Head) -> Option<PeerIdentity> {
    match principal.and_then(Principal::peer) {
        Some(peer) => Some(peer.clone()),
        None => peer_identity(request.extensions()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_past_the_limit_are_counted_then_summarised() {
        let c = Collapse::default();
        let admit = |reason, second| c.admit("auth", reason, second, 2);
        assert_eq!(admit("expired", 5), Verdict::Log { suppressed: 0 });
        assert_eq!(admit("expired", 5), Verdict::Log { suppressed: 0 });
        assert_eq!(admit("expired", 5), Verdict::Count);
        assert_eq!(admit("expired", 5), Verdict::Count);
        // Another reason has its own window.
        assert_eq!(admit("malformed", 5), Verdict::Log { suppressed: 0 });
        // The next second: the first refusal carries the count of the last one's.
        assert_eq!(admit("expired", 6), Verdict::Log { suppressed: 2 });
        assert_eq!(admit("expired", 6), Verdict::Log { suppressed: 0 });
        assert_eq!(admit("expired", 6), Verdict::Count);
        // A later second, after a quiet one.
        assert_eq!(admit("expired", 9), Verdict::Log { suppressed: 1 });
        // Another layer, the same reason: its own window.
        assert_eq!(
            c.admit("authz", "expired", 9, 2),
            Verdict::Log { suppressed: 0 }
        );
        // A limit of zero counts everything.
        assert_eq!(c.admit("mint", "x", 1, 0), Verdict::Count);
    }
}
