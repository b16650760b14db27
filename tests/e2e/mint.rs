//! Service tokens: chains of 1, 2 and 3 hops accepted; every tampering refused with its
//! status, gRPC code and reason; garbage in every claim a 401, never a panic; rotation under
//! traffic; the minted-token cache.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use jsonwebtoken::Algorithm;
use meshward::jwt::{
    AuthLayer, KeySet, KeySource, TokenError, TokenErrorKind, Validator, VerifyingKey,
};
use meshward::mint::{
    InMemoryReplayGuard, ServiceSigner, ServiceTokenVerifier, ServiceTokenVerifierBuilder,
    SigningKey as ServiceKey,
};
use meshward::{Principal, Rejection};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

use crate::support::*;

pub const GATEWAY: &str = "spiffe://mesh.test/ns/edge/sa/gateway";
pub const ORDERS: &str = "spiffe://mesh.test/ns/shop/sa/orders";
pub const INVENTORY: &str = "spiffe://mesh.test/ns/shop/sa/inventory";
pub const WAREHOUSE: &str = "spiffe://mesh.test/ns/shop/sa/warehouse";
/// The audience of the end users' access tokens: the gateway's API.
pub const EDGE_API: &str = "shop-api";

/// A service of the test mesh: its signer, and the raw key to forge with.
pub struct Svc {
    pub id: &'static str,
    pub signer: ServiceSigner,
    pub raw: SigningKey,
}

impl Svc {
    pub fn new(id: &'static str) -> Self {
        let raw = SigningKey::generate(Algorithm::ES256, &format!("{id}#1"));
        let signer = ServiceSigner::builder(id, service_key(&raw, &raw.kid))
            .build()
            .unwrap();
        Self { id, signer, raw }
    }

    /// Another signer of this service, with its key, to build with other settings.
    pub fn signer_builder(&self) -> meshward::mint::ServiceSignerBuilder {
        ServiceSigner::builder(self.id, service_key(&self.raw, &self.raw.kid))
    }

    pub fn keys(&self) -> KeySource {
        KeySource::from_keys(
            KeySet::from_jwks_json(&self.signer.published_jwks().to_string()).unwrap(),
        )
    }

    /// Signs `claims` as this service would, header and all, without any check.
    pub fn forge(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": self.raw.kid, "typ": "svc+jwt"});
        self.raw.sign_with_header(Algorithm::ES256, &header, claims)
    }

    /// A well-formed claim set of a hop from this service to `aud`, embedding `below`.
    pub fn hop(
        &self,
        aud: &str,
        sub: &str,
        scope: &str,
        below: Option<&str>,
        act_below: Option<Value>,
    ) -> Value {
        let now = now();
        let mut act = json!({"sub": self.id});
        if let Some(nested) = act_below {
            act["act"] = nested;
        }
        let mut claims = json!({
            "iss": self.id, "aud": aud, "sub": sub, "iat": now, "exp": now + 60,
            "jti": format!("{}-{}", self.id, rand_id()), "act": act, "scope": scope,
        });
        if let Some(below) = below {
            claims["subject_token"] = json!(below);
        }
        claims
    }
}

