//! Any bytes as an OpenID Connect discovery document.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    meshward::fuzz::discovery(data);
});
