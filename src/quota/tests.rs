use std::convert::Infallible;
use std::time::Duration;

use http::{HeaderMap, Request, Response, StatusCode, header};
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
    let layer = QuotaLayer::new(
        Limit::builder()
            .requests(1, Duration::from_secs(10))
            .burst(3)
            .build()
            .unwrap(),
    );
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
    let layer = QuotaLayer::new(
        Limit::builder()
            .requests(1, Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    assert_eq!(call(&layer, None, false).await.status(), 200);
    assert_eq!(call(&layer, None, false).await.status(), 429);
    assert_eq!(call(&layer, Some("alice"), false).await.status(), 200);
}

#[tokio::test]
async fn the_key_space_is_bounded() {
    let store = InMemoryState::new(100);
    let layer = QuotaLayer::new(
        Limit::builder()
            .requests(1, Duration::from_secs(60))
            .state(store.clone())
            .build()
            .unwrap(),
    );
    for i in 0..2_000 {
        call(&layer, Some(&format!("user-{i}")), false).await;
    }
    let count = store.len();
    assert!((1..=100).contains(&count), "{count} buckets");
}

#[test]
fn senseless_limits_are_refused() {
    let invalid = |b: LimitBuilder| {
        matches!(
            b.build().unwrap_err().kind(),
            QuotaConfigErrorKind::InvalidLimit { .. }
        )
    };
    assert!(invalid(
        Limit::builder().requests(0, Duration::from_secs(1))
    ));
    assert!(invalid(Limit::builder().requests(1, Duration::ZERO)));
    assert!(invalid(Limit::builder().burst(0)));
    assert!(invalid(Limit::builder().max_keys(0)));
    assert!(
        Limit::builder()
            .requests(1, Duration::from_nanos(1))
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn the_bucket_refills_at_count_per_period() {
    let layer = QuotaLayer::new(
        Limit::builder()
            .requests(10, Duration::from_secs(1))
            .burst(1)
            .build()
            .unwrap(),
    );
    assert_eq!(call(&layer, Some("alice"), false).await.status(), 200);
    assert_eq!(call(&layer, Some("alice"), false).await.status(), 429);
    // One request's worth comes back every 100 ms.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(call(&layer, Some("alice"), false).await.status(), 200);
}

#[test]
fn each_kind_of_key_has_its_own_prefix_and_custom_keys_use_their_function() {
    let alice = principal("alice");
    let headers = HeaderMap::new();
    let of = |key: &QuotaKey, principal: Option<&Principal>, headers: &HeaderMap| {
        key.store_key(principal, headers)
    };
    let subject = of(&QuotaKey::Subject, Some(&alice), &headers);
    let caller = of(&QuotaKey::Caller, Some(&alice), &headers);
    assert!(subject.starts_with("sub:"), "{subject}");
    assert!(caller.starts_with("caller:"), "{caller}");
    // The same value under two kinds: two buckets.
    assert_eq!(subject[4..], caller[7..]);
    assert_eq!(of(&QuotaKey::ClientId, Some(&alice), &headers), "client:-");
    assert_eq!(of(&QuotaKey::Subject, None, &headers), "sub:-");

    let by_api_key =
        QuotaKey::custom(|_, headers| headers.get("x-api-key")?.to_str().ok().map(str::to_owned));
    let with = |value: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", http::HeaderValue::from_static(value));
        headers
    };
    let a = of(&by_api_key, Some(&alice), &with("a"));
    assert!(a.starts_with("custom:"), "{a}");
    assert_ne!(a, of(&by_api_key, Some(&alice), &with("b")));
    assert_eq!(of(&by_api_key, Some(&alice), &headers), "custom:-");
}

#[test]
fn failing_open_is_said_once_when_built() {
    let (_, events) = crate::tests::capture_events("meshward::quota", || {
        QuotaLayer::new(Limit::builder().fail_open().build().unwrap())
    });
    assert_eq!(events.len(), 1, "{events:?}");
    let (_, events) = crate::tests::capture_events("meshward::quota", || {
        QuotaLayer::new(Limit::builder().build().unwrap())
    });
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_store_that_cannot_answer_is_a_warning_at_most_once_a_second() {
    let layer = QuotaLayer::new(
        Limit::builder()
            .state(crate::state::tests::Down)
            .fail_open()
            .build()
            .unwrap(),
    );
    let warnings_of = |events: &[crate::tests::Event]| {
        events
            .iter()
            .filter(|e| e.get("message") == Some("the quota store cannot answer"))
            .count()
    };
    // The first failure is a warning at once.
    let (first, events) = crate::tests::capture_async("meshward::quota", async {
        call(&layer, Some("alice"), false).await.status()
    });
    assert_eq!(first, 200);
    assert_eq!(warnings_of(&events), 1, "{events:?}");
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| e.get("message") == Some("the quota store cannot answer"))
        .collect();
    assert_eq!(warnings[0].get("store"), Some("down"));
    // Two more within a moment: no more warning (one if a second began meanwhile).
    let (statuses, events) = crate::tests::capture_async("meshward::quota", async {
        let mut statuses = Vec::new();
        for _ in 0..2 {
            statuses.push(call(&layer, Some("alice"), false).await.status());
        }
        statuses
    });
    assert_eq!(statuses, [200, 200]);
    assert!(warnings_of(&events) <= 1, "{events:?}");
}

/// A store in memory decides at once: the quota's check answers `Now`, with no future to
/// poll (the fast path allocates nothing); a remote store answers `Later`.
#[test]
fn a_store_in_memory_decides_without_a_wait() {
    use crate::gate::{Answer, Gate, IntoGate, Started};

    let gate = QuotaLayer::new(
        Limit::builder()
            .requests(1, Duration::from_secs(60))
            .burst(1)
            .build()
            .unwrap(),
    )
    .into_gate();
    let (mut head, ()) = Request::get("/").body(()).unwrap().into_parts();
    head.extensions.insert(principal("alice"));
    let now = |head: &mut http::request::Parts| match gate.check(head, Started::now()) {
        Answer::Now(decided) => decided.map_err(|r| r.label().to_owned()),
        Answer::Later(_) => Err("waited".to_owned()),
    };
    assert_eq!(now(&mut head), Ok(()));
    assert_eq!(now(&mut head), Err("quota_exceeded".to_owned()));

    let remote = QuotaLayer::new(
        Limit::builder()
            .state(crate::state::tests::Down)
            .build()
            .unwrap(),
    )
    .into_gate();
    assert!(matches!(
        remote.check(&mut head, Started::now()),
        Answer::Later(_)
    ));
}
