//! The input document a policy (Rego in process, or a remote OPA) decides on. Its shape is a
//! public interface, documented in the manual's authorization chapter:
//!
//! ```json
//! {
//!   "request": {
//!     "method": "POST",
//!     "path": "/shop.Inventory/Reserve",
//!     "grpc": {"service": "shop.Inventory", "method": "Reserve"},
//!     "headers": {"x-tenant": "acme"}
//!   },
//!   "principal": {
//!     "subject": "alice", "issuer": "https://id.example.com",
//!     "scopes": ["orders:read"], "claims": {"...": "..."}
//!   },
//!   "caller": "spiffe://prod.example/ns/shop/sa/orders",
//!   "chain": ["spiffe://prod.example/ns/edge/sa/gateway", "spiffe://prod.example/ns/shop/sa/orders"],
//!   "peer": {"spiffe_id": "spiffe://prod.example/ns/shop/sa/orders", "trust_domain": "prod.example",
//!            "dns_names": [], "subject": "CN=orders", "forwarded": false}
//! }
//! ```
//!
//! `grpc` is `null` for a request that is not a gRPC call, `principal` and `caller` are
//! `null` when there is none, `chain` is empty for an end user calling directly, `peer` is
//! `null` without a client certificate; `headers` holds only the headers the policy was
//! configured to see (lowercase names; a header sent twice keeps its first value).

use std::collections::BTreeMap;

use http::HeaderName;
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{AuthzError, AuthzErrorKind};
use super::requirement::AuthzRequest;
use crate::principal::ALWAYS_CREDENTIALS;
use crate::rejection::is_grpc;

#[derive(Serialize)]
pub(crate) struct Input<'a> {
    request: RequestInput<'a>,
    principal: Option<PrincipalInput<'a>>,
    caller: Option<&'a str>,
    chain: &'a [String],
    peer: Option<PeerInput>,
}

#[derive(Serialize)]
struct RequestInput<'a> {
    method: &'a str,
    path: &'a str,
    grpc: Option<Grpc<'a>>,
    headers: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct Grpc<'a> {
    service: &'a str,
    method: &'a str,
}

#[derive(Serialize)]
struct PrincipalInput<'a> {
    subject: Option<&'a str>,
    issuer: &'a str,
    scopes: Vec<&'a str>,
    claims: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct PeerInput {
    spiffe_id: Option<String>,
    trust_domain: Option<String>,
    dns_names: Vec<String>,
    subject: String,
    forwarded: bool,
}

impl<'a> Input<'a> {
    /// The document for `request`, with the values of `headers` it carries.
    pub(crate) fn new(request: &AuthzRequest<'a>, headers: &'a [HeaderName]) -> Self {
        let path = request.uri().path();
        let grpc = is_grpc(request.headers())
            .then(|| {
                let rest = path.strip_prefix('/')?;
                let (service, method) = rest.split_once('/')?;
                (!service.is_empty() && !method.is_empty() && !method.contains('/'))
                    .then_some(Grpc { service, method })
            })
            .flatten();
        let principal = request.principal();
        Self {
            request: RequestInput {
                method: request.method().as_str(),
                path,
                grpc,
                headers: headers
                    .iter()
                    // Never a credential, whatever the policy was configured to see.
                    .filter(|name| !request.is_credential(name))
                    .filter_map(|name| {
                        let value = request.headers().get(name)?.to_str().ok()?;
                        Some((name.as_str(), value))
                    })
                    .collect(),
            },
            principal: principal.map(|p| PrincipalInput {
                subject: p.subject(),
                issuer: p.issuer(),
                scopes: p.scopes().iter().collect(),
                claims: p.claim_set(),
            }),
            caller: principal.and_then(|p| p.caller()),
            chain: principal.map_or(&[], |p| p.actor_chain()),
            peer: request.peer().map(|peer| PeerInput {
                spiffe_id: peer.spiffe_id().map(|s| s.as_str().to_owned()),
                trust_domain: peer.spiffe_id().map(|s| s.trust_domain().to_owned()),
                dns_names: peer.dns_names().to_vec(),
                subject: peer.subject().to_owned(),
                forwarded: peer.is_forwarded(),
            }),
        }
    }
}

/// What a decision value means: `true`, `{"allow": true}` allow; `false`,
/// `{"allow": false, "reason": …}` deny; an undefined result is [`PolicyUndefined`], any
/// other value a [`PolicyError`] (the policy answers something that is not a decision).
///
/// [`PolicyUndefined`]: AuthzErrorKind::PolicyUndefined
/// [`PolicyError`]: AuthzErrorKind::PolicyError
pub(crate) fn verdict(value: &serde_json::Value) -> Result<(), AuthzError> {
    use serde_json::Value;
    match value {
        Value::Bool(true) => Ok(()),
        Value::Bool(false) => Err(AuthzErrorKind::PolicyDenied { reason: None }.into()),
        Value::Object(decision) => match decision.get("allow") {
            Some(Value::Bool(true)) => Ok(()),
            Some(Value::Bool(false)) => Err(AuthzErrorKind::PolicyDenied {
                reason: decision
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(|r| r.chars().take(200).collect()),
            }
            .into()),
            _ => Err(AuthzErrorKind::PolicyError.into()),
        },
        // regorus renders an undefined result as the string "<undefined>".
        Value::String(s) if s == "<undefined>" => Err(AuthzErrorKind::PolicyUndefined.into()),
        _ => Err(AuthzErrorKind::PolicyError.into()),
    }
}

