//! Issuers found on demand: an `IssuerTemplate` over a multi-tenant provider stand-in on
//! loopback (each tenant its own issuer, discovery document and keys, as Entra ID serves
//! them), through a real axum server: tenants resolved and their keys fetched when a token
//! first names them, an allow-list, malformed tenants, a tenant's token signed with another
//! tenant's key, the bound on tenants kept and on new tenants per minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::routing::get;
use jsonwebtoken::Algorithm;
use meshward::Principal;
use meshward::jwt::{AuthLayer, IssuerTemplate, Validator, VerifyingKey};
use serde_json::{Value, json};

use crate::support::*;

/// The provider stand-in: tenants and their keys, and how many discovery and key requests
/// it answered.
#[derive(Clone, Default)]
struct Provider {
    keys: Arc<Mutex<HashMap<String, Value>>>,
    requests: Arc<AtomicUsize>,
    base: Arc<Mutex<String>>,
}

async fn discovery(
    Path(tenant): Path<String>,
    State(p): State<Provider>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    p.requests.fetch_add(1, Ordering::SeqCst);
    if !p.keys.lock().unwrap().contains_key(&tenant) {
        return http::StatusCode::NOT_FOUND.into_response();
    }
    let base = p.base.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "jwks_uri": format!("{base}/{tenant}/keys"),
    }))
    .into_response()
}

