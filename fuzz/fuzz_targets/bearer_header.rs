//! Any bytes as the `Authorization` header, through `AuthLayer` and a `Validator` with a
//! fixed HMAC key: the credential's syntax, the token's segments, its header and claims.
#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;

use http::{HeaderValue, Request, Response};
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use meshward::jwt::{AuthLayer, Validator};
use tower::{ServiceBuilder, ServiceExt};

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        Validator::builder("https://issuer.fuzz", ["api"])
            .add_hmac_secret(b"0123456789abcdef0123456789abcdef", Algorithm::HS256)
            .token_cache_capacity(0)
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let request = Request::get("/").header("authorization", value).body(()).unwrap();
    let service = ServiceBuilder::new()
        .layer(AuthLayer::new(validator().clone()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let response = runtime.block_on(service.oneshot(request)).unwrap();
    // Refusals are answers: 200, 400 or 401, never anything else.
    assert!(matches!(response.status().as_u16(), 200 | 400 | 401));
});
