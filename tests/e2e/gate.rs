//! One stack of gates, two ways: as tower layers around a service, and as the decision
//! engine over request heads alone. For one table of requests (tokens valid, missing,
//! expired, forged, of another audience; a scope missing, a rule refusing, a gRPC call, the
//! quota exceeded; keys fetched from a JWKS server first, and an identity provider that is
//! down) every answer is the same: the status, the reason, the challenge, the gRPC status,
//! `Retry-After`, and who was admitted.

use std::convert::Infallible;
use std::time::Duration;

use axum::routing::get;
use http::{Request, Response};
use jsonwebtoken::Algorithm;
use meshward::authz::{AuthzLayer, RuleTable};
use meshward::gate::Engine;
use meshward::jwt::{AuthLayer, KeySource, Validator};
use meshward::quota::{Limit, QuotaLayer};
use meshward::{Principal, Rejection};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

use crate::support::*;

const RULES: &str = r#"
[[rule]]
name = "health"
path = "/healthz"
allow = "anyone"

[[rule]]
name = "read orders"
methods = ["GET"]
path = "/orders/**"
require = { scopes_any = ["orders:read"] }

[[rule]]
name = "whoami"
path = "/meshward.test.WhoAmI/Get"
require = { authenticated = true }
"#;

/// What a client sees of an answer, and who the service saw.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    reason: Option<String>,
    challenge: Option<String>,
    grpc_status: Option<String>,
    retry_after: Option<String>,
    subject: Option<String>,
}

