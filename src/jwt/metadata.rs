//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document that tells a client which
//! authorization server issues tokens for this resource, served at its well-known URL and
//! named in every challenge.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, Uri};
use serde_json::{Value, json};
use tower_service::Service;

use super::error::{ConfigError, ConfigErrorKind};

/// The well-known path segment of RFC 9728 §3.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata document (RFC 9728), and a tower service that serves it
/// (`GET`/`HEAD`, `application/json`; other methods 405).
///
/// Mount it at [`path`](Self::path) and name its [`url`](Self::url) in the challenges
/// with [`DefaultRejectionResponse::resource_metadata`](crate::DefaultRejectionResponse::resource_metadata):
/// a client that gets a 401 then finds where to get a token, as MCP clients do.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use meshward::DefaultRejectionResponse;
/// use meshward::jwt::ResourceMetadata;
///
/// # fn f() -> Result<(), meshward::jwt::ConfigError> {
/// let metadata = ResourceMetadata::builder("https://api.example.com/orders")
///     .authorization_server("https://idp.example.com")
///     .scopes_supported(["orders:read", "orders:write"])
///     .build()?;
/// assert_eq!(
///     metadata.url(),
///     "https://api.example.com/.well-known/oauth-protected-resource/orders"
/// );
/// let responder = DefaultRejectionResponse::new().resource_metadata(metadata.url());
/// let app: axum::Router = axum::Router::new().route_service(&metadata.path(), metadata.clone());
/// # Ok(()) }
/// # }
/// ```
#[derive(Clone)]
pub struct ResourceMetadata {
    inner: Arc<Inner>,
}

struct Inner {
    document: String,
    url: String,
    path: String,
}

/// Builds a [`ResourceMetadata`]; from [`ResourceMetadata::builder`].
#[must_use]
#[derive(Debug)]
pub struct ResourceMetadataBuilder {
    resource: String,
    authorization_servers: Vec<String>,
    scopes: Vec<String>,
    name: Option<String>,
    allow_http: bool,
}

impl ResourceMetadata {
    /// Metadata for the resource identified by `resource`: an `https` URL (RFC 9728
    /// §1.2), usually the audience its tokens carry.
    pub fn builder(resource: impl Into<String>) -> ResourceMetadataBuilder {
        ResourceMetadataBuilder {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes: Vec::new(),
            name: None,
            allow_http: false,
        }
    }

    /// The JSON document served.
    pub fn document(&self) -> &str {
        &self.inner.document
    }

    /// Where the document is served: the resource's origin, the well-known segment, then
    /// the resource's path (RFC 9728 §3.1).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The path to mount the service at (the [`url`](Self::url)'s path).
    pub fn path(&self) -> String {
        self.inner.path.clone()
    }
}