/// `raw` as a service key named `kid`.
fn service_key(raw: &SigningKey, kid: &str) -> ServiceKey {
    ServiceKey::from_pem(raw.private_pem.as_bytes(), Algorithm::ES256)
        .unwrap()
        .with_kid(kid)
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub struct Mesh {
    pub idp: SigningKey,
    pub gateway: Svc,
    pub orders: Svc,
    pub inventory: Svc,
}

impl Mesh {
    pub fn new() -> Self {
        Self {
            idp: SigningKey::generate(Algorithm::ES256, "idp-1"),
            gateway: Svc::new(GATEWAY),
            orders: Svc::new(ORDERS),
            inventory: Svc::new(INVENTORY),
        }
    }

    /// The identity provider's validator: end users' tokens for the edge API.
    pub fn users(&self) -> Validator {
        Validator::builder(ISSUER, [EDGE_API])
            .add_key(VerifyingKey::from_jwk_json(&self.idp.jwk_json().to_string()).unwrap())
            .build()
            .unwrap()
    }

    /// An end user as the gateway sees them: their token, verified.
    pub async fn user(&self, sub: &str, scope: &str) -> Principal {
        self.users()
            .validate(&self.user_token(sub, scope))
            .await
            .unwrap()
    }

    pub fn user_token(&self, sub: &str, scope: &str) -> String {
        let mut claims = claims(sub, scope);
        claims["aud"] = json!(EDGE_API);
        self.idp.sign(&claims)
    }

    /// The verifier of a service trusting the three services above and the identity
    /// provider.
    pub fn verifier(&self, identity: &str) -> ServiceTokenVerifierBuilder {
        ServiceTokenVerifier::builder(identity)
            .trust_service(GATEWAY, self.gateway.keys())
            .trust_service(ORDERS, self.orders.keys())
            .trust_service(INVENTORY, self.inventory.keys())
            .user_tokens(self.users())
    }

    /// A real chain: the user's token verified at the gateway, then minted hop by hop.
    /// Returns the token each hop received: [gateway→orders, orders→inventory,
    /// inventory→warehouse].
    pub async fn chain(&self, user: &str, scope: &str) -> Vec<String> {
        let at_gateway = self
            .users()
            .validate(&self.user_token(user, scope))
            .await
            .unwrap();
        let to_orders = self.gateway.signer.mint(&at_gateway, ORDERS).unwrap();
        let at_orders = self
            .verifier(ORDERS)
            .build()
            .unwrap()
            .verify(to_orders.as_str())
            .await
            .unwrap();
        let to_inventory = self.orders.signer.mint(&at_orders, INVENTORY).unwrap();
        let at_inventory = self
            .verifier(INVENTORY)
            .build()
            .unwrap()
            .verify(to_inventory.as_str())
            .await
            .unwrap();
        let to_warehouse = self
            .inventory
            .signer
            .mint(&at_inventory, WAREHOUSE)
            .unwrap();
        vec![
            to_orders.as_str().to_owned(),
            to_inventory.as_str().to_owned(),
            to_warehouse.as_str().to_owned(),
        ]
    }
}

/// The status, challenge, gRPC code and reason label an AuthLayer answers `token` with.
async fn answer(
    verifier: &ServiceTokenVerifier,
    token: &str,
) -> (u16, Option<String>, String, String) {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(verifier.clone()))
        .service_fn(|request: Request<()>| async move {
            let principal = request.extensions().get::<Principal>().cloned().unwrap();
            Ok::<_, Infallible>(Response::new(format!(
                "{}|{}",
                principal.subject().unwrap_or("-"),
                principal.actor_chain().join(">")
            )))
        });
    let http = svc
        .clone()
        .oneshot(
            Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    let grpc = svc
        .oneshot(
            Request::post("/shop.Inventory/Reserve")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/grpc")
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    let code = grpc
        .headers()
        .get("grpc-status")
        .map_or_else(|| "0".to_owned(), |v| v.to_str().unwrap().to_owned());
    let reason = http
        .extensions()
        .get::<Rejection>()
        .map_or_else(|| http.body().clone(), |r| r.label().to_owned());
    let challenge = http
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (http.status().as_u16(), challenge, code, reason)
}

fn kind(result: Result<Principal, TokenError>) -> TokenErrorKind {
    result.unwrap_err().kind().clone()
}

#[tokio::test]
async fn chains_of_one_two_and_three_hops_are_accepted() {
    let mesh = Mesh::new();
    let warehouse = Svc::new(WAREHOUSE);
    let chain = mesh.chain("alice", "orders:read orders:write").await;

    let at_orders = mesh
        .verifier(ORDERS)
        .build()
        .unwrap()
        .verify(&chain[0])
        .await
        .unwrap();
    assert_eq!(at_orders.subject(), Some("alice"));
    assert_eq!(at_orders.issuer(), ISSUER, "the end user's issuer");
    assert_eq!(at_orders.caller(), Some(GATEWAY));
    assert_eq!(at_orders.actor_chain(), [GATEWAY]);
    assert!(at_orders.is_delegated());
    assert_eq!(at_orders.token(), chain[0], "the token received");
    assert_eq!(at_orders.scopes().to_string(), "orders:read orders:write");

    let at_inventory = mesh
        .verifier(INVENTORY)
        .build()
        .unwrap()
        .verify(&chain[1])
        .await
        .unwrap();
    assert_eq!(at_inventory.actor_chain(), [GATEWAY, ORDERS]);
    assert_eq!(at_inventory.caller(), Some(ORDERS));
    assert_eq!(at_inventory.subject(), Some("alice"));

    let at_warehouse = mesh
        .verifier(WAREHOUSE)
        .trust_service(WAREHOUSE, warehouse.keys())
        .build()
        .unwrap()
        .verify(&chain[2])
        .await
        .unwrap();
    assert_eq!(at_warehouse.actor_chain(), [GATEWAY, ORDERS, INVENTORY]);
    assert_eq!(at_warehouse.subject(), Some("alice"));
    assert_eq!(at_warehouse.claim("sub"), Some(&json!("alice")));

    // Through the layer: 200 and the chain, HTTP and gRPC alike.
    let v = mesh.verifier(INVENTORY).build().unwrap();
    let (status, _, code, body) = answer(&v, &chain[1]).await;
    assert_eq!((status, code.as_str()), (200, "0"));
    assert_eq!(body, format!("alice|{GATEWAY}>{ORDERS}"));
    // The end user's token directly: only when asked for.
    let direct = mesh.user_token("bob", "orders:read");
    assert_eq!(answer(&v, &direct).await.3, "invalid_type");
    let both = mesh
        .verifier(INVENTORY)
        .accept_user_tokens_directly()
        .build()
        .unwrap();
    let direct = both.verify(&direct).await.unwrap();
    assert!(!direct.is_delegated());
    assert_eq!(direct.caller(), None);
    assert!(direct.actor_chain().is_empty());
}

#[tokio::test]
async fn a_service_acting_for_itself() {
    let mesh = Mesh::new();
    let token = mesh.orders.signer.mint_as_service(INVENTORY).unwrap();
    let p = mesh
        .verifier(INVENTORY)
        .build()
        .unwrap()
        .verify(token.as_str())
        .await
        .unwrap();
    assert_eq!(p.subject(), Some(ORDERS));
    assert_eq!(p.issuer(), ORDERS);
    assert_eq!(p.caller(), Some(ORDERS));
    // And one hop further: the chain names both services, the subject stays the service.
    let onward = mesh.inventory.signer.mint(&p, WAREHOUSE).unwrap();
    let warehouse = Svc::new(WAREHOUSE);
    let p = mesh
        .verifier(WAREHOUSE)
        .trust_service(WAREHOUSE, warehouse.keys())
        .build()
        .unwrap()
        .verify(onward.as_str())
        .await
        .unwrap();
    assert_eq!(p.actor_chain(), [ORDERS, INVENTORY]);
    assert_eq!(p.subject(), Some(ORDERS));
}

#[tokio::test]
async fn every_tampering_is_refused_with_its_reason() {
    let mesh = Mesh::new();
    let user = mesh.user_token("alice", "read");
    let chain = mesh.chain("alice", "read").await;
    let at_inventory = mesh.verifier(INVENTORY).build().unwrap();
    let g = &mesh.gateway;
    let o = &mesh.orders;
    let stranger = Svc::new("spiffe://mesh.test/ns/evil/sa/x");
    let act_g = json!({"sub": GATEWAY});

    let gateway_hop =
        |aud: &str, sub: &str, scope: &str| g.forge(&g.hop(aud, sub, scope, Some(&user), None));
    let orders_over = |below: &str, sub: &str, scope: &str| {
        o.forge(&o.hop(INVENTORY, sub, scope, Some(below), Some(act_g.clone())))
    };

    let mut expired_user = claims("alice", "read");
    expired_user["aud"] = json!(EDGE_API);
    expired_user["exp"] = json!(now() - 3600);
    let expired_user = mesh.idp.sign(&expired_user);
    let mut forged_typ = claims("alice", "read");
    forged_typ["aud"] = json!(INVENTORY);
    let mut idp_as_gateway = forged_typ.clone();
    idp_as_gateway["iss"] = json!(GATEWAY);

    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        ("the real chain", chain[1].clone(), 200, "0", "ok"),
        (
            "wrong signer: the gateway's claims signed by a stranger's key",
            {
                let mut c = g.hop(ORDERS, "alice", "read", Some(&user), None);
                c["aud"] = json!(INVENTORY);
                let header = json!({"alg": "ES256", "kid": g.raw.kid, "typ": "svc+jwt"});
                stranger.raw.sign_with_header(Algorithm::ES256, &header, &c)
            },
            401,
            "16",
            "invalid_signature",
        ),
        (
            "untrusted issuer",
            stranger.forge(&stranger.hop(INVENTORY, "alice", "read", Some(&user), None)),
            401,
            "16",
            "invalid_issuer",
        ),
        (
            "outer token addressed to another service",
            o.forge(&o.hop(
                "spiffe://mesh.test/ns/shop/sa/billing",
                "alice",
                "read",
                Some(&gateway_hop(ORDERS, "alice", "read")),
                Some(act_g.clone()),
            )),
            401,
            "16",
            "invalid_audience",
        ),
        (
            "inner token addressed to another service than the one that embedded it",
            orders_over(&gateway_hop(INVENTORY, "alice", "read"), "alice", "read"),
            401,
            "16",
            "invalid_audience",
        ),
        (
            "a hop claims another subject",
            orders_over(&gateway_hop(ORDERS, "alice", "read"), "mallory", "read"),
            401,
            "16",
            "subject_mismatch",
        ),
        (
            "a hop widens the scopes",
            orders_over(&gateway_hop(ORDERS, "alice", "read"), "alice", "read admin"),
            401,
            "16",
            "scope_widened",
        ),
        (
            "a hop drops the actors below it",
            o.forge(&o.hop(
                INVENTORY,
                "alice",
                "read",
                Some(&gateway_hop(ORDERS, "alice", "read")),
                None,
            )),
            401,
            "16",
            "actor_mismatch",
        ),
        (
            "a hop names another actor than its issuer",
            {
                let mut c = o.hop(
                    INVENTORY,
                    "alice",
                    "read",
                    Some(&gateway_hop(ORDERS, "alice", "read")),
                    Some(act_g.clone()),
                );
                c["act"]["sub"] = json!(GATEWAY);
                o.forge(&c)
            },
            401,
            "16",
            "actor_mismatch",
        ),
        (
            "the end user's token expired under a fresh hop",
            orders_over(
                &g.forge(&g.hop(ORDERS, "alice", "read", Some(&expired_user), None)),
                "alice",
                "read",
            ),
            401,
            "16",
            "expired",
        ),
        (
            "an access token given where a service token is expected",
            user.clone(),
            401,
            "16",
            "invalid_type",
        ),
        (
            "an identity-provider token relabelled svc+jwt",
            mesh.idp.sign_with_header(
                Algorithm::ES256,
                &json!({"alg": "ES256", "kid": "idp-1", "typ": "svc+jwt"}),
                &forged_typ,
            ),
            401,
            "16",
            "invalid_issuer",
        ),
        (
            "the identity provider's key signing as the gateway",
            mesh.idp.sign_with_header(
                Algorithm::ES256,
                &json!({"alg": "ES256", "kid": "idp-1", "typ": "svc+jwt"}),
                &idp_as_gateway,
            ),
            401,
            "16",
            "unknown_key",
        ),
        (
            "a service token relabelled as JWT where the user's token belongs",
            {
                let header = json!({"alg": "ES256", "kid": g.raw.kid, "typ": "JWT"});
                let hop = g.raw.sign_with_header(
                    Algorithm::ES256,
                    &header,
                    &g.hop(ORDERS, "alice", "read", Some(&user), None),
                );
                orders_over(&hop, "alice", "read")
            },
            // Checked as an end user's token: the gateway is no identity provider.
            401,
            "16",
            "invalid_issuer",
        ),
        (
            "an array of exactly one audience is still one hop",
            {
                let mut c = o.hop(
                    INVENTORY,
                    "alice",
                    "read",
                    Some(&gateway_hop(ORDERS, "alice", "read")),
                    Some(act_g.clone()),
                );
                c["aud"] = json!([INVENTORY]);
                o.forge(&c)
            },
            200,
            "0",
            "ok",
        ),
        (
            "the outer token names two audiences, the receiver among them",
            {
                let mut c = o.hop(
                    INVENTORY,
                    "alice",
                    "read",
                    Some(&gateway_hop(ORDERS, "alice", "read")),
                    Some(act_g.clone()),
                );
                c["aud"] = json!([INVENTORY, WAREHOUSE]);
                o.forge(&c)
            },
            401,
            "16",
            "multiple_audiences",
        ),
        (
            "a nested level names two audiences, the embedding service among them",
            {
                let mut below = g.hop(ORDERS, "alice", "read", Some(&user), None);
                below["aud"] = json!([ORDERS, INVENTORY]);
                orders_over(&g.forge(&below), "alice", "read")
            },
            401,
            "16",
            "multiple_audiences",
        ),
        (
            "a nested level repeats the jti of the level above it",
            {
                let below = g.hop(ORDERS, "alice", "read", Some(&user), None);
                let mut outer = o.hop(
                    INVENTORY,
                    "alice",
                    "read",
                    Some(&g.forge(&below)),
                    Some(act_g.clone()),
                );
                outer["jti"] = below["jti"].clone();
                o.forge(&outer)
            },
            401,
            "16",
            "repeated_jti",
        ),
        (
            "a level repeats the jti of the end user's token",
            {
                let mut user_claims = claims("alice", "read");
                user_claims["aud"] = json!(EDGE_API);
                user_claims["jti"] = json!("one-id");
                let user = mesh.idp.sign(&user_claims);
                let mut hop = g.hop(ORDERS, "alice", "read", Some(&user), None);
                hop["jti"] = json!("one-id");
                orders_over(&g.forge(&hop), "alice", "read")
            },
            401,
            "16",
            "repeated_jti",
        ),
    ];
    let mut failures = Vec::new();
    for (name, token, status, code, reason) in cases {
        let (seen, challenge, seen_code, seen_reason) = answer(&at_inventory, &token).await;
        let body_reason = if seen == 200 {
            "ok".to_owned()
        } else {
            seen_reason
        };
        if (seen, seen_code.as_str(), body_reason.as_str()) != (status, code, reason) {
            failures.push(format!(
                "{name}: got {seen} {seen_code} {body_reason}, want {status} {code} {reason}"
            ));
        }
        if status == 401 {
            assert!(
                challenge
                    .unwrap()
                    .starts_with("Bearer error=\"invalid_token\""),
                "{name}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // And a service token where an access token is expected (the gateway's own layer).
    let gateway_layer = ServiceBuilder::new()
        .layer(AuthLayer::new(mesh.users()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let refused = gateway_layer
        .oneshot(
            Request::get("/")
                .header("authorization", format!("Bearer {}", chain[0]))
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.extensions().get::<Rejection>().unwrap().label(),
        "invalid_type"
    );
}

/// The signer's audience is one string, at every level it mints: it cannot mint a token good
/// at two services.
#[tokio::test]
async fn every_minted_level_names_one_audience_as_a_string() {
    let mesh = Mesh::new();
    let chain = mesh.chain("alice", "read").await;
    let mut level = Some(chain[2].clone());
    let mut audiences = Vec::new();
    while let Some(token) = level {
        let claims = payload_of(&token);
        audiences.push(claims["aud"].clone());
        level = claims["subject_token"].as_str().map(str::to_owned);
    }
    assert_eq!(
        audiences,
        [
            json!(WAREHOUSE),
            json!(INVENTORY),
            json!(ORDERS),
            json!(EDGE_API)
        ]
    );
}

#[tokio::test]
async fn depth_and_size_are_bounded() {
    let mesh = Mesh::new();
    let warehouse = Svc::new(WAREHOUSE);
    let chain = mesh.chain("alice", "read").await;
    let shallow = mesh
        .verifier(WAREHOUSE)
        .trust_service(WAREHOUSE, warehouse.keys())
        .max_depth(2)
        .build()
        .unwrap();
    assert_eq!(
        kind(shallow.verify(&chain[2]).await),
        TokenErrorKind::ChainTooDeep { depth: 3, max: 2 }
    );
    // The cap is inclusive.
    let exact = mesh
        .verifier(INVENTORY)
        .max_token_len(chain[1].len())
        .build()
        .unwrap();
    assert_eq!(exact.identity(), INVENTORY);
    assert_eq!(
        exact.verify(&chain[1]).await.unwrap().caller(),
        Some(ORDERS)
    );
    let small = mesh
        .verifier(INVENTORY)
        .max_token_len(1000)
        .build()
        .unwrap();
    let len = chain[1].len();
    assert_eq!(
        kind(small.verify(&chain[1]).await),
        TokenErrorKind::TooLarge { len, max: 1000 }
    );
    // Through the layer the cap applies before anything is parsed: 401 too large.
    assert_eq!(answer(&small, &chain[1]).await.3, "too_large");
    // A chain that names itself all the way down is bounded by the same depth.
    let o = &mesh.orders;
    let mut token = mesh.user_token("alice", "read");
    let mut act: Option<Value> = None;
    for _ in 0..6 {
        let claims = o.hop(ORDERS, "alice", "read", Some(&token), act.clone());
        act = Some(claims["act"].clone());
        token = o.forge(&claims);
    }
    let big = mesh
        .verifier(ORDERS)
        .max_token_len(64 * 1024)
        .build()
        .unwrap();
    assert_eq!(
        kind(big.verify(&token).await),
        TokenErrorKind::ChainTooDeep { depth: 5, max: 4 }
    );
}

#[tokio::test]
async fn garbage_in_every_claim_is_a_401_never_a_panic() {
    let mesh = Mesh::new();
    let user = mesh.user_token("alice", "read");
    let g = &mesh.gateway;
    let v = mesh.verifier(ORDERS).build().unwrap();
    let base = || g.hop(ORDERS, "alice", "read", Some(&user), None);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = base();
        f(&mut c);
        g.forge(&c)
    };
    let huge_embedded = format!(
        "{}.{}.{}",
        b64("{\"alg\":\"ES256\"}"),
        "A".repeat(20_000),
        "B"
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "act is a string",
            with(&|c| c["act"] = json!("gateway")),
            "invalid_claim",
        ),
        (
            "act is missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("act");
            }),
            "missing_claim",
        ),
        (
            "act.sub is a number",
            with(&|c| c["act"] = json!({"sub": 7})),
            "invalid_claim",
        ),
        (
            "act nests itself",
            with(&|c| {
                c["act"] = json!({"sub": GATEWAY, "act": {"sub": GATEWAY, "act": {"sub": GATEWAY}}})
            }),
            "actor_mismatch",
        ),
        (
            "subject_token is a number",
            with(&|c| c["subject_token"] = json!(42)),
            "invalid_claim",
        ),
        (
            "subject_token is an object",
            with(&|c| c["subject_token"] = json!({"a": 1})),
            "invalid_claim",
        ),
        (
            "subject_token is not a JWS",
            with(&|c| c["subject_token"] = json!("not a token")),
            "malformed",
        ),
        (
            "subject_token is empty",
            with(&|c| c["subject_token"] = json!("")),
            "malformed",
        ),
        (
            "subject_token is huge",
            with(&|c| c["subject_token"] = json!(huge_embedded)),
            "too_large",
        ),
        (
            "sub is missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            "missing_claim",
        ),
        (
            "sub is a number",
            with(&|c| c["sub"] = json!(1)),
            "invalid_claim",
        ),
        (
            "scope is an object",
            with(&|c| c["scope"] = json!({"read": true})),
            "invalid_claim",
        ),
        (
            "scope is an array of numbers",
            with(&|c| c["scope"] = json!([1, 2])),
            "invalid_claim",
        ),
        (
            "aud is a number",
            with(&|c| c["aud"] = json!(1)),
            "invalid_claim",
        ),
        (
            "exp is a string",
            with(&|c| c["exp"] = json!("soon")),
            "invalid_claim",
        ),
        (
            "exp is 1e300",
            with(&|c| c["exp"] = json!(1e300)),
            "invalid_claim",
        ),
        (
            "lives eleven minutes",
            with(&|c| c["exp"] = json!(c["iat"].as_i64().unwrap() + 660)),
            "lifetime_too_long",
        ),
        (
            "no iat and no nbf",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
            "missing_claim",
        ),
    ];
    let mut failures = Vec::new();
    for (name, token, reason) in cases {
        let (status, _, code, seen) = answer(&v, &token).await;
        if (status, code.as_str(), seen.as_str()) != (401, "16", reason) {
            failures.push(format!(
                "{name}: got {status} {code} {seen}, want 401 16 {reason}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn replay_is_refused_with_the_guard_on() {
    let mesh = Mesh::new();
    let at_gateway = mesh.user("alice", "read").await;
    let token = mesh.gateway.signer.mint(&at_gateway, ORDERS).unwrap();
    let guarded = mesh
        .verifier(ORDERS)
        .replay_guard(InMemoryReplayGuard::default())
        .build()
        .unwrap();
    assert_eq!(answer(&guarded, token.as_str()).await.0, 200);
    let (status, _, code, reason) = answer(&guarded, token.as_str()).await;
    assert_eq!(
        (status, code.as_str(), reason.as_str()),
        (401, "16", "replayed")
    );
    // A signer without reuse mints a fresh jti for each call: no false replay.
    let fresh = mesh
        .gateway
        .signer_builder()
        .minted_token_cache(0)
        .build()
        .unwrap();
    for _ in 0..3 {
        let t = fresh.mint(&at_gateway, ORDERS).unwrap();
        assert_eq!(answer(&guarded, t.as_str()).await.0, 200);
    }
}

/// The status and reason label of one request through an AuthLayer with `verifier`.
async fn once(verifier: &ServiceTokenVerifier, token: &str) -> (u16, String) {
    let response = ServiceBuilder::new()
        .layer(AuthLayer::new(verifier.clone()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) })
        .oneshot(
            Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    let reason = response
        .extensions()
        .get::<Rejection>()
        .map_or_else(String::new, |r| r.label().to_owned());
    (response.status().as_u16(), reason)
}

/// The gateway's signer without minted-token reuse: each call gets a fresh `jti`.
fn fresh_gateway(mesh: &Mesh) -> ServiceSigner {
    mesh.gateway
        .signer_builder()
        .minted_token_cache(0)
        .build()
        .unwrap()
}

#[tokio::test]
async fn instances_sharing_a_replay_store_refuse_a_token_used_at_another() {
    let mesh = Mesh::new();
    let at_gateway = mesh.user("alice", "read").await;
    let signer = fresh_gateway(&mesh);
    let seen = meshward::state::InMemoryState::new(1_000);
    let one = mesh
        .verifier(ORDERS)
        .replay_guard_on(seen.clone())
        .build()
        .unwrap();
    let two = mesh
        .verifier(ORDERS)
        .replay_guard_on(seen.clone())
        .build()
        .unwrap();
    let alone = mesh
        .verifier(ORDERS)
        .replay_guard_on(meshward::state::InMemoryState::new(1_000))
        .build()
        .unwrap();
    let token = signer.mint(&at_gateway, ORDERS).unwrap();
    assert_eq!(once(&one, token.as_str()).await, (200, String::new()));
    assert_eq!(once(&two, token.as_str()).await, (401, "replayed".into()));
    assert_eq!(once(&one, token.as_str()).await, (401, "replayed".into()));
    assert_eq!(
        once(&alone, token.as_str()).await,
        (200, String::new()),
        "another store has not seen it"
    );
    assert_eq!(seen.len(), 1, "one key per token");
    // Fresh tokens pass at either.
    for verifier in [&one, &two, &one] {
        let t = signer.mint(&at_gateway, ORDERS).unwrap();
        assert_eq!(once(verifier, t.as_str()).await, (200, String::new()));
    }
    // The same check through `verify`, without a layer.
    let t = signer.mint(&at_gateway, ORDERS).unwrap();
    assert!(two.verify(t.as_str()).await.is_ok());
    assert_eq!(kind(one.verify(t.as_str()).await), TokenErrorKind::Replayed);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_replay_guard_on_redis_is_shared_and_fails_closed() {
    use crate::support::redis::RedisServer;
    use meshward::state::RedisState;

    let Some(mut redis) = RedisServer::start("a_replay_guard_on_redis_is_shared_and_fails_closed")
    else {
        return;
    };
    let mesh = Mesh::new();
    let at_gateway = mesh.user("alice", "read").await;
    let signer = fresh_gateway(&mesh);
    let instance = || {
        let store = RedisState::builder(redis.url())
            .key_prefix("replay-test:")
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        mesh.verifier(ORDERS)
            .replay_guard_on(store)
            .build()
            .unwrap()
    };
    let (one, two) = (instance(), instance());
    let token = signer.mint(&at_gateway, ORDERS).unwrap();
    assert_eq!(once(&one, token.as_str()).await, (200, String::new()));
    assert_eq!(once(&two, token.as_str()).await, (401, "replayed".into()));

    // The token's id is kept in Redis until a minute past its `exp`: the time to live
    // Redis holds is in milliseconds (a 60 s token: about 120 000 ms left).
    let mut redis_connection = ::redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("replay-test:*")
        .query_async(&mut redis_connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let pttl: i64 = ::redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut redis_connection)
        .await
        .unwrap();
    let exp = payload_of(token.as_str())["exp"].as_i64().unwrap();
    let expected_ms = (exp + 60 - now()) * 1000;
    assert!(
        (expected_ms - 3_000..=expected_ms + 1_000).contains(&pttl),
        "PTTL {pttl} ms, expected about {expected_ms} ms"
    );
    drop(redis_connection);

    // Redis gone: fresh tokens are refused as unavailable (503), never admitted unchecked.
    redis.kill();
    let t = signer.mint(&at_gateway, ORDERS).unwrap();
    assert_eq!(
        once(&one, t.as_str()).await,
        (503, "replay_guard_unavailable".into())
    );
    // Back: the guard answers again (an empty Redis has forgotten the earlier tokens).
    redis.restart();
    let mut status = (0, String::new());
    for _ in 0..50 {
        let t = signer.mint(&at_gateway, ORDERS).unwrap();
        status = once(&two, t.as_str()).await;
        if status.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, (200, String::new()), "recovered");
    let t = signer.mint(&at_gateway, ORDERS).unwrap();
    assert_eq!(once(&one, t.as_str()).await.0, 200);
    assert_eq!(once(&two, t.as_str()).await, (401, "replayed".into()));
}

/// A rotation that took effect minutes ago leaves the old key published for as long as the
/// tokens it signed live: with a lifetime of minutes, far past the publishing margin.
#[tokio::test]
async fn a_key_rotated_out_stays_published_while_its_tokens_live() {
    use std::time::SystemTime;

    let raw = SigningKey::generate(Algorithm::ES256, "old");
    let signer = ServiceSigner::builder(GATEWAY, service_key(&raw, "old"))
        .token_lifetime(Duration::from_secs(300))
        .minted_token_cache(0)
        .build()
        .unwrap();
    let live = signer.mint_as_service(ORDERS).unwrap();
    let verifier = |signer: &ServiceSigner| {
        let keys = KeySet::from_jwks_json(&signer.published_jwks().to_string()).unwrap();
        ServiceTokenVerifier::builder(ORDERS)
            .trust_service(GATEWAY, KeySource::from_keys(keys))
            .build()
            .unwrap()
    };
    let kids = |signer: &ServiceSigner| -> Vec<String> {
        signer.published_jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };

    // The new key has signed for two minutes: the old key's last token lives three more.
    let next = ServiceKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("new");
    signer
        .rotate_at(next, SystemTime::now() - Duration::from_secs(120))
        .unwrap();
    assert_eq!(signer.signing_kid().unwrap(), "new");
    assert_eq!(kids(&signer), ["old", "new"]);
    assert!(verifier(&signer).verify(live.as_str()).await.is_ok());

    // Signing for longer than the lifetime and the publishing margin (60 s): every token of
    // the old key has expired, and it is withdrawn.
    let signer = ServiceSigner::builder(GATEWAY, service_key(&raw, "old"))
        .token_lifetime(Duration::from_secs(300))
        .build()
        .unwrap();
    let next = ServiceKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("new");
    signer
        .rotate_at(next, SystemTime::now() - Duration::from_secs(300 + 60 + 2))
        .unwrap();
    assert_eq!(kids(&signer), ["new"]);
    let next = ServiceKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("newer");
    signer
        .rotate_at(next, SystemTime::now() - Duration::from_secs(300 + 60 - 5))
        .unwrap();
    assert_eq!(kids(&signer), ["new", "newer"], "just inside the window");
}

#[tokio::test]
async fn minted_tokens_are_reused_then_renewed() {
    let mesh = Mesh::new();
    let signer = mesh
        .gateway
        .signer_builder()
        .token_lifetime(Duration::from_secs(2))
        .build()
        .unwrap();
    let alice = mesh.user("alice", "read write").await;
    let first = signer.mint(&alice, ORDERS).unwrap();
    assert_eq!(
        signer.mint(&alice, ORDERS).unwrap().as_str(),
        first.as_str(),
        "reused"
    );
    assert_ne!(
        signer.mint(&alice, INVENTORY).unwrap().as_str(),
        first.as_str(),
        "per audience"
    );
    assert_ne!(
        signer
            .mint_narrowed(&alice, ORDERS, ["read"])
            .unwrap()
            .as_str(),
        first.as_str(),
        "per scopes"
    );
    let narrowed = signer
        .mint_narrowed(&alice, ORDERS, ["read", "admin"])
        .unwrap();
    let p = mesh
        .verifier(ORDERS)
        .build()
        .unwrap()
        .verify(narrowed.as_str())
        .await
        .unwrap();
    assert_eq!(
        p.scopes().to_string(),
        "read",
        "narrowed, and never widened"
    );
    // Reused for three quarters of its life at most.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_ne!(
        signer.mint(&alice, ORDERS).unwrap().as_str(),
        first.as_str(),
        "renewed"
    );
}

#[tokio::test]
async fn a_minted_token_never_outlives_the_one_it_embeds() {
    let mesh = Mesh::new();
    let mut c = claims("alice", "read");
    c["aud"] = json!(EDGE_API);
    c["exp"] = json!(now() + 20);
    let alice = mesh.users().validate(&mesh.idp.sign(&c)).await.unwrap();
    let token = mesh.gateway.signer.mint(&alice, ORDERS).unwrap();
    let exp = token
        .expires_at()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(exp <= now() + 20, "{exp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_rotates_under_steady_traffic_with_no_refusal() {
    use axum::Router;
    use meshward::mint::JwksPublisher;

    let gateway = Svc::new(GATEWAY);
    let signer = ServiceSigner::builder(
        GATEWAY,
        ServiceKey::from_pem(gateway.raw.private_pem.as_bytes(), Algorithm::ES256).unwrap(),
    )
    .rotation_overlap(Duration::from_millis(400))
    .token_lifetime(Duration::from_secs(2))
    .minted_token_cache(0)
    .build()
    .unwrap();
    let jwks =
        serve_axum(Router::new().route_service("/jwks", JwksPublisher::new(signer.clone()))).await;
    let verifier = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(
            GATEWAY,
            KeySource::jwks(jwks.url("/jwks"))
                .allow_insecure_http()
                .refresh_cooldown(Duration::from_millis(100))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut refused = 0;
    let mut served = 0;
    let mut kids = std::collections::BTreeSet::new();
    let started = std::time::Instant::now();
    let mut rotations = 0;
    while started.elapsed() < Duration::from_secs(3) {
        if started.elapsed() > Duration::from_millis(500 + rotations * 900) && rotations < 2 {
            signer
                .rotate(ServiceKey::generate(Algorithm::ES256).unwrap())
                .unwrap();
            rotations += 1;
        }
        let token = signer.mint_as_service(ORDERS).unwrap();
        kids.insert(signer.signing_kid().unwrap());
        match verifier.verify(token.as_str()).await {
            Ok(_) => served += 1,
            Err(e) => {
                refused += 1;
                eprintln!("refused: {e:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(refused, 0, "{served} served");
    assert_eq!(kids.len(), 3, "three keys signed in turn");
    // The first key is still published until its tokens have expired, then it is gone.
    let published = signer.published_jwks()["keys"].as_array().unwrap().len();
    assert!((2..=3).contains(&published), "{published}");
    jwks.stop().await;
}

#[tokio::test]
async fn the_jwks_publisher_serves_the_ring() {
    let svc = Svc::new(GATEWAY);
    let publisher = meshward::mint::JwksPublisher::new(svc.signer.clone());
    let response = publisher
        .clone()
        .oneshot(Request::get("/jwks").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let doc: Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(doc["keys"][0]["kid"], svc.raw.kid.as_str());
    assert_eq!(doc["keys"][0]["use"], "sig");
    assert!(doc["keys"][0].get("d").is_none(), "never the private key");
    let next = ServiceKey::generate(Algorithm::EdDSA).unwrap();
    svc.signer.rotate(next.clone()).unwrap();
    let doc: Value = serde_json::from_str(&publisher.document()).unwrap();
    assert_eq!(
        doc["keys"].as_array().unwrap().len(),
        2,
        "published before it signs"
    );
    assert_eq!(
        svc.signer.signing_kid().unwrap(),
        svc.raw.kid,
        "not signing yet"
    );
    assert!(svc.signer.rotate(next).is_err(), "the same kid twice");
    let post = publisher
        .oneshot(Request::post("/jwks").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    let _ = Arc::new(());
}

/// A server on 127.0.0.1 over mutual TLS, for axum.
pub async fn serve_axum_mtls(
    acceptor: &meshward::mtls::MtlsAcceptor,
    app: axum::Router,
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = acceptor.incoming(listener);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        axum::serve(
            incoming,
            app.into_make_service_with_connect_info::<meshward::mtls::PeerInfo>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer::new(addr, tx, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_three_real_services_over_mtls() {
    use crate::support::grpc::{call, whoami_service};
    use crate::support::pki::{Ca, ClientSpec};
    use axum::extract::State;
    use axum::routing::get;
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use meshward::authz::RequirePeerLayer;
    use meshward::mint::MintLayer;
    use meshward::mtls::{MtlsAcceptor, MtlsClient, TlsIdentity};

    let mesh = Mesh::new();
    let ca = Ca::new("mesh CA");
    let svid = |id: &str| ca.workload(id);
    let acceptor = |id: &str| {
        let leaf = svid(id);
        MtlsAcceptor::builder(TlsIdentity::pem(leaf.cert_pem, leaf.key_pem))
            .add_client_ca_pem(ca.pem.clone())
            .build()
            .unwrap()
    };
    let client = |id: &str, server: &str| {
        let leaf = svid(id);
        MtlsClient::builder(TlsIdentity::pem(leaf.cert_pem, leaf.key_pem))
            .add_server_ca_pem(ca.pem.clone())
            .expect_server_spiffe_id(server)
            .build()
            .unwrap()
    };

    // inventory: tonic over mTLS; service tokens from orders (through the gateway) only,
    // each bound to the peer that presents it.
    let inventory_acceptor = acceptor(INVENTORY);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let inventory_addr = listener.local_addr().unwrap();
    let incoming = inventory_acceptor.incoming(listener);
    let verifier = mesh
        .verifier(INVENTORY)
        .bind_caller_to_peer()
        .build()
        .unwrap();
    let (stop_inventory, stopped) = tokio::sync::oneshot::channel::<()>();
    let inventory = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(RequirePeerLayer::default().trust_domain("mesh.test"))
            .layer(AuthLayer::new(verifier))
            .add_service(whoami_service())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });

    // orders: axum over mTLS; calls inventory with its own token.
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://localhost:{}",
        inventory_addr.port()
    ))
    .unwrap()
    .connect_with_connector(client(ORDERS, INVENTORY).connector())
    .await
    .unwrap();
    let to_inventory = ServiceBuilder::new()
        .layer(MintLayer::new(mesh.orders.signer.clone(), INVENTORY))
        .service(channel);
    async fn orders_handler(
        State(to_inventory): State<meshward::mint::Mint<tonic::transport::Channel>>,
        principal: Principal,
    ) -> Result<String, (http::StatusCode, String)> {
        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(principal);
        call(to_inventory, request).await.map_err(|status| {
            (
                http::StatusCode::BAD_GATEWAY,
                format!("{:?}: {}", status.code(), status.message()),
            )
        })
    }
    let orders_verifier = mesh.verifier(ORDERS).bind_caller_to_peer().build().unwrap();
    let orders_app = axum::Router::new()
        .route("/reserve", get(orders_handler))
        .with_state(to_inventory)
        .layer(AuthLayer::new(orders_verifier));
    let orders = serve_axum_mtls(&acceptor(ORDERS), orders_app).await;

    // gateway: plain HTTP for end users; calls orders over mTLS with a minted token.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(client(GATEWAY, ORDERS).connector());
    let to_orders = ServiceBuilder::new()
        .layer(MintLayer::new(mesh.gateway.signer.clone(), ORDERS))
        .service(http);
    let orders_url = format!("https://localhost:{}/reserve", orders.addr.port());
    let gateway_app = axum::Router::new()
        .route(
            "/order",
            get(move |principal: Principal| {
                let mut to_orders = to_orders.clone();
                let url = orders_url.clone();
                async move {
                    let mut request = http::Request::get(url).body(Empty::<Bytes>::new()).unwrap();
                    request.extensions_mut().insert(principal);
                    let response = tower::Service::call(
                        tower::ServiceExt::ready(&mut to_orders).await.unwrap(),
                        request,
                    )
                    .await
                    .unwrap();
                    let status = response.status();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    (status, String::from_utf8(body.to_vec()).unwrap())
                }
            }),
        )
        .layer(AuthLayer::new(mesh.users()));
    let gateway = serve_axum(gateway_app).await;

    let user = format!("Bearer {}", mesh.user_token("alice", "orders:read"));
    let seen = http_get(&gateway.url("/order"), &[("authorization", user.as_str())]).await;
    assert_eq!(seen.status, 200, "{}", seen.body_text());
    assert_eq!(
        seen.body_text(),
        format!("sub=alice peer={ORDERS} bound={ORDERS} chain={GATEWAY}>{ORDERS}")
    );
    let seen = http_get(&gateway.url("/order"), &[]).await;
    assert_eq!(seen.status, 401);

    // A token the gateway minted for orders, replayed from another workload: refused,
    // though its signature and audience are fine.
    let alice = mesh.user("alice", "orders:read").await;
    let stolen = mesh.gateway.signer.mint(&alice, ORDERS).unwrap();
    let thief = ca.client(ClientSpec::spiffe("spiffe://mesh.test/ns/evil/sa/thief"));
    let thief = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(thief.identity_pem().as_bytes()).unwrap())
        .resolve("orders.test", orders.addr)
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap();
    let refused = thief
        .get(format!(
            "https://orders.test:{}/reserve",
            orders.addr.port()
        ))
        .bearer_auth(stolen.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        r#"Bearer error="invalid_token", error_description="token issuer is not the peer""#
    );
    // The client side checks the server too: orders' client refuses a server that is not
    // inventory.
    let wrong =
        tonic::transport::Endpoint::from_shared(format!("http://localhost:{}", orders.addr.port()))
            .unwrap()
            .connect_with_connector(client(ORDERS, INVENTORY).connector())
            .await;
    assert!(
        wrong.is_err(),
        "orders' server certificate is not inventory's"
    );

    gateway.stop().await;
    orders.stop().await;
    let _ = stop_inventory.send(());
    let _ = inventory.await;
}

#[tokio::test]
async fn a_peers_keys_fetched_from_its_publisher_over_mtls() {
    use crate::support::pki::Ca;
    use meshward::mint::JwksPublisher;
    use meshward::mtls::{MtlsAcceptor, MtlsClient, TlsIdentity};

    let mesh = Mesh::new();
    let ca = Ca::new("mesh CA");
    let gateway_svid = ca.workload(GATEWAY);
    let acceptor = MtlsAcceptor::builder(TlsIdentity::pem(
        gateway_svid.cert_pem,
        gateway_svid.key_pem,
    ))
    .add_client_ca_pem(ca.pem.clone())
    .build()
    .unwrap();
    let publisher = serve_axum_mtls(
        &acceptor,
        axum::Router::new().route_service("/jwks", JwksPublisher::new(mesh.gateway.signer.clone())),
    )
    .await;
    // orders fetches the gateway's keys with its own certificate, checking the gateway's.
    let orders_svid = ca.workload(ORDERS);
    let tls = MtlsClient::builder(TlsIdentity::pem(orders_svid.cert_pem, orders_svid.key_pem))
        .add_server_ca_pem(ca.pem.clone())
        .expect_server_spiffe_id(GATEWAY)
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls((*tls.client_config()).clone())
        .build()
        .unwrap();
    let keys = KeySource::jwks(format!("https://localhost:{}/jwks", publisher.addr.port()))
        .client(http)
        .build()
        .unwrap();
    let verifier = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(GATEWAY, keys.clone())
        .user_tokens(mesh.users())
        .build()
        .unwrap();
    let alice = mesh.user("alice", "read").await;
    let hop = mesh.gateway.signer.mint(&alice, ORDERS).unwrap();
    let p = verifier.verify(hop.as_str()).await.unwrap();
    assert_eq!(p.caller(), Some(GATEWAY));
    assert_eq!(keys.stats().unwrap().fetches, 1);
    publisher.stop().await;
}

#[tokio::test]
async fn every_level_s_keys_are_fetched_when_none_are_at_hand() {
    use meshward::mint::JwksPublisher;

    let mesh = Mesh::new();
    let warehouse = Svc::new(WAREHOUSE);
    let chain = mesh.chain("alice", "read").await;
    // Each service publishes its keys, and the identity provider its own, over HTTP on
    // loopback; nothing is fetched before the first token arrives.
    let idp_jwks = json!({"keys": [mesh.idp.jwk_json()]}).to_string();
    let app = axum::Router::new()
        .route_service("/gateway", JwksPublisher::new(mesh.gateway.signer.clone()))
        .route_service("/orders", JwksPublisher::new(mesh.orders.signer.clone()))
        .route_service(
            "/inventory",
            JwksPublisher::new(mesh.inventory.signer.clone()),
        )
        .route(
            "/idp",
            axum::routing::get(move || {
                let body = idp_jwks.clone();
                async move { body }
            }),
        );
    let server = serve_axum(app).await;
    let remote = |path: &str| {
        KeySource::jwks(server.url(path))
            .allow_insecure_http()
            .build()
            .unwrap()
    };
    let verifier = |max_depth: usize| {
        let users = Validator::builder(ISSUER, [EDGE_API])
            .key_source(remote("/idp"))
            .build()
            .unwrap();
        ServiceTokenVerifier::builder(WAREHOUSE)
            .trust_service(GATEWAY, remote("/gateway"))
            .trust_service(ORDERS, remote("/orders"))
            .trust_service(INVENTORY, remote("/inventory"))
            .trust_service(WAREHOUSE, warehouse.keys())
            .user_tokens(users)
            .max_depth(max_depth)
            .build()
            .unwrap()
    };
    // Three hops and the user's token: four key sets fetched, level by level.
    let p = verifier(3).verify(&chain[2]).await.unwrap();
    assert_eq!(p.subject(), Some("alice"));
    assert_eq!(p.caller(), Some(INVENTORY));
    // The deepest chain the verifier accepts still gets every round of fetching it needs.
    let hop = mesh
        .gateway
        .signer
        .mint(&mesh.user("bob", "read").await, WAREHOUSE)
        .unwrap();
    let p = verifier(1).verify(hop.as_str()).await.unwrap();
    assert_eq!(p.subject(), Some("bob"));
    assert_eq!(p.caller(), Some(GATEWAY));
    server.stop().await;
}

#[tokio::test]
async fn a_cached_chain_is_refused_once_a_key_it_was_verified_with_is_withdrawn() {
    let mesh = Mesh::new();
    let published = Arc::new(std::sync::Mutex::new(
        mesh.gateway.signer.published_jwks().to_string(),
    ));
    let jwks = Arc::clone(&published);
    let app = axum::Router::new().route(
        "/gateway",
        axum::routing::get(move || {
            let body = jwks.lock().unwrap().clone();
            async move { body }
        }),
    );
    let server = serve_axum(app).await;
    let keys = KeySource::jwks(server.url("/gateway"))
        .allow_insecure_http()
        .refresh_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .refresh_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let verifier = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(GATEWAY, keys)
        .user_tokens(mesh.users())
        .build()
        .unwrap();
    let alice = mesh.user("alice", "read").await;
    let hop = mesh.gateway.signer.mint(&alice, ORDERS).unwrap();
    assert_eq!(answer(&verifier, hop.as_str()).await.0, 200);
    assert_eq!(answer(&verifier, hop.as_str()).await.0, 200, "cached");
    // The gateway's key is withdrawn (compromised): its set now holds another key only,
    // under the same kid.
    let replacement = Svc::new(GATEWAY);
    *published.lock().unwrap() = replacement.signer.published_jwks().to_string();
    // Once the verifier has the new set, the token is refused, although its chain was cached.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, _, reason) = answer(&verifier, hop.as_str()).await;
        if status == 401 {
            assert_eq!(reason, "invalid_signature");
            break;
        }
        assert_eq!(status, 200);
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted 10 s after its key was withdrawn"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_cached_chain_is_refused_once_its_earliest_level_expires() {
    let mesh = Mesh::new();
    let short = mesh
        .gateway
        .signer_builder()
        .token_lifetime(Duration::from_secs(1))
        .build()
        .unwrap();
    let verifier = mesh
        .verifier(ORDERS)
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let alice = mesh.user("alice", "read").await;
    let hop = short.mint(&alice, ORDERS).unwrap();
    assert_eq!(answer(&verifier, hop.as_str()).await.0, 200);
    assert_eq!(
        verifier.verify(hop.as_str()).await.unwrap().caller(),
        Some(GATEWAY)
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _, _, reason) = answer(&verifier, hop.as_str()).await;
    assert_eq!((status, reason.as_str()), (401, "expired"));
    assert!(matches!(
        kind(verifier.verify(hop.as_str()).await),
        TokenErrorKind::Expired { .. }
    ));
}

#[tokio::test]
async fn builders_refuse_senseless_limits_and_name_their_service() {
    use meshward::mint::{MAX_TOKEN_LIFETIME, MintConfigErrorKind, MintLayer};

    let mesh = Mesh::new();
    assert_eq!(mesh.gateway.signer.identity(), GATEWAY);
    for (builder, what) in [
        (mesh.verifier(ORDERS).max_depth(0), "max_depth"),
        (mesh.verifier(ORDERS).max_token_len(0), "max_token_len"),
    ] {
        let error = builder.build().unwrap_err();
        assert!(
            matches!(error.kind(), MintConfigErrorKind::InvalidLimit { .. }),
            "{what}: {error}"
        );
    }
    // A lifetime of exactly the maximum (10 minutes) is accepted, a second more is not.
    let key =
        || ServiceKey::from_pem(mesh.gateway.raw.private_pem.as_bytes(), Algorithm::ES256).unwrap();
    assert_eq!(MAX_TOKEN_LIFETIME, Duration::from_secs(600));
    // The documented default overlap: a rotated-in key signs 10 minutes after it is
    // published (no test waits that long; rotate_at is tested with its instant).
    assert_eq!(
        meshward::mint::DEFAULT_ROTATION_OVERLAP,
        Duration::from_secs(600)
    );
    assert!(
        ServiceSigner::builder(GATEWAY, key())
            .token_lifetime(MAX_TOKEN_LIFETIME)
            .build()
            .is_ok()
    );
    assert!(
        ServiceSigner::builder(GATEWAY, key())
            .token_lifetime(MAX_TOKEN_LIFETIME + Duration::from_secs(1))
            .build()
            .is_err()
    );
    let builds = |b: meshward::mint::ServiceSignerBuilder| b.build().is_ok();
    let signer = || ServiceSigner::builder(GATEWAY, key());
    assert!(builds(signer().token_lifetime(Duration::from_secs(1))));
    assert!(!builds(signer().token_lifetime(Duration::ZERO)));
    assert!(!builds(signer().token_lifetime(Duration::from_millis(999))));
    let day = Duration::from_secs(24 * 60 * 60);
    assert!(builds(signer().rotation_overlap(day)));
    assert!(!builds(
        signer().rotation_overlap(day + Duration::from_secs(1))
    ));
    assert!(builds(signer().jwks_max_age(day)));
    assert!(!builds(signer().jwks_max_age(day + Duration::from_secs(1))));
    // A request without a principal: refused by default, minted as the service itself when
    // the layer is told so.
    let outbound = |layer: MintLayer| {
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|request: Request<()>| async move {
                let auth = request
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                Ok::<_, Infallible>(Response::new(auth))
            })
    };
    let plain = outbound(MintLayer::new(mesh.gateway.signer.clone(), ORDERS));
    assert!(
        plain
            .oneshot(Request::get("/").body(()).unwrap())
            .await
            .is_err(),
        "no principal, no token"
    );
    let itself = outbound(
        MintLayer::new(mesh.gateway.signer.clone(), ORDERS).as_service_without_principal(),
    );
    let auth = itself
        .oneshot(Request::get("/").body(()).unwrap())
        .await
        .unwrap()
        .into_body()
        .unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    let p = mesh
        .verifier(ORDERS)
        .build()
        .unwrap()
        .verify(token)
        .await
        .unwrap();
    assert_eq!((p.subject(), p.caller()), (Some(GATEWAY), Some(GATEWAY)));
}

#[tokio::test]
async fn a_chain_is_remembered_only_once_valid_and_only_when_the_cache_is_on() {
    use meshward::jwt::Verifier as _;

    let mesh = Mesh::new();
    let at_gateway = |token: String| {
        let users = mesh.users();
        async move { users.validate(&token).await.unwrap() }
    };
    // The user's token came into force 5 s ago (`nbf`): the whole chain is valid now, and
    // the verifier remembers it.
    let alice = at_gateway(mesh.user_token("alice", "read")).await;
    let hop = mesh.gateway.signer.mint(&alice, ORDERS).unwrap();
    let verifier = mesh.verifier(ORDERS).build().unwrap();
    assert!(verifier.cached(hop.as_str().as_bytes()).is_none());
    verifier.verify(hop.as_str()).await.unwrap();
    let remembered = verifier.cached(hop.as_str().as_bytes()).unwrap();
    assert_eq!(remembered.caller(), Some(GATEWAY));
    assert_eq!(remembered.subject(), Some("alice"));
    assert!(verifier.cached(b"another token").is_none());

    // A level in force only within the leeway (nbf 10 s ahead) is accepted, but not
    // remembered: the next request is checked in full until it is in force.
    let mut early = claims("bob", "read");
    early["aud"] = json!(EDGE_API);
    early["nbf"] = json!(now() + 10);
    let bob = at_gateway(mesh.idp.sign(&early)).await;
    let hop_early = mesh.gateway.signer.mint(&bob, ORDERS).unwrap();
    assert_eq!(
        verifier.verify(hop_early.as_str()).await.unwrap().subject(),
        Some("bob")
    );
    assert!(verifier.cached(hop_early.as_str().as_bytes()).is_none());

    // No chain cache at capacity 0, nor with a replay guard (each token is good once).
    for (verifier, what) in [
        (
            mesh.verifier(ORDERS)
                .token_cache_capacity(0)
                .build()
                .unwrap(),
            "capacity 0",
        ),
        (
            mesh.verifier(ORDERS)
                .replay_guard(InMemoryReplayGuard::default())
                .build()
                .unwrap(),
            "replay guard",
        ),
    ] {
        verifier.verify(hop.as_str()).await.unwrap();
        assert!(verifier.cached(hop.as_str().as_bytes()).is_none(), "{what}");
    }
    // Capacity 1 is a cache.
    let one = mesh
        .verifier(ORDERS)
        .token_cache_capacity(1)
        .build()
        .unwrap();
    one.verify(hop.as_str()).await.unwrap();
    assert!(one.cached(hop.as_str().as_bytes()).is_some());
}