fn header(response: &Response<impl Sized>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The layers of one stack, built afresh (each stack has its own quota buckets).
fn layers(keys: KeySource) -> (AuthLayer, AuthzLayer<RuleTable>, QuotaLayer) {
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .key_source(keys)
        .build()
        .unwrap();
    (
        AuthLayer::new(validator).allow_anonymous(),
        AuthzLayer::new(RuleTable::from_toml(RULES).unwrap()),
        QuotaLayer::new(
            Limit::builder()
                .requests(1, Duration::from_secs(60))
                .burst(2)
                .build()
                .unwrap(),
        ),
    )
}

async fn through_tower(
    (auth, authz, quota): &(AuthLayer, AuthzLayer<RuleTable>, QuotaLayer),
    request: Request<()>,
) -> Seen {
    let service = ServiceBuilder::new()
        .layer(auth.clone())
        .layer(authz.clone())
        .layer(quota.clone())
        .service_fn(|request: Request<()>| async move {
            let subject = request
                .extensions()
                .get::<Principal>()
                .and_then(|p| p.subject().map(str::to_owned));
            let mut response = Response::new(());
            if let Some(subject) = subject {
                response
                    .headers_mut()
                    .insert("x-subject", subject.parse().unwrap());
            }
            Ok::<_, Infallible>(response)
        });
    let response = service.oneshot(request).await.unwrap();
    Seen {
        status: response.status().as_u16(),
        reason: response
            .extensions()
            .get::<Rejection>()
            .map(|r| r.label().to_owned()),
        challenge: header(&response, "www-authenticate"),
        grpc_status: header(&response, "grpc-status"),
        retry_after: header(&response, "retry-after"),
        subject: header(&response, "x-subject"),
    }
}

async fn through_engine(engine: &Engine, request: Request<()>) -> Seen {
    let (head, ()) = request.into_parts();
    match engine.decide(head).await {
        Ok(admitted) => Seen {
            status: 200,
            reason: None,
            challenge: None,
            grpc_status: None,
            retry_after: None,
            subject: admitted
                .principal()
                .and_then(|p| p.subject().map(str::to_owned)),
        },
        Err(refused) => Seen {
            status: refused.status().as_u16(),
            reason: Some(refused.rejection().label().to_owned()),
            challenge: header(refused.response(), "www-authenticate"),
            grpc_status: header(refused.response(), "grpc-status"),
            retry_after: header(refused.response(), "retry-after"),
            subject: None,
        },
    }
}

#[tokio::test]
async fn the_engine_answers_as_the_tower_stack_does() {
    let key = SigningKey::generate(Algorithm::ES256, "gate-1");
    let jwks_body = jwks(&[key.jwk_json()]);
    let jwks_server = serve_axum(axum::Router::new().route(
        "/jwks",
        get(move || {
            let body = jwks_body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    ))
    .await;
    let remote = || {
        KeySource::jwks(jwks_server.url("/jwks"))
            .allow_insecure_http()
            .build()
            .unwrap()
    };
    let tower_stack = layers(remote());
    let (auth, authz, quota) = layers(remote());
    let engine = Engine::builder().gate(auth).gate(authz).gate(quota).build();
    assert_eq!(engine.len(), 3);
    assert!(!engine.is_empty());
    assert!(Engine::builder().build().is_empty());
    let shown = format!("{engine:?}");
    for gate in ["AuthGate", "AuthzGate", "QuotaGate"] {
        assert!(shown.contains(gate), "{shown}");
    }

    let token = |sub: &str, scope: &str| key.sign(&claims(sub, scope));
    let mut expired = claims("alice", "orders:read");
    expired["exp"] = json!(now() - 3600);
    let mut other_audience = claims("alice", "orders:read");
    other_audience["aud"] = json!("billing");
    let stranger = SigningKey::generate(Algorithm::ES256, "gate-1");
    let alice = token("alice", "orders:read");
    let bob = token("bob", "profile");
    let carol = token("carol", "orders:read");
    let requests: Vec<(&str, &str, Option<String>, bool)> = vec![
        // The first request waits for the keys (fetched from the JWKS server).
        ("GET", "/orders/7", Some(alice.clone()), false),
        ("GET", "/orders/7", Some(alice.clone()), false),
        ("GET", "/orders/7", None, false),
        ("GET", "/healthz", None, false),
        ("GET", "/orders/7", Some(key.sign(&expired)), false),
        ("GET", "/orders/7", Some(key.sign(&other_audience)), false),
        (
            "GET",
            "/orders/7",
            Some(stranger.sign(&claims("alice", "orders:read"))),
            false,
        ),
        ("GET", "/orders/7", Some("not-a-token".into()), false),
        ("GET", "/orders/7", Some(bob.clone()), false),
        ("DELETE", "/orders/7", Some(alice.clone()), false),
        ("GET", "/orders//7", Some(alice.clone()), false),
        (
            "POST",
            "/meshward.test.WhoAmI/Get",
            Some(carol.clone()),
            true,
        ),
        ("POST", "/meshward.test.WhoAmI/Get", None, true),
        ("POST", "/meshward.test.WhoAmI/Get", Some(bob.clone()), true),
        // alice's third request is over her quota (a burst of two).
        ("GET", "/orders/8", Some(alice.clone()), false),
        ("GET", "/orders/9", Some(alice.clone()), false),
    ];
    let request = |method: &str, path: &str, token: &Option<String>, grpc: bool| {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if grpc {
            builder = builder.header("content-type", "application/grpc");
        }
        builder.body(()).unwrap()
    };
    let mut answers = Vec::new();
    for (method, path, token, grpc) in &requests {
        let by_tower = through_tower(&tower_stack, request(method, path, token, *grpc)).await;
        let by_engine = through_engine(&engine, request(method, path, token, *grpc)).await;
        assert_eq!(by_engine, by_tower, "{method} {path}");
        answers.push((by_tower.status, by_tower.reason, by_tower.grpc_status));
    }
    let expected: Vec<(u16, Option<String>, Option<String>)> = [
        (200, None, None),
        (200, None, None),
        (401, Some("unauthenticated"), None),
        (200, None, None),
        (401, Some("expired"), None),
        (401, Some("invalid_audience"), None),
        (401, Some("invalid_signature"), None),
        (401, Some("malformed"), None),
        (403, Some("insufficient_scope"), None),
        (403, Some("no_rule"), None),
        (403, Some("path_not_accepted"), None),
        (200, None, None),
        (200, Some("unauthenticated"), Some("16")),
        (200, None, None),
        (429, Some("quota_exceeded"), None),
        (429, Some("quota_exceeded"), None),
    ]
    .into_iter()
    .map(
        |(status, reason, grpc): (u16, Option<&str>, Option<&str>)| {
            (status, reason.map(str::to_owned), grpc.map(str::to_owned))
        },
    )
    .collect();
    assert_eq!(answers, expected);

    // The identity provider down, nothing cached: 503 both ways, and no one admitted.
    let dead = || {
        KeySource::jwks("http://127.0.0.1:9/jwks")
            .allow_insecure_http()
            .fetch_timeout(Duration::from_millis(300))
            .build()
            .unwrap()
    };
    let down_tower = layers(dead());
    let (auth, authz, quota) = layers(dead());
    let down_engine = Engine::builder().gate(auth).gate(authz).gate(quota).build();
    let by_tower = through_tower(
        &down_tower,
        request("GET", "/orders/7", &Some(alice.clone()), false),
    )
    .await;
    let by_engine = through_engine(
        &down_engine,
        request("GET", "/orders/7", &Some(alice), false),
    )
    .await;
    assert_eq!(by_engine, by_tower);
    assert_eq!(
        (by_tower.status, by_tower.reason.as_deref()),
        (503, Some("keys_unavailable"))
    );
}