async fn keys(Path(tenant): Path<String>, State(p): State<Provider>) -> axum::response::Response {
    use axum::response::IntoResponse;
    p.requests.fetch_add(1, Ordering::SeqCst);
    match p.keys.lock().unwrap().get(&tenant) {
        Some(jwk) => jwks(std::slice::from_ref(jwk)).into_response(),
        None => http::StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test]
async fn tenants_are_resolved_on_demand_within_bounds() {
    let provider = Provider::default();
    let idp = serve_axum(
        axum::Router::new()
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/{tenant}/keys", get(keys))
            .with_state(provider.clone()),
    )
    .await;
    let base = format!("http://{}", idp.addr);
    *provider.base.lock().unwrap() = base.clone();
    let tenant_key = |tenant: &str| {
        let key = SigningKey::generate(Algorithm::ES256, &format!("{tenant}-key"));
        provider
            .keys
            .lock()
            .unwrap()
            .insert(tenant.to_owned(), key.jwk_json());
        key
    };
    let (t1, t2, t3) = (tenant_key("t1"), tenant_key("t2"), tenant_key("t3"));
    let home = SigningKey::generate(Algorithm::ES256, "home-key");
    let issuer = |tenant: &str| format!("{base}/{tenant}/v2.0");
    let token = |key: &SigningKey, tenant: &str| {
        let mut c = claims("alice", "read");
        c["iss"] = json!(issuer(tenant));
        c["tid"] = json!(tenant);
        key.sign(&c)
    };

    let validator = Validator::builder(issuer("home"), [AUDIENCE])
        .add_key(VerifyingKey::from_jwk_json(&home.jwk_json().to_string()).unwrap())
        .issuer_resolver(
            IssuerTemplate::new(&format!("{base}/{{tenantid}}/v2.0"), [AUDIENCE])
                .unwrap()
                .tenants([
                    "t1", "t2", "t3", "gone1", "gone2", "gone3", "gone4", "gone5",
                ])
                .allow_insecure_http(),
        )
        .max_resolved_issuers(2)
        .new_issuers_per_minute(5)
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/whoami",
            get(|p: Principal| async move {
                axum::Json(json!({"iss": p.issuer(), "tid": p.claim("tid")}))
            }),
        )
        .layer(AuthLayer::new(validator.clone()));
    let server = serve_axum(app).await;
    let call = |t: String| {
        let url = server.url("/whoami");
        async move {
            let seen = http_get(&url, &[("authorization", &format!("Bearer {t}"))]).await;
            let reason = seen
                .headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (seen.status, reason, seen)
        }
    };

    // The configured issuer needs no resolution.
    assert_eq!(call(token(&home, "home")).await.0, 200);
    assert_eq!(provider.requests.load(Ordering::SeqCst), 0);

    // A tenant's first token: resolved, discovery and keys fetched, admitted.
    let (status, _, seen) = call(token(&t1, "t1")).await;
    assert_eq!(status, 200, "{}", seen.body_text());
    assert_eq!(seen.json(), json!({"iss": issuer("t1"), "tid": "t1"}));
    assert_eq!(
        provider.requests.load(Ordering::SeqCst),
        2,
        "discovery, then keys"
    );
    // Again: nothing fetched.
    assert_eq!(call(token(&t1, "t1")).await.0, 200);
    assert_eq!(provider.requests.load(Ordering::SeqCst), 2);
    // Another tenant, its own keys.
    assert_eq!(call(token(&t2, "t2")).await.0, 200);
    // Both resolved tenants' key sources are in the statistics (the configured issuer has
    // a static key, none).
    let mut sources: Vec<String> = validator
        .stats()
        .key_sources
        .into_iter()
        .map(|(issuer, _)| issuer)
        .collect();
    sources.sort();
    assert_eq!(sources, [issuer("t1"), issuer("t2")]);
    // One tenant's token signed with another tenant's key: refused.
    let (status, reason, _) = call(token(&t2, "t1")).await;
    assert_eq!(status, 401);
    assert!(reason.contains("invalid_token"), "{reason}");

    // Not in the allow-list, not matching the pattern, malformed: invalid_issuer, and
    // nothing fetched.
    let before = provider.requests.load(Ordering::SeqCst);
    let v = validator.clone();
    for bad_issuer in [
        issuer("t4"),
        format!("{base}/t1/v1.0"),
        format!("{base}/t1/x/v2.0"),
        format!("{base}/../v2.0"),
        "https://elsewhere.test/t1/v2.0".to_owned(),
    ] {
        let mut c = claims("alice", "read");
        c["iss"] = json!(bad_issuer);
        let error = v.validate(&t1.sign(&c)).await.unwrap_err();
        assert_eq!(
            error.kind(),
            &meshward::jwt::TokenErrorKind::InvalidIssuer,
            "{bad_issuer}"
        );
    }
    assert_eq!(provider.requests.load(Ordering::SeqCst), before);

    // At most two tenants are kept: a third pushes one out (resolved again when it
    // returns, its keys fetched again).
    assert_eq!(call(token(&t3, "t3")).await.0, 200);
    let kept = validator.stats().key_sources.len();
    assert!(kept <= 2, "{kept} tenants kept");
    for tenant in ["t1", "t2", "t3"] {
        let key = [&t1, &t2, &t3][tenant[1..].parse::<usize>().unwrap() - 1];
        assert_eq!(call(token(key, tenant)).await.0, 200, "{tenant}");
    }

    // New tenants per minute are bounded: a flood of tokens naming tenants the provider
    // does not know fetches at most that many times, then gets 503 without fetching; never
    // an unchecked admission.
    let flooded = Validator::builder(issuer("home"), [AUDIENCE])
        .add_key(VerifyingKey::from_jwk_json(&home.jwk_json().to_string()).unwrap())
        .issuer_resolver(
            IssuerTemplate::new(&format!("{base}/{{tenantid}}/v2.0"), [AUDIENCE])
                .unwrap()
                .allow_insecure_http(),
        )
        .new_issuers_per_minute(5)
        .build()
        .unwrap();
    let before = provider.requests.load(Ordering::SeqCst);
    let unknown = SigningKey::generate(Algorithm::ES256, "unknown");
    for n in 0..20 {
        let error = flooded
            .validate(&token(&unknown, &format!("gone{n}")))
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            &meshward::jwt::TokenErrorKind::KeysUnavailable,
            "gone{n}"
        );
    }
    let fetched = provider.requests.load(Ordering::SeqCst) - before;
    assert!(
        (1..=5).contains(&fetched),
        "{fetched} fetches for 20 unknown tenants"
    );
    // A known tenant, past the bound, waits too (503), and is admitted later.
    let error = flooded.validate(&token(&t1, "t1")).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &meshward::jwt::TokenErrorKind::KeysUnavailable
    );

    server.stop().await;
    idp.stop().await;
}
