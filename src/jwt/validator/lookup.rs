//! Which key verifies a token: the issuer's static keys, or its remote key set, fetched
//! first when it was never loaded or lacks the token's `kid`.

#[cfg(feature = "remote")]
use std::sync::Arc;

use jsonwebtoken::Algorithm;

use super::super::error::{TokenError, TokenErrorKind};
#[cfg(feature = "remote")]
use super::super::jwks::KeySourceError;
#[cfg(feature = "remote")]
use super::super::jwks::refresh::{Reason, RemoteKeys};
use super::super::keys::VerifyingKey;
use super::super::source::SourceKind;

/// One trusted issuer, as built: its exact `iss`, the audiences accepted from it, and the
/// one source of its keys.
pub(crate) struct IssuerEntry {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) keys: SourceKind,
}

/// Whether a lookup may ask for a fetch, or runs after one.
pub(super) enum FetchPolicy {
    Allowed,
    #[cfg(feature = "remote")]
    AfterFetch(Option<KeySourceError>),
}

/// Why a verification did not finish synchronously.
pub(super) enum Failure {
    Token(TokenError),
    #[cfg(feature = "remote")]
    NeedsKeys(NeedsKeys),
}

impl From<TokenError> for Failure {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}

impl From<TokenErrorKind> for Failure {
    fn from(kind: TokenErrorKind) -> Self {
        Self::Token(kind.into())
    }
}

/// A verification waiting for a remote key set.
#[cfg(feature = "remote")]
pub(super) struct NeedsKeys {
    source: Arc<RemoteKeys>,
    reason: Reason,
    generation: u64,
}

#[cfg(feature = "remote")]
impl NeedsKeys {
    /// Fetches the key set, or joins the fetch under way.
    pub(super) async fn fetch(&self) -> Result<(), KeySourceError> {
        self.source
            .refresh(self.reason, Some(self.generation))
            .await
    }
}

/// Which load of a remote key set verified a token, so that the token is cached only if
/// that set is still the current one (a token verified with a key removed meanwhile must not
/// outlive the removal in the cache). Static keys never change.
pub(super) struct KeySetVersion {
    #[cfg(feature = "remote")]
    remote: Option<(Arc<RemoteKeys>, u64)>,
}

impl KeySetVersion {
    fn fixed() -> Self {
        Self {
            #[cfg(feature = "remote")]
            remote: None,
        }
    }

    /// Whether no fetch completed since the key set was read.
    pub(super) fn is_current(&self) -> bool {
        #[cfg(feature = "remote")]
        if let Some((remote, generation)) = &self.remote {
            return remote.generation() == *generation;
        }
        true
    }
}

impl IssuerEntry {
    /// Finds the key for a token's `kid` and `alg` and hands it to `verify`. Remote keys
    /// are narrowed to `allowed` here, as static ones are at build time; a remote set that
    /// was never loaded, or lacks the `kid`, asks for a fetch when `policy` allows one.
    pub(super) fn with_key<T>(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        allowed: &[Algorithm],
        policy: FetchPolicy,
        verify: impl FnOnce(&VerifyingKey) -> Result<T, Failure>,
    ) -> Result<(T, KeySetVersion), Failure> {
        match &self.keys {
            SourceKind::Static(keys) => {
                let _ = (allowed, policy);
                Ok((verify(keys.select(kid, alg)?)?, KeySetVersion::fixed()))
            }
            #[cfg(feature = "remote")]
            SourceKind::Remote(remote) => {
                if !allowed.contains(&alg) {
                    return Err(TokenErrorKind::AlgorithmNotAllowed { alg }.into());
                }
                remote.ensure_refresher();
                let generation = remote.generation();
                let snapshot = remote.load();
                let loaded = snapshot
                    .as_deref()
                    .filter(|s| s.usable(std::time::Instant::now()));
                let version = || KeySetVersion {
                    remote: Some((Arc::clone(remote), generation)),
                };
                let needs = |reason| {
                    Failure::NeedsKeys(NeedsKeys {
                        source: Arc::clone(remote),
                        reason,
                        generation,
                    })
                };
                match (loaded, policy) {
                    (Some(loaded), policy) => match loaded.keys.select(kid, alg) {
                        Ok(key) => Ok((verify(key)?, version())),
                        Err(TokenErrorKind::UnknownKey { kid: missing }) => match policy {
                            FetchPolicy::Allowed if remote.may_fetch_for(kid) => {
                                Err(needs(Reason::UnknownKid))
                            }
                            FetchPolicy::Allowed => {
                                Err(TokenErrorKind::UnknownKey { kid: missing }.into())
                            }
                            FetchPolicy::AfterFetch(_) => {
                                remote.mark_unknown(kid);
                                Err(TokenErrorKind::UnknownKey { kid: missing }.into())
                            }
                        },
                        Err(other) => Err(other.into()),
                    },
                    (None, FetchPolicy::Allowed) => Err(needs(Reason::Cold)),
                    (None, FetchPolicy::AfterFetch(error)) => {
                        let kind = TokenErrorKind::KeysUnavailable;
                        Err(match error {
                            Some(error) => TokenError::with_source(kind, error),
                            None => kind.into(),
                        }
                        .into())
                    }
                }
            }
        }
    }
}

#[cfg(all(test, feature = "remote"))]
mod tests {
    use super::*;
    use crate::jwt::KeySource;

    #[test]
    fn a_version_stops_being_current_once_a_fetch_completes() {
        let source = KeySource::jwks("https://id.example/jwks").build().unwrap();
        let SourceKind::Remote(remote) = source.into_kind() else {
            panic!("a JWKS URL is a remote source")
        };
        let version = KeySetVersion {
            remote: Some((Arc::clone(&remote), remote.generation())),
        };
        assert!(version.is_current());
        remote.complete_a_fetch();
        assert!(!version.is_current());
        assert!(KeySetVersion::fixed().is_current());
    }
}
