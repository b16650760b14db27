//! The check [`AuthLayer`](super::AuthLayer) runs on every request, top to bottom: extract
//! the token, attempt to verify it, bind the principal to the connection, then admit or
//! refuse. It is the layer's [gate](crate::gate); [`Gated`] drives it in a tower stack, the
//! [`Engine`](crate::gate::Engine) outside one.

use std::fmt;

use http::request::Parts;

use super::error::{TokenError, TokenErrorKind};
use super::extract::{TokenLocation, checked, locate_first};
use super::verifier::Verifier;
use crate::audit::{self, Layer, Outcome};
use crate::gate::{Answer, Gate, Gated, Started};
use crate::peer::peer_identity;
use crate::principal::{CredentialHeaders, Principal};
use crate::rejection::Rejection;

/// The [gate](crate::gate) of an [`AuthLayer`](super::AuthLayer): what it was configured with, and the check
/// (`service.rs`) it runs on every request.
#[derive(Clone)]
pub struct AuthGate<V> {
    pub(crate) verifier: V,
    pub(crate) locations: Box<[TokenLocation]>,
    /// The headers of `locations` that are no fixed credential header, passed on in the
    /// extensions so that no policy input copies them; `None` when there are none.
    pub(crate) credential_headers: Option<CredentialHeaders>,
    pub(crate) allow_anonymous: bool,
    pub(crate) require_bound: bool,
}

impl<V: fmt::Debug> fmt::Debug for AuthGate<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthGate")
            .field("verifier", &self.verifier)
            .field("locations", &self.locations)
            .field("allow_anonymous", &self.allow_anonymous)
            .field("require_bound", &self.require_bound)
            .finish()
    }
}

/// The service made by [`AuthLayer`](super::AuthLayer): its gate over the inner service.
pub type Auth<S, V, R> = Gated<S, AuthGate<V>, R>;

/// The response future of [`Auth`]: the one future of every gate.
pub type ResponseFuture<S, ReqBody, V, R> = crate::gate::ResponseFuture<S, ReqBody, AuthGate<V>, R>;

impl<V: Verifier> Gate for AuthGate<V> {
    type Wait = V::Future;

    fn check(
        &self,
        head: &mut Parts,
        started: Started,
    ) -> Answer<Result<(), Rejection>, V::Future> {
        let verifier = &self.verifier;
        // 1. Extract: the first configured location that holds a token, within the size cap.
        let located = locate_first(
            &self.locations,
            &head.headers,
            &head.uri,
            verifier.max_token_len(),
        );
        let attempt = match located {
            // A token verified before is answered at once; its syntax was checked then.
            Ok(Some(token)) => match verifier.cached(&token) {
                Some(principal) => Answer::Now(Ok(principal)),
                None => match checked(token) {
                    Ok(token) => verifier.attempt(&token),
                    Err(kind) => Answer::Now(Err(refused_here(verifier, kind))),
                },
            },
            Ok(None) if self.allow_anonymous => {
                audit::record(
                    Layer::Auth,
                    head,
                    None,
                    Outcome::Allow("anonymous"),
                    started,
                );
                return Answer::Now(Ok(()));
            }
            Ok(None) => Answer::Now(Err(refused_here(verifier, TokenErrorKind::Missing))),
            Err(kind) => Answer::Now(Err(refused_here(verifier, kind))),
        };
        // 2. Attempt: decided at once (a cached token, keys at hand), or after a wait.
        match attempt {
            Answer::Now(verified) => Answer::Now(self.conclude(verified, head, started)),
            Answer::Later(wait) => Answer::Later(wait),
        }
    }

    /// Steps 3 (bind) and 4 (admit or refuse): the end of every request's path, whether
    /// the verifier decided at once or after a wait.
    fn conclude(
        &self,
        verified: Result<Principal, TokenError>,
        head: &mut Parts,
        started: Started,
    ) -> Result<(), Rejection> {
        let bound = verified.and_then(|principal| {
            bind(self, principal, &head.extensions).inspect_err(|error| {
                self.verifier.record_rejection(error);
            })
        });
        match bound {
            Ok(principal) => {
                audit::record(
                    Layer::Auth,
                    head,
                    Some(&principal),
                    Outcome::Allow("authenticated"),
                    started,
                );
                if let Some(headers) = &self.credential_headers {
                    head.extensions.insert(headers.clone());
                }
                head.extensions.insert(principal);
                Ok(())
            }
            Err(error) => {
                let rejection = Rejection::from(error);
                audit::record(Layer::Auth, head, None, Outcome::Deny(&rejection), started);
                Err(rejection)
            }
        }
    }
}

/// A refusal the layer makes before the verifier sees a token; the verifier counts it too.
fn refused_here<V: Verifier>(verifier: &V, kind: TokenErrorKind) -> TokenError {
    let error = TokenError::from(kind);
    verifier.record_rejection(&error);
    error
}

