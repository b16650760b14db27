//! Quotas through real axum servers: the exact boundary, 429 and `Retry-After`; and with
//! the `redis` feature, two server instances sharing one quota on a real `redis-server`,
//! which is then killed (each fail mode answers as documented, promptly) and restarted
//! (the quota is enforced again).

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use jsonwebtoken::Algorithm;
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use meshward::quota::{Limit, LimitBuilder, QuotaKey, QuotaLayer};
use tower::ServiceBuilder;

use crate::support::*;

struct Idp {
    key: SigningKey,
}

impl Idp {
    fn new() -> Self {
        Self {
            key: SigningKey::generate(Algorithm::ES256, "quota-1"),
        }
    }

    fn validator(&self) -> Validator {
        Validator::builder(ISSUER, [AUDIENCE])
            .add_key(VerifyingKey::from_jwk_json(&self.key.jwk_json().to_string()).unwrap())
            .build()
            .unwrap()
    }

    fn bearer(&self, sub: &str) -> String {
        format!("Bearer {}", self.key.sign(&claims(sub, "read")))
    }

    async fn serve(&self, quota: QuotaLayer) -> TestServer {
        let app = Router::new()
            .route("/orders", get(|| async { "[]" }))
            .layer(
                ServiceBuilder::new()
                    .layer(AuthLayer::new(self.validator()))
                    .layer(quota),
            );
        serve_axum(app).await
    }
}

/// The status of one GET, and its `Retry-After`; a request that takes over 5 s fails the
/// test (a store that is down must not hang the service).
async fn get_orders(server: &TestServer, bearer: &str) -> (u16, Option<String>) {
    let seen = tokio::time::timeout(
        Duration::from_secs(5),
        http_get(&server.url("/orders"), &[("authorization", bearer)]),
    )
    .await
    .expect("the request hung");
    (seen.status, seen.header("retry-after").map(str::to_owned))
}

fn slow(burst: u32) -> LimitBuilder {
    // One request a minute on top of the burst: nothing refills during a test.
    Limit::builder()
        .requests(1, Duration::from_secs(60))
        .burst(burst)
}

#[tokio::test]
async fn exactly_the_burst_passes_then_429_with_retry_after() {
    let idp = Idp::new();
    let server = idp.serve(QuotaLayer::new(slow(3).build().unwrap())).await;
    let alice = idp.bearer("alice");
    for i in 0..3 {
        assert_eq!(
            get_orders(&server, &alice).await,
            (200, None),
            "request {i}"
        );
    }
    let (status, retry) = get_orders(&server, &alice).await;
    assert_eq!(status, 429);
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!((59..=60).contains(&retry), "Retry-After: {retry}");
    // Another subject has a bucket of its own; without a token, the AuthLayer answers
    // first.
    assert_eq!(get_orders(&server, &idp.bearer("bob")).await.0, 200);
    let anonymous = http_get(&server.url("/orders"), &[]).await;
    assert_eq!(anonymous.status, 401);
    server.stop().await;
}

/// The store `QuotaLayer` makes for itself keeps `max_keys` buckets, forgetting the least
/// recently used: with one, a thousand other subjects push the first one's spent bucket out
/// and it starts full again.
#[tokio::test]
async fn the_layers_own_store_keeps_at_most_max_keys_buckets() {
    let idp = Idp::new();
    let server = idp
        .serve(QuotaLayer::new(slow(1).max_keys(1).build().unwrap()))
        .await;
    let alice = idp.bearer("alice");
    assert_eq!(get_orders(&server, &alice).await.0, 200);
    assert_eq!(get_orders(&server, &alice).await.0, 429, "spent");
    for i in 0..1_000 {
        let other = idp.bearer(&format!("user-{i}"));
        assert_eq!(get_orders(&server, &other).await.0, 200, "user-{i}");
    }
    assert_eq!(
        get_orders(&server, &alice).await.0,
        200,
        "alice's bucket was forgotten"
    );
    server.stop().await;

    // With room for every key, nothing is forgotten.
    let server = idp.serve(QuotaLayer::new(slow(1).build().unwrap())).await;
    assert_eq!(get_orders(&server, &alice).await.0, 200);
    for i in 0..100 {
        get_orders(&server, &idp.bearer(&format!("user-{i}"))).await;
    }
    assert_eq!(get_orders(&server, &alice).await.0, 429);
    server.stop().await;
}