impl ResourceMetadataBuilder {
    /// An authorization server (its issuer identifier) whose tokens the resource accepts;
    /// call once for each.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes the resource uses in authorization decisions (`scopes_supported`).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// A human-readable name (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Allows an `http://` resource identifier (loopback and development only).
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Checks the identifier and builds the document.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidResource`] for an identifier that is not an absolute
    /// `https` URL (or `http` when allowed), or has a query or a fragment.
    pub fn build(self) -> Result<ResourceMetadata, ConfigError> {
        let invalid = |reason| ConfigError::from(ConfigErrorKind::InvalidResource { reason });
        if self.resource.contains('#') {
            return Err(invalid("it has a fragment"));
        }
        let uri: Uri = self.resource.parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if self.allow_http => {}
            _ => return Err(invalid("not an https URL")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if uri.query().is_some() {
            return Err(invalid("it has a query"));
        }
        let resource_path = uri.path().trim_end_matches('/');
        let path = format!("{WELL_KNOWN}{resource_path}");
        let scheme = uri.scheme_str().unwrap_or("https");
        let url = format!("{scheme}://{authority}{path}");
        let mut document = json!({
            "resource": self.resource,
            "bearer_methods_supported": ["header"],
        });
        if !self.authorization_servers.is_empty() {
            document["authorization_servers"] = json!(self.authorization_servers);
        }
        if !self.scopes.is_empty() {
            document["scopes_supported"] = json!(self.scopes);
        }
        if let Some(name) = self.name {
            document["resource_name"] = Value::String(name);
        }
        Ok(ResourceMetadata {
            inner: Arc::new(Inner {
                document: document.to_string(),
                url,
                path,
            }),
        })
    }
}

impl<B> Service<Request<B>> for ResourceMetadata {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(crate::document::answer(
            &request,
            HeaderValue::from_static("application/json"),
            HeaderValue::from_static("public, max-age=3600"),
            || self.inner.document.clone(),
        )))
    }
}

impl fmt::Debug for ResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMetadata")
            .field("url", &self.inner.url)
            .field("document", &self.inner.document)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::CONTENT_TYPE;

    #[test]
    fn the_well_known_url_goes_between_the_host_and_the_path() {
        let at = |resource: &str| {
            let m = ResourceMetadata::builder(resource).build().unwrap();
            (m.url().to_owned(), m.path())
        };
        assert_eq!(
            at("https://api.example.com"),
            (
                "https://api.example.com/.well-known/oauth-protected-resource".into(),
                "/.well-known/oauth-protected-resource".into()
            )
        );
        assert_eq!(
            at("https://api.example.com:8443/v1/orders/"),
            (
                "https://api.example.com:8443/.well-known/oauth-protected-resource/v1/orders"
                    .into(),
                "/.well-known/oauth-protected-resource/v1/orders".into()
            )
        );
    }

    #[test]
    fn the_document_names_what_was_configured() {
        let m = ResourceMetadata::builder("https://api.example.com/orders")
            .authorization_server("https://idp.example.com")
            .authorization_server("https://idp2.example.com")
            .scopes_supported(["orders:read"])
            .resource_name("Orders")
            .build()
            .unwrap();
        let doc: Value = serde_json::from_str(m.document()).unwrap();
        assert_eq!(
            doc,
            json!({
                "resource": "https://api.example.com/orders",
                "authorization_servers": ["https://idp.example.com", "https://idp2.example.com"],
                "scopes_supported": ["orders:read"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Orders",
            })
        );
        let bare: Value = serde_json::from_str(
            ResourceMetadata::builder("https://a.example")
                .build()
                .unwrap()
                .document(),
        )
        .unwrap();
        assert_eq!(
            bare,
            json!({"resource": "https://a.example", "bearer_methods_supported": ["header"]})
        );
    }

    #[test]
    fn identifiers_that_are_not_https_urls_are_refused() {
        for (resource, reason) in [
            ("http://api.example.com", "not an https URL"),
            ("api.example.com", "not an https URL"),
            ("/orders", "not an https URL"),
            ("https://api.example.com/x?y=1", "it has a query"),
            ("https://api.example.com/x#y", "it has a fragment"),
            ("https://bad host", "not a URL"),
            ("", "not a URL"),
        ] {
            let error = ResourceMetadata::builder(resource).build().unwrap_err();
            assert_eq!(
                error.kind(),
                &ConfigErrorKind::InvalidResource { reason },
                "{resource}"
            );
        }
        assert!(
            ResourceMetadata::builder("http://127.0.0.1:8080")
                .allow_insecure_http()
                .build()
                .is_ok()
        );
    }

    #[test]
    fn it_serves_get_and_head_and_refuses_the_rest() {
        use tower::ServiceExt as _;
        let m = ResourceMetadata::builder("https://a.example")
            .build()
            .unwrap();
        let rt = tokio_test_runtime();
        let get = rt
            .block_on(m.clone().oneshot(Request::get("/").body(()).unwrap()))
            .unwrap();
        assert_eq!(get.status(), 200);
        assert_eq!(get.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(get.body(), m.document());
        let head = rt
            .block_on(m.clone().oneshot(Request::head("/").body(()).unwrap()))
            .unwrap();
        assert_eq!((head.status().as_u16(), head.body().as_str()), (200, ""));
        let post = rt
            .block_on(m.oneshot(Request::post("/").body(()).unwrap()))
            .unwrap();
        assert_eq!(post.status(), 405);
        assert_eq!(post.headers()[http::header::ALLOW], "GET, HEAD");
    }

    fn tokio_test_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }
}
