//! The parsers that do not show through the public API, for the fuzz targets in `fuzz/`.
//! Compiled only under `cfg(fuzzing)` (set by cargo-fuzz); not part of the API.

/// The OpenID discovery document parser, for an issuer `https://issuer.fuzz`.
#[cfg(feature = "remote")]
pub fn discovery(body: &[u8]) {
    let _ = crate::jwt::jwks::discovery::parse_document(body, "https://issuer.fuzz");
}

/// The JWKS document parser of remote key sets (bytes, at most 100 keys).
pub fn jwks(body: &[u8]) {
    let _ = crate::jwt::keys::parse_jwks(body, 100);
}

/// The XFCC header parser.
#[cfg(feature = "mtls")]
pub fn xfcc(header: &str) {
    let _ = crate::mtls::xfcc::parse(header);
}
