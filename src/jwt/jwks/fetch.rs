//! One bounded HTTP GET: timeout, body cap, no redirects to other hosts, and the
//! `Cache-Control: max-age` the server sent.

use std::time::Duration;

use reqwest::{Client, Url, redirect};

use super::error::{KeySourceError, KeySourceErrorKind};

/// The most redirects followed, all on the first URL's origin.
const MAX_REDIRECTS: usize = 3;

/// A client that follows at most three redirects, only to the same scheme, host and port.
pub(crate) fn default_client(timeout: Duration) -> Result<Client, reqwest::Error> {
    let same_origin = redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first();
        let same = first.is_some_and(|first| origin(first) == origin(attempt.url()));
        if attempt.previous().len() > MAX_REDIRECTS || !same {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    Client::builder()
        .redirect(same_origin)
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
}

fn origin(url: &Url) -> (&str, Option<&str>, Option<u16>) {
    (url.scheme(), url.host_str(), url.port_or_known_default())
}

/// A fetched body and how long the server said it stays fresh.
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) status: u16,
}

/// GETs `url`, refusing non-2xx answers and bodies over `max_body` bytes.
pub(crate) async fn get(
    client: &Client,
    url: &Url,
    timeout: Duration,
    max_body: usize,
) -> Result<Fetched, KeySourceError> {
    let work = async {
        let mut response = client
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| KeySourceError::with_source(KeySourceErrorKind::Request, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(KeySourceErrorKind::Status {
                status: status.as_u16(),
            }
            .into());
        }
        let too_large = || KeySourceError::from(KeySourceErrorKind::BodyTooLarge { max: max_body });
        if response
            .content_length()
            .is_some_and(|len| len > max_body as u64)
        {
            return Err(too_large());
        }
        let max_age = response
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| KeySourceError::with_source(KeySourceErrorKind::Request, e))?
        {
            if body.len() + chunk.len() > max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            body,
            max_age,
            status: status.as_u16(),
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(KeySourceErrorKind::Timeout { after: timeout }.into()),
    }
}

/// `max-age` from a `Cache-Control` value; `no-cache` and `no-store` count as zero.
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return Some(Duration::ZERO);
        }
        if let Some((name, secs)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
        {
            age = secs
                .trim()
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("MAX-AGE=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("max-age=600, no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(max_age("private"), None);
    }
}
