//! Token exchange (RFC 8693) against a real security token service: the oidc-provider of
//! the interop test with a token-exchange grant registered in the test's own provider
//! configuration (`tests/oidc/provider.mjs`; `MESHWARD_SKIP_OIDC=1` skips it). Real axum
//! services: `orders` introspects the user's opaque token and calls `inventory` through a
//! `MintLayer` whose token comes from the exchange; `inventory` introspects the exchanged
//! token.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use meshward::Principal;
use meshward::exchange::{ExchangeErrorKind, TokenExchange};
use meshward::introspect::Introspector;
use meshward::jwt::AuthLayer;
use meshward::mint::{Mint, MintError, MintErrorKind, MintLayer};
use serde_json::{Value, json};
use tower::ServiceBuilder;

use crate::oidc::{CLIENT_ID, Provider, free_port, tools_dir};
use crate::support::*;

const OPAQUE: &str = "urn:meshward:opaque";
const INVENTORY: &str = "urn:meshward:inventory";
const RS: &str = "orders-api";
const RS_SECRET: &str = "orders-api-secret-orders-api-secret-orders-api";

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Empty<Bytes>,
>;
type ToInventory = Mint<Client, TokenExchange>;

async fn item(principal: Principal) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": principal.subject(),
        "act": principal.claim("act"),
        "client_id": principal.claim("client_id"),
        "aud": principal.audiences(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
    }))
}

