//! Who is calling: the [`Principal`] every layer reads and writes, its [`Scopes`], and the
//! time helpers every concern shares.
//!
//! This is part of the ground floor: it imports nothing above it (see ARCHITECTURE.md).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::kinded_error;
use crate::peer::PeerIdentity;

mod scopes;
mod typed;

pub use self::scopes::Scopes;
pub use self::typed::Claims;
pub(crate) use self::typed::TypedClaims;

/// The authenticated caller of one request.
///
/// [`AuthLayer`](crate::jwt::AuthLayer) inserts it into the request extensions once the
/// bearer token is verified; later layers and handlers read it from there (the axum
/// extractor, [`RequestExt`](crate::tonic::RequestExt) for tonic, or
/// `request.extensions().get::<Principal>()`). Cloning is cheap: the verified claims are
/// shared, and a token seen again (the verified-token cache) yields the same claims without
/// another signature check.
///
/// # End user and calling services
///
/// A request may come from an end user directly (an identity provider's access token) or
/// through other services of the mesh, each of which signed a service token that nests the
/// token it received ([`mint`](crate::mint)). Either way:
///
/// - [`subject`](Self::subject), [`issuer`](Self::issuer), [`claim_set`](Self::claim_set)
///   describe the end user (the innermost token), or the calling service itself when it
///   acts on its own behalf;
/// - [`scopes`](Self::scopes) are the end user's, narrowed by every hop;
/// - [`caller`](Self::caller) and [`actor_chain`](Self::actor_chain) name the services the
///   request came through, [`is_delegated`](Self::is_delegated) says whether there were any;
/// - [`token`](Self::token), [`audiences`](Self::audiences), [`expires_at`](Self::expires_at)
///   (the earliest in the chain), [`jwt_id`](Self::jwt_id), [`signature_algorithm`](Self::signature_algorithm),
///   [`key_id`](Self::key_id) and [`certificate_thumbprint`](Self::certificate_thumbprint)
///   describe the token this service received.
///
/// `Debug` never prints a token.
#[derive(Clone)]
pub struct Principal {
    /// The end user's token (the innermost), or the only token there is.
    token: Arc<VerifiedToken>,
    /// The services the request came through, when it came through any.
    chain: Option<Arc<ServiceChain>>,
    peer: Option<PeerIdentity>,
}

/// What a verified chain of service tokens adds to a principal.
pub(crate) struct ServiceChain {
    /// The service token this service received: the outermost level.
    pub(crate) received: Arc<VerifiedToken>,
    /// The calling services, from the first (nearest the end user) to the one calling us.
    pub(crate) actors: Vec<String>,
    /// The earliest `exp` across every level.
    pub(crate) expires_at: i64,
    /// The SPIFFE ID the connection must prove, when the verifier binds the caller to its
    /// peer.
    pub(crate) bound_peer: Option<String>,
}

/// What the validator learned from one token; shared by every `Principal` made from it.
#[derive(Clone)]
pub(crate) struct VerifiedToken {
    pub(crate) issuer: String,
    pub(crate) subject: Option<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) expires_at: i64,
    pub(crate) not_before: Option<i64>,
    pub(crate) issued_at: Option<i64>,
    pub(crate) jwt_id: Option<String>,
    /// `None` for a token accepted by introspection: its issuer checked it, not meshward.
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) key_id: Option<String>,
    /// Which key verified the token (see `jwt::keys`), to drop it when the key is removed.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) key_fingerprint: u64,
    pub(crate) scopes: Scopes,
    pub(crate) claims: Map<String, Value>,
    pub(crate) raw: Box<str>,
    /// `cnf.x5t#S256` (RFC 8705): the certificate the token is bound to.
    pub(crate) cnf_x5t: Option<String>,
    /// The claims as the application's own types, deserialized once.
    pub(crate) typed: TypedClaims,
}

impl Principal {
    pub(crate) fn from_verified(token: Arc<VerifiedToken>) -> Self {
        Self {
            token,
            chain: None,
            peer: None,
        }
    }

    /// A principal that came through services: `user` is the innermost token (the end
    /// user's, or the first service's own for a service acting for itself).
    pub(crate) fn through_services(user: Arc<VerifiedToken>, chain: ServiceChain) -> Self {
        Self {
            token: user,
            chain: Some(Arc::new(chain)),
            peer: None,
        }
    }

    /// The token this service received.
    fn received(&self) -> &VerifiedToken {
        match &self.chain {
            Some(chain) => &chain.received,
            None => &self.token,
        }
    }

    /// The claims of the token this service received (for a chain, the outermost service
    /// token's: its `act` is what the next hop nests).
    pub(crate) fn received_claims(&self) -> &Map<String, Value> {
        &self.received().claims
    }

