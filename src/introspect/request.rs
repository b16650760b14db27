//! One introspection request (RFC 7662 §2.1): a form POST of the token, authenticated as the
//! resource server's client, with a timeout and a bounded answer; and finding the endpoint
//! by discovery (OpenID Connect Discovery, then RFC 8414).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::{Client, Url};

use super::error::{IntrospectionError, IntrospectionErrorKind};
use crate::mint::SigningKey;

/// The form parameter naming a JWT client assertion (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion is good for.
const ASSERTION_LIFETIME: u64 = 60;

/// How the resource server authenticates to the endpoint.
#[derive(Clone)]
pub(super) enum ClientAuth {
    /// `client_secret_basic` (RFC 6749 §2.3.1): id and secret, each form-urlencoded, in
    /// HTTP Basic.
    SecretBasic { id: String, secret: String },
    /// `private_key_jwt` (OpenID Connect Core §9, RFC 7523): a short JWT signed with the
    /// client's key, addressed to the issuer.
    PrivateKeyJwt { id: String, key: SigningKey },
}

impl ClientAuth {
    pub(super) fn client_id(&self) -> &str {
        match self {
            Self::SecretBasic { id, .. } | Self::PrivateKeyJwt { id, .. } => id,
        }
    }
}

/// What one request needs.
pub(super) struct Endpoint<'a> {
    pub(super) client: &'a Client,
    pub(super) url: &'a Url,
    pub(super) issuer: &'a str,
    pub(super) auth: &'a ClientAuth,
    pub(super) timeout: Duration,
    pub(super) max_len: usize,
}

/// POSTs `token` and returns the answer's body (status 200, at most `max_len` bytes).
pub(super) async fn introspect(
    endpoint: &Endpoint<'_>,
    token: &str,
) -> Result<Vec<u8>, IntrospectionError> {
    let mut request = endpoint.client.post(endpoint.url.clone());
    // Built whole before any wait: the serializer is not `Send`.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token)
            .append_pair("token_type_hint", "access_token");
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
) -> Result<Vec<u8>, IntrospectionError> {
    let work = async {
        let failed = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                IntrospectionErrorKind::Timeout { after: timeout }
            } else {
                IntrospectionErrorKind::Request
            };
            IntrospectionError::with_source(kind, e)
        };
        let mut response = request.send().await.map_err(failed)?;
        let status = response.status();
        if status != http::StatusCode::OK {
            return Err(IntrospectionErrorKind::Status {
                status: status.as_u16(),
            }
            .into());
        }
        read_bounded(&mut response, max_len).await
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(IntrospectionErrorKind::Timeout { after: timeout }.into()),
    }
}

/// The body of `response`, refused past `max_len` bytes (by its announced length first).
async fn read_bounded(
    response: &mut reqwest::Response,
    max_len: usize,
) -> Result<Vec<u8>, IntrospectionError> {
    let too_large = || IntrospectionError::from(IntrospectionErrorKind::TooLarge { max: max_len });
    if response
        .content_length()
        .is_some_and(|len| len > max_len as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| IntrospectionError::with_source(IntrospectionErrorKind::Request, e))?
    {
        if body.len() + chunk.len() > max_len {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A `private_key_jwt` client assertion: `iss` and `sub` the client id, `aud` the issuer,
/// a random `jti`, valid for a minute.
fn assertion(
    client_id: &str,
    key: &SigningKey,
    issuer: &str,
) -> Result<String, IntrospectionError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti)
        .map_err(|_| IntrospectionError::from(IntrospectionErrorKind::ClientAssertion))?;
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
        .map_err(|e| IntrospectionError::with_source(IntrospectionErrorKind::ClientAssertion, e))
}

/// Finds the issuer's `introspection_endpoint`: the OpenID Connect discovery document
/// first, then the OAuth 2.0 authorization server metadata (RFC 8414); the document must
/// name exactly this issuer.
pub(super) async fn discover(
    client: &Client,
    issuer: &str,
    allow_http: bool,
    timeout: Duration,
    max_len: usize,
) -> Result<Url, IntrospectionError> {
    let base = issuer.trim_end_matches('/');
    let mut last = IntrospectionError::from(IntrospectionErrorKind::Discovery);
    for suffix in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let Ok(url) = Url::parse(&format!("{base}{suffix}")) else {
            return Err(IntrospectionErrorKind::Discovery.into());
        };
        let request = client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .timeout(timeout);
        let body = match send(request, timeout, max_len).await {
            Ok(body) => body,
            Err(error) => {
                last = IntrospectionError::with_source(IntrospectionErrorKind::Discovery, error);
                continue;
            }
        };
        return endpoint_of(&body, issuer, allow_http);
    }
    Err(last)
}

/// The `introspection_endpoint` of a metadata document whose `issuer` is exactly `issuer`.
fn endpoint_of(body: &[u8], issuer: &str, allow_http: bool) -> Result<Url, IntrospectionError> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        issuer: Option<String>,
        introspection_endpoint: Option<String>,
    }
    let metadata: Metadata = serde_json::from_slice(body)
        .map_err(|e| IntrospectionError::with_source(IntrospectionErrorKind::Discovery, e))?;
    if metadata.issuer.as_deref() != Some(issuer) {
        return Err(IntrospectionErrorKind::Discovery.into());
    }
    let url = metadata
        .introspection_endpoint
        .and_then(|u| Url::parse(&u).ok())
        .ok_or(IntrospectionErrorKind::Discovery)?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http => Ok(url),
        _ => Err(IntrospectionErrorKind::InsecureEndpoint.into()),
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
        let found = endpoint_of(
            doc("https://idp", "https://idp/i").as_bytes(),
            "https://idp",
            false,
        );
        assert_eq!(found.unwrap().as_str(), "https://idp/i");
        let kind = |body: &str, http: bool| {
            endpoint_of(body.as_bytes(), "https://idp", http)
                .unwrap_err()
                .kind()
                .clone()
        };
        assert_eq!(
            kind(&doc("https://evil", "https://idp/i"), false),
            IntrospectionErrorKind::Discovery
        );
        assert_eq!(
            kind(&doc("https://idp", "http://idp/i"), false),
            IntrospectionErrorKind::InsecureEndpoint
        );
        assert!(
            endpoint_of(
                doc("https://idp", "http://idp/i").as_bytes(),
                "https://idp",
                true
            )
            .is_ok()
        );
        assert_eq!(
            kind(&doc("https://idp", "not a url"), false),
            IntrospectionErrorKind::Discovery
        );
        assert_eq!(
            kind(r#"{"issuer": "https://idp"}"#, false),
            IntrospectionErrorKind::Discovery
        );
        assert_eq!(kind("[]", false), IntrospectionErrorKind::Discovery);
    }
}