/// Calls inventory with the caller's principal; a failed exchange is a 503 naming it.
async fn order(
    State((to_inventory, url)): State<(ToInventory, String)>,
    principal: Principal,
) -> (http::StatusCode, String) {
    let mut request = http::Request::get(url).body(Empty::<Bytes>::new()).unwrap();
    request.extensions_mut().insert(principal);
    let mut client = to_inventory;
    let sent = async {
        tower::ServiceExt::ready(&mut client).await?;
        tower::Service::call(&mut client, request).await
    };
    match sent.await {
        Ok(response) => {
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
        Err(error) => match error.downcast_ref::<MintError>() {
            Some(mint) => (
                http::StatusCode::SERVICE_UNAVAILABLE,
                mint.kind().label().to_owned(),
            ),
            None => (http::StatusCode::BAD_GATEWAY, error.to_string()),
        },
    }
}

fn introspector(issuer: &str, audience: &str) -> Introspector {
    Introspector::builder(issuer, [audience])
        .client_secret_basic(RS, RS_SECRET)
        .allow_insecure_http()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn exchange_kind(
    result: Result<http::HeaderValue, meshward::exchange::ExchangeError>,
) -> ExchangeErrorKind {
    result.unwrap_err().kind().clone()
}

#[tokio::test]
async fn outbound_calls_carry_a_token_exchanged_at_a_real_sts() {
    let Some(dir) = tools_dir("exchange::outbound_calls_carry_a_token_exchanged_at_a_real_sts")
    else {
        return;
    };
    let port = free_port();
    let provider = Provider::start(&dir, port, "a").await;
    let issuer = provider.issuer.clone();

    let inventory = serve_axum(
        axum::Router::new()
            .route("/item", get(item))
            .layer(AuthLayer::new(introspector(&issuer, INVENTORY))),
    )
    .await;
    let sts = TokenExchange::builder(issuer.clone())
        .client_secret_basic(RS, RS_SECRET)
        .allow_insecure_http()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let layer = |narrow: Option<&[&str]>| {
        let layer = MintLayer::from_source(sts.clone(), INVENTORY);
        let layer = match narrow {
            Some(scopes) => layer.narrow_scopes(scopes.iter().copied()),
            None => layer,
        };
        ServiceBuilder::new().layer(layer).service(client.clone())
    };
    let orders_introspector = introspector(&issuer, OPAQUE);
    let orders =
        serve_axum(
            axum::Router::new()
                .route("/order", get(order))
                .with_state((layer(None), inventory.url("/item")))
                .route(
                    "/order-narrowed",
                    get(order).with_state((
                        layer(Some(&["orders:read", "orders:admin"])),
                        inventory.url("/item"),
                    )),
                )
                .route(
                    "/whoami",
                    get(|p: Principal| async move {
                        p.subject().map(str::to_owned).unwrap_or_default()
                    }),
                )
                .layer(AuthLayer::new(orders_introspector.clone())),
        )
        .await;
    let call = |path: &'static str, token: String| {
        let url = orders.url(path);
        async move {
            let seen = http_get(&url, &[("authorization", &format!("Bearer {token}"))]).await;
            (seen.status, seen.body_text())
        }
    };

    // The user's opaque token at orders; inventory sees the exchanged one: the same
    // subject, orders-api as the actor, addressed to inventory.
    let user = provider.token(OPAQUE).await;
    let (status, body) = call("/order", user.clone()).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        seen,
        json!({"sub": CLIENT_ID, "act": {"sub": RS}, "client_id": RS,
               "aud": [INVENTORY], "scopes": ["orders:read"]})
    );
    assert_eq!(sts.stats().exchanges, 1);
    // Again: the issued token is reused, no exchange.
    assert_eq!(call("/order", user.clone()).await.0, 200);
    let stats = sts.stats();
    assert_eq!((stats.exchanges, stats.cache_hits), (1, 1), "{stats:?}");

    // Narrowed: only the scopes the user holds among those named (another cache entry).
    let (status, body) = call("/order-narrowed", user.clone()).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["scopes"], json!(["orders:read"]));
    assert_eq!(sts.stats().exchanges, 2);

    // Refusals, through the API: a target the STS does not serve; a revoked subject token.
    let principal = orders_introspector.verify(&user).await.unwrap();
    assert_eq!(
        exchange_kind(
            sts.exchange(&principal, "urn:meshward:elsewhere", None)
                .await
        ),
        ExchangeErrorKind::Refused {
            status: 400,
            error: "invalid_target".into()
        }
    );
    let revoked = provider.token(OPAQUE).await;
    let revoked_principal = orders_introspector.verify(&revoked).await.unwrap();
    provider.revoke(&revoked).await;
    assert_eq!(
        exchange_kind(sts.exchange(&revoked_principal, INVENTORY, None).await),
        ExchangeErrorKind::Refused {
            status: 400,
            error: "invalid_grant".into()
        }
    );
    // Through the layer the call is not sent: a MintError of kind Exchange.
    assert_eq!(
        call("/order", revoked.clone()).await,
        (503, "exchange_failed".into())
    );
    let failures = sts.stats().failures;
    assert!(failures >= 2, "{:?}", sts.stats());

    // The STS down: a token orders has already introspected (cached) cannot be exchanged.
    let pending = provider.token(OPAQUE).await;
    assert_eq!(call("/whoami", pending.clone()).await, (200, String::new()));
    provider.stop().await;
    assert_eq!(
        call("/order", pending.clone()).await,
        (503, "exchange_failed".into())
    );
    let pending_principal = orders_introspector.verify(&pending).await.unwrap();
    assert_eq!(
        exchange_kind(sts.exchange(&pending_principal, INVENTORY, None).await),
        ExchangeErrorKind::Request
    );
    // A token already exchanged is still reused while the STS is away.
    assert_eq!(call("/order", user.clone()).await.0, 200, "from the cache");

    // Back (an in-memory provider: it has forgotten the old tokens): new ones go through.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let provider = Provider::start(&dir, port, "a").await;
    let fresh = provider.token(OPAQUE).await;
    let (status, body) = call("/order", fresh).await;
    assert_eq!(status, 200, "{body}");

    // Without a principal there is nothing to exchange: the call fails, nothing is sent.
    let mut bare = layer(None);
    let request = http::Request::get(inventory.url("/item"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    tower::ServiceExt::ready(&mut bare).await.unwrap();
    let error = tower::Service::call(&mut bare, request).await.unwrap_err();
    assert_eq!(
        error.downcast_ref::<MintError>().map(|e| e.kind().clone()),
        Some(MintErrorKind::NoPrincipal)
    );

    orders.stop().await;
    inventory.stop().await;
    provider.stop().await;
}

#[tokio::test]
async fn concurrent_calls_share_one_exchange_and_bad_answers_are_errors() {
    use axum::response::IntoResponse;
    // A stand-in token endpoint counting its requests.
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let sts_server = serve_axum(axum::Router::new().route(
        "/token",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                if body.contains("audience=bad") {
                    return axum::Json(json!({"access_token": "x", "token_type": "Bearer"}))
                        .into_response();
                }
                if body.contains("audience=big") {
                    return "x".repeat(4096).into_response();
                }
                if body.contains("audience=narrow") {
                    let scope = body
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("scope="))
                        .unwrap_or("-")
                        .replace('+', " ");
                    return axum::Json(json!({"access_token": scope, "token_type": "Bearer",
                                              "expires_in": 300}))
                        .into_response();
                }
                assert!(body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"), "{body}");
                assert!(body.contains("subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"), "{body}");
                axum::Json(json!({"access_token": "exchanged", "token_type": "Bearer",
                                  "expires_in": 300, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}))
                    .into_response()
            }
        }),
    ))
    .await;
    let sts = TokenExchange::builder("https://sts.test")
        .token_endpoint(sts_server.url("/token"))
        .client_secret_basic("orders", "secret")
        .allow_insecure_http()
        .max_answer_len(1024)
        .build()
        .unwrap();
    let key = SigningKey::generate(jsonwebtoken::Algorithm::ES256, "k");
    let validator = meshward::jwt::Validator::builder(ISSUER, [AUDIENCE])
        .add_key(meshward::jwt::VerifyingKey::from_jwk_json(&key.jwk_json().to_string()).unwrap())
        .build()
        .unwrap();
    let principal = validator
        .validate(&key.sign(&claims("alice", "read")))
        .await
        .unwrap();
    let wide = validator
        .validate(&key.sign(&claims("alice", "read write")))
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (sts, principal) = (sts.clone(), principal.clone());
        tasks.push(tokio::spawn(async move {
            sts.exchange(&principal, "inventory", None).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "Bearer exchanged");
    }
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one exchange"
    );
    assert_eq!(sts.stats().exchanges, 1);

    assert_eq!(
        exchange_kind(sts.exchange(&principal, "bad", None).await),
        ExchangeErrorKind::Malformed
    );
    assert_eq!(
        exchange_kind(sts.exchange(&principal, "big", None).await),
        ExchangeErrorKind::TooLarge { max: 1024 }
    );

    // Through the outbound layer, narrowed: only the held scopes among those named are
    // asked for (the stand-in answers with the scope it was asked for).
    let narrowed = ServiceBuilder::new()
        .layer(MintLayer::from_source(sts.clone(), "narrow").narrow_scopes(["read", "admin"]))
        .service(tower::service_fn(|request: http::Request<()>| async move {
            Ok::<_, std::convert::Infallible>(request.headers()["authorization"].clone())
        }));
    let mut request = http::Request::get("http://inventory.test/")
        .body(())
        .unwrap();
    request.extensions_mut().insert(wide.clone());
    assert_eq!(
        tower::ServiceExt::oneshot(narrowed, request).await.unwrap(),
        "Bearer read"
    );

    sts_server.stop().await;
    assert_eq!(
        exchange_kind(sts.exchange(&principal, "other", None).await),
        ExchangeErrorKind::Request
    );
    assert_eq!(sts.stats().failures, 3);
    // A configured endpoint needs no discovery; a discovered one that cannot be found is an
    // error at warm-up.
    assert!(sts.warm_up().await.is_ok());
    let nowhere = TokenExchange::builder(format!("http://127.0.0.1:{}", free_port()))
        .client_secret_basic("orders", "secret")
        .allow_insecure_http()
        .build()
        .unwrap();
    assert_eq!(
        exchange_kind(
            nowhere
                .warm_up()
                .await
                .map(|()| http::HeaderValue::from_static("-"))
        ),
        ExchangeErrorKind::Discovery
    );
    // The refused connection is kept as the source, as introspection keeps it.
    let error = nowhere.warm_up().await.unwrap_err();
    assert!(std::error::Error::source(&error).is_some(), "{error:?}");
}
