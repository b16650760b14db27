//! The seam between [`MintLayer`](super::MintLayer) and what supplies an outbound call's
//! token: the self-issued [`ServiceSigner`](super::ServiceSigner) (the layer's default), or
//! a [`TokenSource`] such as a token exchange at a security token service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use http::HeaderValue;

use super::error::MintError;

/// Seals [`TokenSource`]: implemented next to each source of the crate.
pub(crate) mod sealed {
    use super::*;
    use crate::principal::Principal;

    /// What a source is asked for, for one outbound call.
    #[derive(Debug)]
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub struct Call<'a> {
        /// The caller this service is serving, from the outbound request's extensions.
        pub(crate) principal: Option<&'a Principal>,
        /// The target service.
        pub(crate) audience: &'a str,
        /// Scopes to narrow to, when the layer was told to.
        pub(crate) narrowed: Option<&'a [String]>,
    }

    /// A token now, or a wait for one.
    pub enum Obtained {
        /// The `Authorization` value, or why there is none.
        Ready(Result<HeaderValue, MintError>),
        /// It must be fetched first.
        Pending(Pin<Box<dyn Future<Output = Result<HeaderValue, MintError>> + Send>>),
    }

    impl fmt::Debug for Obtained {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Ready(result) => f.debug_tuple("Ready").field(result).finish(),
                Self::Pending(_) => f.write_str("Pending"),
            }
        }
    }

    pub trait Sealed {
        /// The `Authorization` value for `call`.
        fn obtain(&self, call: &Call<'_>) -> Obtained;
    }
}

/// Something that supplies the token of an outbound call that may need a wait, for
/// [`MintLayer::from_source`](super::MintLayer::from_source): a token exchange at a
/// security token service (`exchange::TokenExchange`, feature `remote`).
///
/// The self-issued [`ServiceSigner`](super::ServiceSigner) never waits and is the layer's
/// default (`MintLayer::new`). Either way the layer reads the
/// [`Principal`](crate::Principal) from the request's extensions and sets
/// `Authorization`, so moving between "each service signs" and "one STS signs" changes the
/// layer's construction, not the application. This trait is sealed.
pub trait TokenSource: sealed::Sealed + Clone + Send + Sync + fmt::Debug + 'static {}
