//! The seam between [`AuthLayer`](super::AuthLayer) and what checks a token: a synchronous
//! attempt that may ask for an asynchronous finish.

use std::future::Future;

use super::error::TokenError;
use crate::gate::Answer;
use crate::principal::Principal;

/// Seals [`Verifier`]: implemented next to each verifier of the crate.
pub(crate) mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::jwt::Validator {}
}

/// Something that turns a bearer token into a [`Principal`]: what
/// [`AuthLayer`](super::AuthLayer) runs for each request.
///
/// [`Validator`](super::Validator) is the first implementation (an identity provider's
/// access tokens); others come from meshward itself. The layer reads the token, calls
/// [`attempt`](Self::attempt), binds the principal to the connection (certificate-bound
/// tokens, the peer identity) and admits or refuses the request, so a verifier only decides
/// about the token.
///
/// This trait is sealed, on purpose: a [`Principal`] means a credential meshward checked
/// with its defaults (the algorithm from the key, every time claim, the audience, the
/// binding), and only meshward's verifiers make one. To decide more about a request, add a
/// [`Requirement`](crate::authz::Requirement) of your own after the layer (it sees the
/// principal and the whole request), or a [`Gate`](crate::gate::Gate) of your own beside
/// it; the manual's authorization chapter shows both.
pub trait Verifier: sealed::Sealed + Clone + Send + Sync + 'static {
    /// The asynchronous finish of an attempt that could not decide at once.
    type Future: Future<Output = Result<Principal, TokenError>> + Send + 'static;

    /// Checks `token`, synchronously when it can: a token found in a cache, or checked with
    /// keys at hand, is answered [`Now`](Answer::Now); one that needs a key fetch (say)
    /// [`Later`](Answer::Later).
    fn attempt(&self, token: &str) -> Answer<Result<Principal, TokenError>, Self::Future>;

    /// The principal of `token` when this very token (byte for byte) was verified before
    /// and that answer still holds: a cache hit, decided without parsing anything. The layer
    /// asks this first, and checks the credential's syntax only when it gets `None` (the
    /// token passed that check when it was verified). The default finds nothing.
    fn cached(&self, token: &[u8]) -> Option<Principal> {
        let _ = token;
        None
    }

    /// The longest token accepted, in bytes: the layer refuses longer credentials before
    /// calling [`attempt`](Self::attempt).
    fn max_token_len(&self) -> usize;

    /// Counts a refusal the layer made for this verifier (no token, a malformed credential,
    /// a certificate mismatch), so that its statistics see every refusal.
    fn record_rejection(&self, error: &TokenError);
}