/// Ties a verified token to the request's connection: a certificate-bound token must come
/// with that certificate (RFC 8705 §3), and the principal carries the peer.
fn bind<V>(
    config: &AuthGate<V>,
    principal: Principal,
    extensions: &http::Extensions,
) -> Result<Principal, TokenError> {
    let peer = peer_identity(extensions);
    // A service token bound to its issuer's workload: the connection must prove that
    // SPIFFE ID, so a token replayed from another workload fails.
    if let Some(required) = principal.bound_peer() {
        let proven = peer
            .as_ref()
            .and_then(|p| p.spiffe_id())
            .map(|id| id.as_str());
        if proven != Some(required) {
            return Err(TokenErrorKind::CallerNotPeer.into());
        }
    }
    let presented = peer.as_ref().and_then(|p| p.thumbprint_sha256());
    match (principal.certificate_thumbprint(), presented) {
        (Some(bound), Some(presented)) if bound == presented => Ok(principal.with_peer(peer)),
        (Some(_), _) => Err(TokenErrorKind::CertificateMismatch.into()),
        (None, _) if config.require_bound => Err(TokenErrorKind::UnboundToken.into()),
        (None, _) => Ok(principal.with_peer(peer)),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::{StatusCode, header};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use tower::{ServiceBuilder, ServiceExt};

    use std::sync::Arc;

    use http::{Request, Response};

    use super::*;
    use crate::jwt::{AuthLayer, TokenErrorKind, Validator};
    use crate::rejection::RejectionKind;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn validator() -> Validator {
        Validator::builder("iss", ["aud"])
            .add_hmac_secret(SECRET, Algorithm::HS256)
            .build()
            .unwrap()
    }

    fn token(exp_offset: i64) -> String {
        let exp = jsonwebtoken::get_current_timestamp() as i64 + exp_offset;
        let claims = serde_json::json!({"iss": "iss", "aud": "aud", "sub": "s", "exp": exp});
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn request(token: Option<&str>, grpc: bool) -> Request<()> {
        let mut builder = Request::get("/");
        if let Some(t) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if grpc {
            builder = builder.header(header::CONTENT_TYPE, "application/grpc");
        }
        builder.body(()).unwrap()
    }

    async fn call(layer: AuthLayer, req: Request<()>) -> (Response<()>, usize) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let svc = ServiceBuilder::new()
            .layer(layer)
            .service_fn(move |req: Request<()>| {
                seen.fetch_add(1, Ordering::SeqCst);
                let has_principal = req.extensions().get::<Principal>().is_some();
                async move {
                    let mut res = Response::new(());
                    if has_principal {
                        res.headers_mut()
                            .insert("x-principal", "yes".parse().unwrap());
                    }
                    Ok::<_, Infallible>(res)
                }
            });
        let res = svc.oneshot(req).await.unwrap();
        (res, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn valid_token_reaches_inner_with_principal() {
        let (res, calls) = call(
            AuthLayer::new(validator()),
            request(Some(&token(60)), false),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(calls, 1);
        assert_eq!(res.headers()["x-principal"], "yes");
    }

    #[tokio::test]
    async fn refusal_skips_inner_and_carries_the_typed_error() {
        let (res, calls) = call(
            AuthLayer::new(validator()),
            request(Some(&token(-3600)), false),
        )
        .await;
        assert_eq!(calls, 0);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let rejection = res.extensions().get::<Rejection>().unwrap();
        assert_eq!(rejection.kind(), RejectionKind::InvalidToken);
        let error = rejection.downcast_ref::<TokenError>().unwrap();
        assert!(matches!(error.kind(), TokenErrorKind::Expired { .. }));
    }

    #[tokio::test]
    async fn grpc_requests_get_trailers_only_answers() {
        let (res, calls) = call(AuthLayer::new(validator()), request(None, true)).await;
        assert_eq!(calls, 0);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["grpc-status"], "16");
        assert_eq!(res.headers()["content-type"], "application/grpc");
    }

    #[tokio::test]
    async fn optional_mode() {
        let layer = AuthLayer::new(validator()).allow_anonymous();
        let (res, calls) = call(layer.clone(), request(None, false)).await;
        assert_eq!((res.status(), calls), (StatusCode::OK, 1));
        assert!(res.headers().get("x-principal").is_none());
        let (res, calls) = call(layer, request(Some("garbage"), false)).await;
        assert_eq!((res.status(), calls), (StatusCode::UNAUTHORIZED, 0));
    }

    #[tokio::test]
    async fn custom_responder_renders_its_own_body() {
        let layer = AuthLayer::new(validator()).with_rejection_response(
            |rejection: &Rejection, _: &http::request::Parts| {
                let mut res = Response::new(format!("denied: {}", rejection.description()));
                *res.status_mut() = rejection.status();
                res
            },
        );
        let svc = ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(Response::new(String::from("ok")))
            });
        let res = svc.oneshot(request(None, false)).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.body(), "denied: bearer token required");
        assert!(res.extensions().get::<Rejection>().is_some());
    }

    #[tokio::test]
    async fn refusals_before_the_verifier_are_counted_by_it() {
        let validator = validator();
        let layer = AuthLayer::new(validator.clone());
        let (res, _) = call(layer.clone(), request(None, false)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let mut malformed = request(None, false);
        malformed
            .headers_mut()
            .insert(header::AUTHORIZATION, "Bearer".parse().unwrap());
        let (res, _) = call(layer, malformed).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let rejections = validator.stats().rejections;
        assert!(rejections.contains(&("missing", 1)), "{rejections:?}");
        assert!(
            rejections.contains(&("invalid_request", 1)),
            "{rejections:?}"
        );
    }

    #[tokio::test]
    async fn token_from_the_second_location() {
        let layer = AuthLayer::new(validator()).token_locations([
            crate::jwt::TokenLocation::authorization_header(),
            crate::jwt::TokenLocation::cookie("session").unwrap(),
        ]);
        let mut req = request(None, false);
        req.headers_mut().insert(
            header::COOKIE,
            format!("session={}", token(60)).parse().unwrap(),
        );
        let (res, calls) = call(layer, req).await;
        assert_eq!((res.status(), calls), (StatusCode::OK, 1));
        assert_eq!(res.headers()["x-principal"], "yes");
    }
}
