//! Any string as an `X-Forwarded-Client-Cert` header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    meshward::fuzz::xfcc(data);
});
