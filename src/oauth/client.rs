//! A request to an authorization server: client authentication (`client_secret_basic`,
//! `private_key_jwt`), a form POST with a timeout and a bounded answer, and finding an
//! endpoint by discovery (OpenID Connect Discovery, then RFC 8414).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Client, Url};

use crate::mint::SigningKey;

/// The form parameter naming a JWT client assertion (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion is good for.
const ASSERTION_LIFETIME: u64 = 60;

/// How this service authenticates to the authorization server.
#[derive(Clone)]
pub(crate) enum ClientAuth {
    /// `client_secret_basic` (RFC 6749 §2.3.1): id and secret, each form-urlencoded, in
    /// HTTP Basic.
    SecretBasic { id: String, secret: String },
    /// `private_key_jwt` (OpenID Connect Core §9, RFC 7523): a short JWT signed with the
    /// client's key, addressed to the issuer.
    PrivateKeyJwt { id: String, key: SigningKey },
}

impl ClientAuth {
    pub(crate) fn client_id(&self) -> &str {
        match self {
            Self::SecretBasic { id, .. } | Self::PrivateKeyJwt { id, .. } => id,
        }
    }
}

/// Where and how to send one request.
pub(crate) struct Endpoint<'a> {
    pub(crate) client: &'a Client,
    pub(crate) url: &'a Url,
    /// The issuer identifier: the audience of a client assertion.
    pub(crate) issuer: &'a str,
    pub(crate) auth: &'a ClientAuth,
    pub(crate) timeout: Duration,
    pub(crate) max_len: usize,
}

/// Why a request gave no answer.
#[derive(Debug)]
enum Failure {
    /// Not sent, or its answer not read.
    Request(reqwest::Error),
    /// No answer within the timeout.
    Timeout,
    /// An answer longer than the bound.
    TooLarge,
    /// The client assertion could not be signed.
    Assertion(Option<jsonwebtoken::errors::Error>),
}

/// Why an authorization server gave no usable answer, in the terms both clients' errors
/// share. Each turns it into its own error by the one mapping of
/// [`from_unanswered!`](crate::oauth::from_unanswered), so the two cannot drift.
#[derive(Debug)]
pub(crate) enum Unanswered {
    /// No endpoint: discovery failed (with the request's error when there was one).
    Discovery(Option<reqwest::Error>),
    /// Discovery named an endpoint that is not `https`, and plain HTTP was not allowed.
    InsecureEndpoint,
    /// Not sent, or its answer not read.
    Request(reqwest::Error),
    /// No answer within this timeout.
    Timeout(Duration),
    /// An answer longer than this bound.
    TooLarge(usize),
    /// The client assertion could not be signed.
    ClientAssertion(Option<jsonwebtoken::errors::Error>),
}

impl Unanswered {
    /// A request's failure, with the endpoint's bounds it broke.
    fn of(failure: Failure, endpoint: &Endpoint<'_>) -> Self {
        match failure {
            Failure::Request(e) => Self::Request(e),
            Failure::Timeout => Self::Timeout(endpoint.timeout),
            Failure::TooLarge => Self::TooLarge(endpoint.max_len),
            Failure::Assertion(e) => Self::ClientAssertion(e),
        }
    }

    /// Discovery's failure.
    fn not_found(not_found: NotFound) -> Self {
        match not_found {
            NotFound::Insecure => Self::InsecureEndpoint,
            NotFound::Missing(Some(Failure::Request(e))) => Self::Discovery(Some(e)),
            NotFound::Missing(_) => Self::Discovery(None),
        }
    }
}

/// Writes `From<Unanswered>` for a client's error whose kind has the variants `Discovery`,
/// `InsecureEndpoint`, `Request`, `Timeout { after }`, `TooLarge { max }` and
/// `ClientAssertion`: the source (the discovery's, the request's, the signer's) is kept.
macro_rules! from_unanswered {
    ($error:ident, $kind:ident) => {
        impl From<$crate::oauth::Unanswered> for $error {
            fn from(unanswered: $crate::oauth::Unanswered) -> Self {
                use $crate::oauth::Unanswered as U;
                match unanswered {
                    U::Discovery(Some(e)) => Self::with_source($kind::Discovery, e),
                    U::Discovery(None) => $kind::Discovery.into(),
                    U::InsecureEndpoint => $kind::InsecureEndpoint.into(),
                    U::Request(e) => Self::with_source($kind::Request, e),
                    U::Timeout(after) => $kind::Timeout { after }.into(),
                    U::TooLarge(max) => $kind::TooLarge { max }.into(),
                    U::ClientAssertion(Some(e)) => Self::with_source($kind::ClientAssertion, e),
                    U::ClientAssertion(None) => $kind::ClientAssertion.into(),
                }
            }
        }
    };
}
pub(crate) use from_unanswered;

/// An answer: its status and its body (read whatever the status, within the bound).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// POSTs `params` as a form to the endpoint, authenticated as the client.
pub(crate) async fn post_form(
    endpoint: &Endpoint<'_>,
    params: &[(&str, &str)],
) -> Result<Answer, Unanswered> {
    post(endpoint, params)
        .await
        .map_err(|failure| Unanswered::of(failure, endpoint))
}