/// A policy's refusal of a request that carried no credentials is answered as a missing
/// credential (401 with the bearer challenge), as a rule that needs a principal is: a token
/// might change the answer. Errors and unavailability stay what they are.
pub(crate) fn ask_for_credentials(
    decided: Result<(), AuthzError>,
    anonymous: bool,
) -> Result<(), AuthzError> {
    match decided {
        Err(e)
            if anonymous
                && matches!(
                    e.kind(),
                    AuthzErrorKind::PolicyDenied { .. } | AuthzErrorKind::PolicyUndefined
                ) =>
        {
            Err(AuthzErrorKind::Unauthenticated.into())
        }
        other => other,
    }
}

/// The header names a policy may see, checked: lowercase, valid.
pub(crate) fn header_names<I>(names: I) -> Result<Vec<HeaderName>, String>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    names
        .into_iter()
        .map(|n| {
            let name = HeaderName::try_from(n.as_ref().to_ascii_lowercase())
                .map_err(|_| format!("{:?} is not a header name", n.as_ref()))?;
            if ALWAYS_CREDENTIALS.contains(&name) {
                return Err(format!(
                    "{:?} carries credentials: a policy's input never holds it",
                    n.as_ref()
                ));
            }
            Ok(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use serde_json::json;

    #[test]
    fn the_document_for_a_grpc_call_and_a_plain_request() {
        let mut request = Request::post("/shop.Inventory/Reserve")
            .header("content-type", "application/grpc")
            .header("x-tenant", "acme")
            .header("x-secret", "no")
            .body(())
            .unwrap();
        request
            .extensions_mut()
            .insert(crate::principal::test_principal("read write"));
        let headers = header_names(["X-Tenant"]).unwrap();
        let doc = serde_json::to_value(Input::new(&AuthzRequest::new(&request), &headers)).unwrap();
        assert_eq!(
            doc,
            json!({
                "request": {
                    "method": "POST", "path": "/shop.Inventory/Reserve",
                    "grpc": {"service": "shop.Inventory", "method": "Reserve"},
                    "headers": {"x-tenant": "acme"},
                },
                "principal": {"subject": "alice", "issuer": "https://issuer.test", "scopes": ["read", "write"], "claims": {"sub": "alice"}},
                "caller": null, "chain": [], "peer": null,
            })
        );
        let plain = Request::get("/orders/7").body(()).unwrap();
        let doc = serde_json::to_value(Input::new(&AuthzRequest::new(&plain), &[])).unwrap();
        assert_eq!(doc["request"]["grpc"], Value::Null);
        assert_eq!(doc["principal"], Value::Null);
        assert!(header_names(["bad name"]).is_err());
    }

    #[test]
    fn decisions() {
        let kind = |v: Value| verdict(&v).err().map(|e| e.kind().clone());
        assert_eq!(kind(json!(true)), None);
        assert_eq!(kind(json!({"allow": true})), None);
        assert_eq!(
            kind(json!(false)),
            Some(AuthzErrorKind::PolicyDenied { reason: None })
        );
        assert_eq!(
            kind(json!({"allow": false, "reason": "tenant mismatch"})),
            Some(AuthzErrorKind::PolicyDenied {
                reason: Some("tenant mismatch".into())
            })
        );
        assert_eq!(
            kind(json!("<undefined>")),
            Some(AuthzErrorKind::PolicyUndefined)
        );
        let denied = || Err(AuthzErrorKind::PolicyDenied { reason: None }.into());
        let kind_of = |r: Result<(), AuthzError>| r.err().map(|e| e.kind().clone());
        assert_eq!(
            kind_of(ask_for_credentials(denied(), true)),
            Some(AuthzErrorKind::Unauthenticated)
        );
        assert_eq!(
            kind_of(ask_for_credentials(
                Err(AuthzErrorKind::PolicyUndefined.into()),
                true
            )),
            Some(AuthzErrorKind::Unauthenticated)
        );
        assert_eq!(
            kind_of(ask_for_credentials(denied(), false)),
            Some(AuthzErrorKind::PolicyDenied { reason: None })
        );
        for kept in [
            AuthzErrorKind::PolicyError,
            AuthzErrorKind::PolicyUnavailable,
        ] {
            assert_eq!(
                kind_of(ask_for_credentials(Err(kept.clone().into()), true)),
                Some(kept)
            );
        }
        assert_eq!(kind_of(ask_for_credentials(Ok(()), true)), None);
        for not_a_decision in [
            json!("yes"),
            json!(1),
            json!({"allow": "yes"}),
            json!({}),
            json!(null),
            json!([true]),
        ] {
            assert_eq!(kind(not_a_decision), Some(AuthzErrorKind::PolicyError));
        }
    }
}
