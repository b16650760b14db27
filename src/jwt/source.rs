//! Where an issuer's keys come from: one shape, [`KeySource`], for keys you configure and
//! keys fetched from a JWKS URL or through discovery.

use std::fmt;
#[cfg(feature = "remote")]
use std::sync::Arc;

#[cfg(feature = "remote")]
use super::jwks::refresh::RemoteKeys;
#[cfg(feature = "remote")]
use super::jwks::{KeySourceStats, RemoteKeySourceBuilder};
use super::keys::KeySet;

/// Where an issuer's keys come from: keys you configure ([`KeySet`]), a JWKS URL, or
/// OpenID Connect discovery (the last two with the `remote` feature).
///
/// ```no_run
/// use meshward::jwt::KeySource;
/// let by_url = KeySource::jwks("https://id.example.com/.well-known/jwks.json").build()?;
/// let by_discovery = KeySource::discovery("https://id.example.com").build()?;
/// # Ok::<_, meshward::jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeySource {
    kind: SourceKind,
}

#[derive(Clone)]
pub(crate) enum SourceKind {
    Static(KeySet),
    #[cfg(feature = "remote")]
    Remote(Arc<RemoteKeys>),
}

impl KeySource {
    /// Keys you configure yourself.
    pub fn from_keys(keys: KeySet) -> Self {
        Self {
            kind: SourceKind::Static(keys),
        }
    }

    /// Keys fetched from a JWKS URL; configure and [`build`](RemoteKeySourceBuilder::build)
    /// the returned builder.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn jwks(url: impl AsRef<str>) -> RemoteKeySourceBuilder {
        RemoteKeySourceBuilder::jwks(url.as_ref())
    }

    /// Keys found through OpenID Connect discovery: `issuer` +
    /// `/.well-known/openid-configuration`, whose `issuer` must equal `issuer` exactly,
    /// then its `jwks_uri`.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn discovery(issuer: impl AsRef<str>) -> RemoteKeySourceBuilder {
        RemoteKeySourceBuilder::discovery(issuer.as_ref())
    }

    #[cfg(feature = "remote")]
    pub(crate) fn remote(remote: Arc<RemoteKeys>) -> Self {
        Self {
            kind: SourceKind::Remote(remote),
        }
    }

    /// Counters of a remote source; `None` for static keys.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn stats(&self) -> Option<KeySourceStats> {
        match &self.kind {
            SourceKind::Static(_) => None,
            SourceKind::Remote(remote) => Some(KeySourceStats::of(remote)),
        }
    }

    pub(crate) fn into_kind(self) -> SourceKind {
        self.kind
    }
}

impl From<KeySet> for KeySource {
    fn from(keys: KeySet) -> Self {
        Self::from_keys(keys)
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SourceKind::Static(keys) => f.debug_tuple("KeySource::Static").field(keys).finish(),
            #[cfg(feature = "remote")]
            SourceKind::Remote(remote) => f
                .debug_tuple("KeySource::Remote")
                .field(remote.location())
                .finish(),
        }
    }
}