async fn post(endpoint: &Endpoint<'_>, params: &[(&str, &str)]) -> Result<Answer, Failure> {
    let mut request = endpoint.client.post(endpoint.url.clone());
    // Built whole before any wait: the serializer is not `Send`.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            form.append_pair(name, value);
        }
        match endpoint.auth {
            ClientAuth::SecretBasic { id, secret } => {
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let credentials = STANDARD.encode(format!("{}:{}", encode(id), encode(secret)));
                request =
                    request.header(http::header::AUTHORIZATION, format!("Basic {credentials}"));
            }
            ClientAuth::PrivateKeyJwt { id, key } => {
                form.append_pair("client_id", id)
                    .append_pair("client_assertion_type", JWT_BEARER)
                    .append_pair("client_assertion", &assertion(id, key, endpoint.issuer)?);
            }
        }
        form.finish()
    };
    let request = request
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(body)
        .timeout(endpoint.timeout);
    send(request, endpoint.timeout, endpoint.max_len).await
}

/// Sends `request` and reads its answer, bounded in time and length.
async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    max_len: usize,
) -> Result<Answer, Failure> {
    let work = async {
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                Failure::Timeout
            } else {
                Failure::Request(e)
            }
        };
        let mut response = request.send().await.map_err(failed)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|len| len > max_len as u64)
        {
            return Err(Failure::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > max_len {
                return Err(Failure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::Timeout),
    }
}

/// A `private_key_jwt` client assertion: `iss` and `sub` the client id, `aud` the issuer,
/// a random `jti`, valid for a minute.
fn assertion(client_id: &str, key: &SigningKey, issuer: &str) -> Result<String, Failure> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti).map_err(|_| Failure::Assertion(None))?;
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": issuer,
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
    });
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, &claims, key.encoding_key())
        .map_err(|e| Failure::Assertion(Some(e)))
}

/// Why discovery found no usable endpoint.
#[derive(Debug)]
enum NotFound {
    /// No document of this issuer named the endpoint (the last failure, if any).
    Missing(Option<Failure>),
    /// The endpoint named is not `https` and plain HTTP was not allowed.
    Insecure,
}

/// Finds `field` (`introspection_endpoint`, `token_endpoint`) in the issuer's metadata: the
/// OpenID Connect discovery document first, then the OAuth 2.0 authorization server
/// metadata (RFC 8414); the document must name exactly this issuer.
pub(crate) async fn discover(
    client: &Client,
    issuer: &str,
    field: &str,
    allow_http: bool,
    timeout: Duration,
    max_len: usize,
) -> Result<Url, Unanswered> {
    let found = async {
        let base = issuer.trim_end_matches('/');
        let mut last = None;
        for suffix in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let Ok(url) = Url::parse(&format!("{base}{suffix}")) else {
                return Err(NotFound::Missing(None));
            };
            let request = client
                .get(url)
                .header(http::header::ACCEPT, "application/json")
                .timeout(timeout);
            match send(request, timeout, max_len).await {
                Ok(answer) if answer.status == 200 => {
                    return endpoint_of(&answer.body, issuer, field, allow_http);
                }
                Ok(_) => {}
                Err(failure) => last = Some(failure),
            }
        }
        Err(NotFound::Missing(last))
    };
    found.await.map_err(Unanswered::not_found)
}

/// The URL under `field` of a metadata document whose `issuer` is exactly `issuer`.
fn endpoint_of(body: &[u8], issuer: &str, field: &str, allow_http: bool) -> Result<Url, NotFound> {
    let metadata: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|_| NotFound::Missing(None))?;
    if metadata.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
        return Err(NotFound::Missing(None));
    }
    let url = metadata
        .get(field)
        .and_then(|v| v.as_str())
        .and_then(|u| Url::parse(u).ok())
        .ok_or(NotFound::Missing(None))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http => Ok(url),
        _ => Err(NotFound::Insecure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_comes_from_a_document_of_this_issuer_only() {
        let doc = |iss: &str, ep: &str| {
            serde_json::json!({"issuer": iss, "introspection_endpoint": ep}).to_string()
        };
        let find = |body: &str, http: bool| {
            endpoint_of(
                body.as_bytes(),
                "https://idp",
                "introspection_endpoint",
                http,
            )
        };
        assert_eq!(
            find(&doc("https://idp", "https://idp/i"), false)
                .unwrap()
                .as_str(),
            "https://idp/i"
        );
        let missing = |r: Result<Url, NotFound>| matches!(r, Err(NotFound::Missing(None)));
        assert!(missing(find(&doc("https://evil", "https://idp/i"), false)));
        assert!(matches!(
            find(&doc("https://idp", "http://idp/i"), false),
            Err(NotFound::Insecure)
        ));
        assert!(find(&doc("https://idp", "http://idp/i"), true).is_ok());
        assert!(missing(find(&doc("https://idp", "not a url"), false)));
        assert!(missing(find(r#"{"issuer": "https://idp"}"#, false)));
        assert!(missing(find(
            r#"{"issuer": "https://idp", "token_endpoint": "https://idp/t"}"#,
            false
        )));
        assert!(missing(find("[]", false)));
    }
}