    /// The SPIFFE ID the connection must prove for this principal, if any.
    pub(crate) fn bound_peer(&self) -> Option<&str> {
        self.chain.as_ref().and_then(|c| c.bound_peer.as_deref())
    }

    /// The service that called this one, when the request came through services: the `iss`
    /// of the service token received.
    pub fn caller(&self) -> Option<&str> {
        self.chain
            .as_ref()
            .and_then(|c| c.actors.last())
            .map(String::as_str)
    }

    /// The services the request came through, in call order: from the first service (the
    /// one the end user called) to the [`caller`](Self::caller). Empty for a request that
    /// came from the end user directly.
    pub fn actor_chain(&self) -> &[String] {
        self.chain.as_ref().map_or(&[], |c| &c.actors)
    }

    /// Whether the request came through other services (a service token) rather than from
    /// the end user directly.
    pub fn is_delegated(&self) -> bool {
        self.chain.is_some()
    }

    pub(crate) fn with_peer(mut self, peer: Option<PeerIdentity>) -> Self {
        self.peer = peer;
        self
    }

    /// The client-certificate identity of the connection the token came on (or the one a
    /// trusted proxy reported), when the [`AuthLayer`](crate::jwt::AuthLayer) saw one.
    pub fn peer(&self) -> Option<&PeerIdentity> {
        self.peer.as_ref()
    }

    /// The `cnf.x5t#S256` the token is bound to (RFC 8705), if any. The
    /// [`AuthLayer`](crate::jwt::AuthLayer) has already checked it against the connection's
    /// certificate; check it yourself when calling [`Validator::validate`](crate::jwt::Validator::validate)
    /// directly.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.received().cnf_x5t.as_deref()
    }

    /// The `sub` claim, if the token had one.
    pub fn subject(&self) -> Option<&str> {
        self.token.subject.as_deref()
    }

    /// The `iss` claim: always one of the validator's configured issuers.
    pub fn issuer(&self) -> &str {
        &self.token.issuer
    }

    /// The `aud` claim of the token received, as a list whether the token had a string or
    /// an array.
    pub fn audiences(&self) -> &[String] {
        &self.received().audiences
    }

    /// The `exp` claim of the token received; through services, the earliest `exp` of the
    /// chain.
    pub fn expires_at(&self) -> SystemTime {
        unix_time(self.expires_at_secs())
    }

    pub(crate) fn expires_at_secs(&self) -> i64 {
        match &self.chain {
            Some(chain) => chain.expires_at,
            None => self.token.expires_at,
        }
    }

    /// The `nbf` claim of the token received, if present.
    pub fn not_before(&self) -> Option<SystemTime> {
        self.received().not_before.map(unix_time)
    }

    /// The `iat` claim of the token received, if present.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.received().issued_at.map(unix_time)
    }

    /// The `jti` claim of the token received, if present.
    pub fn jwt_id(&self) -> Option<&str> {
        self.received().jwt_id.as_deref()
    }

    /// The algorithm whose signature on the token received meshward checked; `None` when the
    /// token was accepted by [introspection](crate::introspect) (an opaque token, vouched
    /// for by its issuer).
    pub fn signature_algorithm(&self) -> Option<Algorithm> {
        self.received().algorithm
    }

    /// Whether the token received was accepted by [introspection](crate::introspect) (its
    /// issuer said it is active) rather than by a signature checked here.
    pub fn is_introspected(&self) -> bool {
        self.received().algorithm.is_none()
    }

    /// The `kid` of the key that verified the token received, if the key had one.
    pub fn key_id(&self) -> Option<&str> {
        self.received().key_id.as_deref()
    }

    /// The scopes, normalised from `scope`, `scp` and any configured extra claims; through
    /// services, the end user's scopes as narrowed by every hop (those of the token
    /// received).
    pub fn scopes(&self) -> &Scopes {
        &self.received().scopes
    }

    /// The end user's whole claim set, as JSON.
    pub fn claim_set(&self) -> &Map<String, Value> {
        &self.token.claims
    }

    /// One claim by dotted path: `"tenant"`, `"realm_access.roles"`.
    pub fn claim(&self, path: &str) -> Option<&Value> {
        claim_at_path(&self.token.claims, path)
    }

    /// The whole claim set deserialized into a type of your own.
    ///
    /// ```
    /// # fn f(principal: &meshward::Principal) -> Result<(), meshward::ClaimsError> {
    /// #[derive(serde::Deserialize)]
    /// struct MyClaims { tenant: String, roles: Vec<String> }
    /// let mine: MyClaims = principal.claims()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ClaimsError`] when the claims do not have the shape of `T`.
    ///
    /// This deserializes on every call; [`typed_claims`](Self::typed_claims) deserializes once
    /// per token and shares the result.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, ClaimsError> {
        T::deserialize(&self.token.claims)
            .map_err(|e| ClaimsError::with_source(ClaimsErrorKind::Mismatch, e))
    }

    /// The end user's claims as a `T`, deserialized the first time this token is seen with
    /// `T` and shared after that (the verified-token cache keeps the token, and with it the
    /// value): what the [`Claims`] extractor returns.
    ///
    /// ```
    /// # fn f(principal: &meshward::Principal) -> Result<(), meshward::ClaimsError> {
    /// #[derive(serde::Deserialize)]
    /// struct Tenant { tenant: String }
    /// let tenant = principal.typed_claims::<Tenant>()?;
    /// println!("{}", tenant.tenant);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ClaimsError`] when the claims do not have the shape of `T`.
    pub fn typed_claims<T>(&self) -> Result<Claims<T>, ClaimsError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.token
            .typed
            .get_or_deserialize(&self.token.claims)
            .map(Claims)
    }

    #[cfg(test)]
    pub(crate) fn verified(&self) -> &VerifiedToken {
        &self.token
    }

    /// The raw bearer token this service received (for a chain, the outermost service
    /// token), which a service token for an onward call embeds.
    ///
    /// # Security
    ///
    /// This is a credential: do not log it.
    pub fn token(&self) -> &str {
        &self.received().raw
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("Principal");
        d.field(&self.token);
        if let Some(chain) = &self.chain {
            d.field(&chain.actors);
        }
        d.finish()
    }
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

