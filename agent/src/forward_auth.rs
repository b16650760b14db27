//! The forward-auth endpoint: a proxy (nginx's `auth_request`, Caddy's `forward_auth`,
//! Traefik's `ForwardAuth`) sends the original request's method, URI and headers; the
//! engine decides; 2xx with the headers to copy upstream, or the refusal.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::header::{HOST, HeaderName};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use meshward::gate::Engine;
use serde_json::json;

/// The most header bytes (names and values) a call may carry.
pub(crate) const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The headers the answer sets, for the proxy to copy upstream.
pub(crate) const SUBJECT: &str = "x-meshward-subject";
pub(crate) const ISSUER: &str = "x-meshward-issuer";
pub(crate) const SCOPES: &str = "x-meshward-scopes";
pub(crate) const CALLER: &str = "x-meshward-caller";

/// The proxies' names for the original method, URI and host, first match wins: Caddy's and
/// Traefik's `X-Forwarded-*`, then the `X-Original-*` nginx is usually configured with.
const METHOD: [&str; 2] = ["x-forwarded-method", "x-original-method"];
const URI: [&str; 2] = ["x-forwarded-uri", "x-original-uri"];
const FORWARDED_HOST: &str = "x-forwarded-host";

/// What one listener serves with.
pub(crate) struct Endpoint {
    pub(crate) engine: Engine,
    pub(crate) trusted: Vec<std::net::IpAddr>,
}

/// Answers one forward-auth call.
pub(crate) async fn check(
    State(endpoint): State<Arc<Endpoint>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if !endpoint.trusted.contains(&from.ip()) {
        tracing::warn!(target: "meshward::agent", %from, "forward-auth call from an untrusted address: refused");
        return refuse(
            StatusCode::FORBIDDEN,
            "untrusted_proxy",
            "the caller is not a trusted proxy",
        );
    }
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the headers are over the bound",
        );
    }
    let head = match original(method, &headers) {
        Ok(head) => head,
        Err((error, description)) => {
            tracing::warn!(target: "meshward::agent", %from, error, "forward-auth call without the original request");
            return refuse(StatusCode::BAD_REQUEST, error, description);
        }
    };
    match endpoint.engine.decide(head).await {
        Ok(admitted) => match admission(admitted.principal()) {
            Some(headers) => (StatusCode::OK, headers).into_response(),
            None => refuse(
                StatusCode::FORBIDDEN,
                "unrepresentable_principal",
                "the principal cannot be written as headers",
            ),
        },
        Err(refused) => {
            let (rejection, response) = refused.into_parts();
            let (parts, ()) = response.into_parts();
            let body = json!({
                "error": rejection.label(),
                "error_description": rejection.description(),
            });
            let mut answer = (parts.status, axum::Json(body)).into_response();
            for (name, value) in &parts.headers {
                answer.headers_mut().insert(name, value.clone());
            }
            answer
        }
    }
}

/// The original request's head, from the proxy's headers.
fn original(
    method: Method,
    headers: &HeaderMap,
) -> Result<http::request::Parts, (&'static str, &'static str)> {
    let first = |names: &[&str]| names.iter().find_map(|n| headers.get(*n));
    let method = match first(&METHOD) {
        None => method,
        Some(value) => Method::from_bytes(value.as_bytes()).map_err(|_| {
            (
                "invalid_original_method",
                "the original method is not a method",
            )
        })?,
    };
    let uri = first(&URI).ok_or((
        "missing_original_uri",
        "no X-Forwarded-Uri or X-Original-URI header",
    ))?;
    let uri: Uri = uri
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|u: &Uri| u.scheme().is_none() && u.path().starts_with('/'))
        .ok_or((
            "invalid_original_uri",
            "the original URI is not an origin-form path",
        ))?;
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        if !is_forwarding(name) {
            request = request.header(name, value);
        }
    }
    if let Some(host) = headers.get(FORWARDED_HOST) {
        request = request.header(HOST, host);
    }
    let (head, ()) = request
        .body(())
        .map_err(|_| {
            (
                "invalid_original_request",
                "the original request is not well-formed",
            )
        })?
        .into_parts();
    Ok(head)
}

/// The proxy's own headers, not the original request's.
fn is_forwarding(name: &HeaderName) -> bool {
    let name = name.as_str();
    METHOD.contains(&name) || URI.contains(&name) || name == FORWARDED_HOST || name == HOST.as_str()
}

/// The headers an admission sets; `None` when a value cannot be a header value.
fn admission(principal: Option<&meshward::Principal>) -> Option<HeaderMap> {
    let mut headers = HeaderMap::new();
    let Some(principal) = principal else {
        return Some(headers);
    };
    let mut set = |name: &'static str, value: &str| -> Option<()> {
        headers.insert(name, HeaderValue::from_str(value).ok()?);
        Some(())
    };
    if let Some(subject) = principal.subject() {
        set(SUBJECT, subject)?;
    }
    set(ISSUER, principal.issuer())?;
    let scopes: Vec<&str> = principal.scopes().iter().collect();
    set(SCOPES, &scopes.join(" "))?;
    if let Some(caller) = principal.caller() {
        set(CALLER, caller)?;
    }
    Some(headers)
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_original_request_is_read_from_either_proxys_headers() {
        let caddy = headers(&[
            ("x-forwarded-method", "POST"),
            ("x-forwarded-uri", "/orders?x=1"),
            ("x-forwarded-host", "shop.test"),
            ("authorization", "Bearer t"),
        ]);
        let head = original(Method::GET, &caddy).unwrap();
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.uri, "/orders?x=1");
        assert_eq!(head.headers[HOST], "shop.test");
        assert_eq!(head.headers["authorization"], "Bearer t");
        assert!(!head.headers.contains_key("x-forwarded-uri"));

        let nginx = headers(&[("x-original-uri", "/a"), ("x-original-method", "DELETE")]);
        let head = original(Method::GET, &nginx).unwrap();
        assert_eq!((head.method, head.uri.path()), (Method::DELETE, "/a"));
        // No method header: the call's own.
        let head = original(Method::PUT, &headers(&[("x-original-uri", "/a")])).unwrap();
        assert_eq!(head.method, Method::PUT);
    }

    #[test]
    fn a_call_without_a_usable_original_request_says_which_part() {
        let error = |pairs: &[(&str, &str)]| original(Method::GET, &headers(pairs)).unwrap_err().0;
        assert_eq!(error(&[]), "missing_original_uri");
        assert_eq!(
            error(&[("x-original-uri", "http://evil.test/a")]),
            "invalid_original_uri"
        );
        assert_eq!(error(&[("x-original-uri", "*")]), "invalid_original_uri");
        assert_eq!(
            error(&[("x-original-uri", "/a"), ("x-original-method", "GE T")]),
            "invalid_original_method"
        );
    }
}
