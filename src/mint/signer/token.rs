//! [`ServiceToken`]: what a signer mints.

use std::fmt;
use std::time::SystemTime;

use http::HeaderValue;

/// A minted service token: the compact JWS, and the `Authorization: Bearer` value that
/// carries it (marked sensitive). Cloning is cheap. `Debug` never prints it.
#[derive(Clone)]
pub struct ServiceToken {
    pub(super) authorization: HeaderValue,
    pub(super) expires_at: i64,
}

impl ServiceToken {
    pub(super) const PREFIX: &'static str = "Bearer ";

    /// The token, as a compact JWS.
    pub fn as_str(&self) -> &str {
        // The value was built from "Bearer " and a base64url JWS: always visible ASCII.
        self.authorization
            .to_str()
            .map(|v| &v[Self::PREFIX.len()..])
            .unwrap_or_default()
    }

    /// `Bearer <token>`, marked sensitive, for the `Authorization` header.
    pub fn authorization(&self) -> &HeaderValue {
        &self.authorization
    }

    /// The token's `exp`.
    pub fn expires_at(&self) -> SystemTime {
        crate::principal::unix_time(self.expires_at)
    }
}

impl fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