kinded_error! {
    /// The claims did not deserialize into the requested type; the serde error is its
    /// [`source`](std::error::Error::source).
    pub struct ClaimsError(ClaimsErrorKind);
}

/// The kinds of [`ClaimsError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsErrorKind {
    /// The claim set does not have the shape of the requested type.
    #[error("claims do not match the requested type")]
    Mismatch,
}

/// The headers a request's credential was read from, beyond the ones every layer treats as
/// credentials (`Authorization`, `Proxy-Authorization`, `Cookie`): the token headers an
/// authentication layer was configured with. It puts this in the extensions of the requests
/// it passes on, and nothing that copies headers out of a request (a policy's input
/// document) copies these.
#[derive(Debug, Clone)]
#[cfg_attr(not(any(feature = "rego", feature = "opa")), allow(dead_code))]
pub(crate) struct CredentialHeaders(pub(crate) Arc<[http::HeaderName]>);

/// The headers that carry credentials whatever a layer was configured with.
pub(crate) const ALWAYS_CREDENTIALS: [http::HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    http::header::COOKIE,
];

/// Whether `name` carried a credential of this request.
#[cfg_attr(not(any(feature = "rego", feature = "opa")), allow(dead_code))]
pub(crate) fn is_credential(name: &http::HeaderName, extensions: &http::Extensions) -> bool {
    ALWAYS_CREDENTIALS.contains(name)
        || extensions
            .get::<CredentialHeaders>()
            .is_some_and(|configured| configured.0.contains(name))
}

/// Seconds since the Unix epoch as a `SystemTime`; negative values clamp to the epoch.
pub(crate) fn unix_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// The clock, in seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Walks `a.b.c` through nested JSON objects.
pub(crate) fn claim_at_path<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// A principal for unit tests of the layers above: subject `alice`, these scopes.
#[cfg(test)]
pub(crate) fn test_principal(scopes: &str) -> Principal {
    test_principal_with(scopes, serde_json::json!({"sub": "alice"}))
}

/// A principal for unit tests with these scopes and claims (its subject from `sub`).
#[cfg(test)]
pub(crate) fn test_principal_with(scopes: &str, claims: Value) -> Principal {
    Principal::from_verified(Arc::new(test_token(scopes, claims)))
}

/// A principal for unit tests that came through `actors` (in call order).
#[cfg(test)]
pub(crate) fn test_principal_through(actors: &[&str]) -> Principal {
    let user = Arc::new(test_token("read", serde_json::json!({"sub": "alice"})));
    Principal::through_services(
        Arc::clone(&user),
        ServiceChain {
            received: user,
            actors: actors.iter().map(|a| (*a).to_owned()).collect(),
            expires_at: i64::MAX,
            bound_peer: None,
        },
    )
}

#[cfg(test)]
fn test_token(scopes: &str, claims: Value) -> VerifiedToken {
    let mut set = Scopes::default();
    set.insert_delimited(scopes);
    let claims = match claims {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    VerifiedToken {
        issuer: "https://issuer.test".into(),
        subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        audiences: vec!["api".into()],
        expires_at: i64::MAX,
        not_before: None,
        issued_at: None,
        jwt_id: None,
        algorithm: Some(Algorithm::ES256),
        key_id: None,
        key_fingerprint: 0,
        scopes: set,
        claims,
        raw: "a.b.c".into(),
        cnf_x5t: None,
        typed: TypedClaims::default(),
    }
}

#[cfg(test)]
mod tests;
