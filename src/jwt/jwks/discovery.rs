//! OpenID Connect Discovery: `issuer` → `/.well-known/openid-configuration` → `jwks_uri`.

use std::time::Duration;

use reqwest::{Client, Url};

use super::error::{KeySourceError, KeySourceErrorKind};
use super::fetch;

/// The discovery document's URL for `issuer` (OpenID Connect Discovery §4.1): any trailing
/// slash removed, then `/.well-known/openid-configuration` appended.
pub(crate) fn discovery_url(issuer: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
}

/// Fetches the discovery document and returns its `jwks_uri`, after checking that its
/// `issuer` is exactly the one configured.
pub(crate) async fn jwks_uri(
    client: &Client,
    issuer: &str,
    url: &Url,
    timeout: Duration,
    max_body: usize,
) -> Result<Url, KeySourceError> {
    let fetched = fetch::get(client, url, timeout, max_body).await?;
    parse_document(&fetched.body, issuer)
}

/// The `jwks_uri` of a discovery document whose `issuer` is exactly `issuer`.
pub(crate) fn parse_document(body: &[u8], issuer: &str) -> Result<Url, KeySourceError> {
    #[derive(serde::Deserialize)]
    struct Document {
        issuer: Option<String>,
        jwks_uri: Option<String>,
    }
    let doc: Document = serde_json::from_slice(body).map_err(|e| {
        KeySourceError::with_source(
            KeySourceErrorKind::InvalidDiscovery {
                reason: "not a JSON object",
            },
            e,
        )
    })?;
    let found = doc.issuer.ok_or(KeySourceErrorKind::InvalidDiscovery {
        reason: "no issuer",
    })?;
    if found != issuer {
        return Err(KeySourceErrorKind::IssuerMismatch {
            expected: issuer.to_owned(),
            found,
        }
        .into());
    }
    let jwks_uri = doc.jwks_uri.ok_or(KeySourceErrorKind::InvalidDiscovery {
        reason: "no jwks_uri",
    })?;
    Url::parse(&jwks_uri).map_err(|e| {
        KeySourceError::with_source(
            KeySourceErrorKind::InvalidDiscovery {
                reason: "jwks_uri is not a URL",
            },
            e,
        )
    })
}
