use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use tower::{Layer as _, ServiceExt};

use super::*;
use crate::Principal;
use crate::Rejection;
use crate::state::InMemoryState;

fn principal(sub: &str) -> Principal {
    crate::principal::test_principal_with("read", serde_json::json!({"sub": sub}))
}

async fn call(layer: &QuotaLayer, sub: Option<&str>, grpc: bool) -> Response<()> {
    let mut request = Request::get("/").body(()).unwrap();
    if let Some(sub) = sub {
        request.extensions_mut().insert(principal(sub));
    }
    if grpc {
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
    }
    layer
        .layer(tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }))
        .oneshot(request)
        .await
        .unwrap()
}

#[tokio::test]
async fn exactly_the_burst_then_429_with_retry_after() {
    let layer = QuotaLayer::builder()
        .requests(1, Duration::from_secs(10))
        .burst(3)
        .build()
        .unwrap();
    for i in 0..3 {
        assert_eq!(
            call(&layer, Some("alice"), false).await.status(),
            200,
            "{i}"
        );
    }
    let refused = call(&layer, Some("alice"), false).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // The next request is let through in 10 s, less the moments the test took.
    let retry: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((9..=10).contains(&retry), "{retry}");
    assert!(refused.headers().get(header::WWW_AUTHENTICATE).is_none());
    let rejection = refused.extensions().get::<Rejection>().unwrap();
    assert_eq!(rejection.label(), "quota_exceeded");
    assert!(matches!(
        rejection.downcast_ref::<QuotaError>().unwrap().kind(),
        QuotaErrorKind::Exceeded { .. }
    ));
    // Another subject has its own bucket; gRPC gets RESOURCE_EXHAUSTED.
    assert_eq!(call(&layer, Some("bob"), false).await.status(), 200);
    let grpc = call(&layer, Some("alice"), true).await;
    assert_eq!(grpc.status(), 200);
    assert_eq!(grpc.headers()["grpc-status"], "8");
}

#[tokio::test]
async fn anonymous_requests_share_one_bucket() {
    let layer = QuotaLayer::builder()
        .requests(1, Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(call(&layer, None, false).await.status(), 200);
    assert_eq!(call(&layer, None, false).await.status(), 429);
    assert_eq!(call(&layer, Some("alice"), false).await.status(), 200);
}

#[tokio::test]
async fn the_key_space_is_bounded() {
    let store = InMemoryState::new(100);
    let layer = QuotaLayer::builder()
        .requests(1, Duration::from_secs(60))
        .state(store.clone())
        .build()
        .unwrap();
    for i in 0..2_000 {
        call(&layer, Some(&format!("user-{i}")), false).await;
    }
    let count = store.len();
    assert!((1..=100).contains(&count), "{count} buckets");
}

#[test]
fn senseless_limits_are_refused() {
    let invalid = |b: QuotaLayerBuilder| {
        matches!(
            b.build().unwrap_err().kind(),
            QuotaConfigErrorKind::InvalidLimit { .. }
        )
    };
    assert!(invalid(
        QuotaLayer::builder().requests(0, Duration::from_secs(1))
    ));
    assert!(invalid(QuotaLayer::builder().requests(1, Duration::ZERO)));
    assert!(invalid(QuotaLayer::builder().burst(0)));
    assert!(invalid(QuotaLayer::builder().max_keys(0)));
    assert!(
        QuotaLayer::builder()
            .requests(1, Duration::from_nanos(1))
            .build()
            .is_ok()
    );
}