#[tokio::test]
async fn a_quota_per_client_counts_every_user_of_that_client() {
    let idp = Idp::new();
    let server = idp
        .serve(QuotaLayer::new(
            slow(2).key(QuotaKey::ClientId).build().unwrap(),
        ))
        .await;
    let token = |sub: &str| {
        let mut c = claims(sub, "read");
        c["azp"] = serde_json::json!("mobile-app");
        format!("Bearer {}", idp.key.sign(&c))
    };
    assert_eq!(get_orders(&server, &token("alice")).await.0, 200);
    assert_eq!(get_orders(&server, &token("bob")).await.0, 200);
    assert_eq!(get_orders(&server, &token("carol")).await.0, 429);
    server.stop().await;
}

#[cfg(feature = "redis")]
mod redis {
    use meshward::state::RedisState;

    use super::*;
    use crate::support::redis::RedisServer;

    fn on(redis: &RedisServer, builder: LimitBuilder) -> QuotaLayer {
        let state = RedisState::builder(redis.url())
            .key_prefix("quota-test:")
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        QuotaLayer::new(builder.state(state).build().unwrap())
    }

    #[tokio::test]
    async fn two_instances_share_one_quota() {
        let Some(redis) = RedisServer::start("two_instances_share_one_quota") else {
            return;
        };
        let idp = Idp::new();
        let one = idp.serve(on(&redis, slow(4))).await;
        let two = idp.serve(on(&redis, slow(4))).await;
        let alice = idp.bearer("alice");
        // Four between them, whichever instance each request reaches.
        for (i, server) in [&one, &two, &two, &one].into_iter().enumerate() {
            assert_eq!(get_orders(server, &alice).await.0, 200, "request {i}");
        }
        for server in [&one, &two] {
            let (status, retry) = get_orders(server, &alice).await;
            assert_eq!(status, 429);
            assert!(retry.is_some());
        }
        assert_eq!(get_orders(&two, &idp.bearer("bob")).await.0, 200);
        one.stop().await;
        two.stop().await;
    }

    #[tokio::test]
    async fn redis_down_fails_closed_or_open_as_configured_then_recovers() {
        let Some(mut redis) = RedisServer::start("redis_down_fails_closed_or_open") else {
            return;
        };
        let idp = Idp::new();
        let closed = idp.serve(on(&redis, slow(2))).await;
        let open = idp.serve(on(&redis, slow(2).fail_open())).await;
        let alice = idp.bearer("alice");
        assert_eq!(get_orders(&closed, &alice).await.0, 200);

        redis.kill();
        for _ in 0..3 {
            let seen = http_get(&closed.url("/orders"), &[("authorization", &alice)]).await;
            assert_eq!(seen.status, 503);
            assert!(seen.header("retry-after").is_none());
            // Open: let through, unlimited, while the store is down.
            assert_eq!(get_orders(&open, &alice).await.0, 200);
        }
        // The closed layer's wait is bounded by the store's timeout, never a hang.
        assert_eq!(get_orders(&closed, &alice).await.0, 503);

        // Back (empty): enforced again, once the connection is reopened.
        redis.restart();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while get_orders(&closed, &alice).await.0 == 503 {
            assert!(
                std::time::Instant::now() < deadline,
                "still 503 10 s after Redis came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // That request took one of the two; one more, then 429.
        assert_eq!(get_orders(&closed, &alice).await.0, 200);
        assert_eq!(get_orders(&closed, &alice).await.0, 429);
        closed.stop().await;
        open.stop().await;
    }
}
