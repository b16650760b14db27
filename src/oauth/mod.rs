//! Talking to an authorization server as its client, for introspection and token exchange:
//! the endpoint settings and their checks (`settings.rs`), client authentication, a form
//! POST with a timeout and a bounded answer, and finding an endpoint by discovery
//! (`client.rs`). Crate-private but for the one configuration error both clients share.
//! Why a server gave no answer is one [`Unanswered`]; `from_unanswered!` turns it into each
//! concern's public error by one mapping.

mod client;
mod error;
mod settings;

pub(crate) use self::client::*;
pub use self::error::{ClientConfigError, ClientConfigErrorKind};
pub use self::settings::{DEFAULT_MAX_ANSWER_LEN, DEFAULT_TIMEOUT};
pub(crate) use self::settings::{Server, Settings};
