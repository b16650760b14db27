use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::error::{TokenError, TokenErrorKind};
use super::future::ResponseFuture;
#[cfg(feature = "remote")]
use super::future::VerifyFuture;
use super::layer::AuthConfig;
use super::validator::Attempt;
use crate::principal::{Principal, VerifiedToken};
use crate::rejection::{Rejection, RejectionResponse, respond};

/// The service made by [`AuthLayer`](super::AuthLayer).
#[derive(Clone)]
pub struct Auth<S, R> {
    inner: S,
    config: Arc<AuthConfig>,
    responder: R,
}

impl<S, R> Auth<S, R> {
    pub(crate) fn new(inner: S, config: Arc<AuthConfig>, responder: R) -> Self {
        Self {
            inner,
            config,
            responder,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// What the synchronous part of authentication decided.
enum Decision {
    Admit(Option<Principal>),
    Refuse(TokenError),
    #[cfg(feature = "remote")]
    Wait(VerifyFuture),
}

impl AuthConfig {
    /// Ties a verified token to the request's connection: a certificate-bound token must
    /// come with that certificate (RFC 8705 §3), and the principal carries the peer.
    pub(crate) fn bind(
        &self,
        verified: Arc<VerifiedToken>,
        extensions: &http::Extensions,
    ) -> Result<Principal, TokenError> {
        #[cfg(feature = "mtls")]
        let result = {
            let peer = crate::mtls::peer_identity(extensions);
            let presented = peer.as_ref().and_then(|p| p.thumbprint_sha256());
            match (verified.cnf_x5t.as_deref(), presented) {
                (Some(bound), Some(presented)) if bound == presented => {
                    Ok(Principal::from_verified(verified).with_peer(peer))
                }
                (Some(_), _) => Err(TokenErrorKind::CertificateMismatch.into()),
                (None, _) if self.require_bound => Err(TokenErrorKind::UnboundToken.into()),
                (None, _) => Ok(Principal::from_verified(verified).with_peer(peer)),
            }
        };
        #[cfg(not(feature = "mtls"))]
        let result = {
            let _ = extensions;
            match verified.cnf_x5t {
                // Without mTLS there is no certificate to match.
                Some(_) => Err(TokenErrorKind::CertificateMismatch.into()),
                None => Ok(Principal::from_verified(verified)),
            }
        };
        if let Err(error) = &result {
            self.validator.record_rejection(error);
        }
        result
    }
}

impl AuthConfig {
    fn authenticate<B>(&self, request: &Request<B>) -> Decision {
        let validator = &self.validator;
        let refuse = |kind: TokenErrorKind| {
            let error = TokenError::from(kind);
            validator.record_rejection(&error);
            Decision::Refuse(error)
        };
        let token = match self
            .location
            .extract(request.headers(), validator.max_token_len())
        {
            Ok(Some(token)) => token,
            Ok(None) if self.optional => return Decision::Admit(None),
            Ok(None) => return refuse(TokenErrorKind::Missing),
            Err(kind) => return refuse(kind),
        };
        match validator.attempt(token) {
            Attempt::Done(Ok(verified)) => match self.bind(verified, request.extensions()) {
                Ok(principal) => Decision::Admit(Some(principal)),
                Err(error) => Decision::Refuse(error),
            },
            Attempt::Done(Err(error)) => Decision::Refuse(error),
            #[cfg(feature = "remote")]
            Attempt::NeedsKeys(need) => {
                let validator = validator.clone();
                let token = token.to_owned();
                Decision::Wait(Box::pin(
                    async move { validator.finish(&token, need).await },
                ))
            }
        }
    }
}

/// Lets a request through with its principal, and records it.
pub(crate) fn admit<B>(request: &mut Request<B>, principal: Principal) {
    tracing::debug!(
        target: "meshward::audit",
        decision = "allow",
        sub = principal.subject(),
        iss = principal.issuer(),
        method = %request.method(),
        path = request.uri().path(),
        "authenticated"
    );
    request.extensions_mut().insert(principal);
}

/// Answers a refused request, with the rejection in the response extensions.
pub(crate) fn reject<ReqBody, ResBody, R>(
    responder: &R,
    error: TokenError,
    request: Request<ReqBody>,
) -> Response<ResBody>
where
    R: RejectionResponse<ResBody>,
{
    tracing::info!(
        target: "meshward::audit",
        decision = "deny",
        reason = %error,
        label = error.kind().label(),
        method = %request.method(),
        path = request.uri().path(),
        "bearer token refused"
    );
    respond(responder, Rejection::from(error), request)
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
    R: RejectionResponse<ResBody> + Clone,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match self.config.authenticate(&request) {
            Decision::Admit(principal) => {
                if let Some(principal) = principal {
                    admit(&mut request, principal);
                }
                ResponseFuture::inner(self.inner.call(request))
            }
            Decision::Refuse(error) => {
                ResponseFuture::rejected(reject(&self.responder, error, request))
            }
            #[cfg(feature = "remote")]
            Decision::Wait(verify) => {
                // The ready service goes into the future; a clone stays for the next call.
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::verifying(
                    verify,
                    service,
                    request,
                    self.responder.clone(),
                    Arc::clone(&self.config),
                )
            }
        }
    }
}

impl<S: fmt::Debug, R> fmt::Debug for Auth<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("validator", &self.config.validator)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::{StatusCode, header};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use tower::{ServiceBuilder, ServiceExt};

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
        let layer = AuthLayer::new(validator()).optional();
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
}
