//! What both clients of an authorization server are configured with, the one check of it
//! (the issuer and the endpoint are URLs, `https` unless plain HTTP is allowed; the HTTP
//! client follows no redirect and gives up after the timeout), and the [`Server`] it makes:
//! where requests go, found by discovery once when not configured.

use std::time::Duration;

use reqwest::{Client, Url};
use tokio::sync::OnceCell;

use super::client::{ClientAuth, Endpoint, Unanswered, discover};
use super::error::{ClientConfigError, ClientConfigErrorKind as Kind};

/// Default timeout of one request to the authorization server (discovery included), for
/// introspection and the token exchange alike.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on the length of an authorization server's answer.
pub const DEFAULT_MAX_ANSWER_LEN: usize = 64 * 1024;

/// The settings as the builder holds them.
pub(crate) struct Settings<'a> {
    pub(crate) issuer: &'a str,
    /// The endpoint when it is configured (else it is found by discovery from the issuer),
    /// and its name in errors.
    pub(crate) endpoint: Option<&'a str>,
    pub(crate) endpoint_name: &'static str,
    /// The metadata member that names the endpoint (`introspection_endpoint`,
    /// `token_endpoint`).
    pub(crate) metadata_field: &'static str,
    pub(crate) allow_http: bool,
    pub(crate) auth: ClientAuth,
    pub(crate) max_answer_len: usize,
    pub(crate) timeout: Duration,
    /// A client the user gave, used as it is.
    pub(crate) client: Option<Client>,
}

/// An authorization server as its client sees it: where to send requests, how to
/// authenticate, the bounds.
pub(crate) struct Server {
    pub(crate) issuer: String,
    endpoint: Option<Url>,
    discovered: OnceCell<Url>,
    metadata_field: &'static str,
    allow_http: bool,
    pub(crate) auth: ClientAuth,
    client: Client,
    pub(crate) timeout: Duration,
    pub(crate) max_answer_len: usize,
}

impl Server {
    /// The endpoint: the one configured, or the one the issuer's metadata names (found once,
    /// at first use; a failure is tried again by the next request).
    pub(crate) async fn url(&self) -> Result<&Url, Unanswered> {
        if let Some(url) = &self.endpoint {
            return Ok(url);
        }
        self.discovered
            .get_or_try_init(|| {
                discover(
                    &self.client,
                    &self.issuer,
                    self.metadata_field,
                    self.allow_http,
                    self.timeout,
                    self.max_answer_len,
                )
            })
            .await
    }

    /// How to send one request to `url`.
    pub(crate) fn endpoint<'a>(&'a self, url: &'a Url) -> Endpoint<'a> {
        Endpoint {
            client: &self.client,
            url,
            issuer: &self.issuer,
            auth: &self.auth,
            timeout: self.timeout,
            max_len: self.max_answer_len,
        }
    }

    /// The endpoint configured, if one was.
    pub(crate) fn configured(&self) -> Option<&Url> {
        self.endpoint.as_ref()
    }
}

impl Settings<'_> {
    pub(crate) fn check(self) -> Result<Server, ClientConfigError> {
        let secure = |url: &Url| match url.scheme() {
            "https" => Ok(()),
            "http" if self.allow_http => Ok(()),
            _ => Err(ClientConfigError::from(Kind::InsecureUrl {
                url: url.to_string(),
            })),
        };
        let issuer = Url::parse(self.issuer).map_err(|e| {
            ClientConfigError::with_source(Kind::InvalidUrl { what: "the issuer" }, e)
        })?;
        let endpoint = match self.endpoint {
            // Discovered from the issuer: the issuer's scheme is the endpoint's.
            None => {
                secure(&issuer)?;
                None
            }
            Some(url) => {
                let what = self.endpoint_name;
                let url = Url::parse(url)
                    .map_err(|e| ClientConfigError::with_source(Kind::InvalidUrl { what }, e))?;
                secure(&url)?;
                Some(url)
            }
        };
        let client = match self.client {
            Some(client) => client,
            None => Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(self.timeout)
                .connect_timeout(self.timeout)
                .build()
                .map_err(|e| ClientConfigError::with_source(Kind::Client, e))?,
        };
        Ok(Server {
            issuer: self.issuer.to_owned(),
            endpoint,
            discovered: OnceCell::new(),
            metadata_field: self.metadata_field,
            allow_http: self.allow_http,
            auth: self.auth,
            client,
            timeout: self.timeout,
            max_answer_len: self.max_answer_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults() {
        // The builders' docs and the manual promise these: five seconds, 64 KiB.
        assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(5));
        assert_eq!(DEFAULT_MAX_ANSWER_LEN, 65_536);
    }
}
