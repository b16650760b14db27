//! A document served at one route, the way the protected-resource metadata (RFC 9728) and a
//! service's JWKS are: `GET` answers it with its type and cache lifetime, `HEAD` the same
//! headers without the body, any other method 405 with `Allow: GET, HEAD`.

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};

/// The answer to `request` for a document of `content_type`, cached for as long as
/// `cache_control` says; `body` is asked only for a `GET`.
pub(crate) fn answer<B>(
    request: &Request<B>,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    body: impl FnOnce() -> String,
) -> Response<String> {
    let mut response = Response::new(String::new());
    match *request.method() {
        Method::GET | Method::HEAD => {
            if request.method() == Method::GET {
                *response.body_mut() = body();
            }
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, content_type);
            headers.insert(CACHE_CONTROL, cache_control);
        }
        _ => {
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
    }
    response
}
