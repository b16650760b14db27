//! Any bytes as a client certificate chain (DER), through `PeerIdentity`: the first two
//! bytes (little-endian) split the rest into a leaf and an intermediate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward::PeerIdentity;
use rustls_pki_types::CertificateDer;

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
    let (leaf, intermediate) = rest.split_at(split);
    let chain = [CertificateDer::from(leaf.to_vec()), CertificateDer::from(intermediate.to_vec())];
    if let Ok(identity) = PeerIdentity::from_chain(&chain) {
        let _ = (identity.subject().len(), identity.dns_names().len(), identity.uris().len());
        let _ = identity.spiffe_id().map(|s| s.trust_domain().len());
    }
    let _ = PeerIdentity::from_chain(&chain[..1]);
});
