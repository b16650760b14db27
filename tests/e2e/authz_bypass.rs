//! What an outside attack run found against the rule table and the policies, each through a
//! real server on 127.0.0.1: empty path segments (as axum and tonic route them, with the
//! trailing-slash cases), a policy that could see the bearer token, a misspelt method, a
//! router's pattern syntax; and the policy input document, whole, for a direct and a
//! forwarded peer, through Rego and through the OPA stand-in.

use axum::Router;
use axum::extract::Path;
use axum::routing::{any, get};
use jsonwebtoken::Algorithm;
use meshward::authz::{AuthzLayer, RuleTable};
use meshward::jwt::{AuthLayer, TokenLocation};
use serde_json::{Value, json};
use tonic::Code;

use crate::authz::{channel, guarded_grpc, label_refusals, validator};
use crate::support::grpc::{WHOAMI, call_unary};
use crate::support::pki::{Ca, ClientSpec};
use crate::support::*;

/// `GET /users/*` for any authenticated caller; `/users/{id}/keys` is left to the default,
/// which denies.
const USERS: &str = r#"
[[rule]]
name = "users"
methods = ["GET"]
path = "/users/*"
require = { authenticated = true }
"#;

fn users_routes() -> Router {
    Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<String>| async move { format!("user {id:?}") }),
        )
        .route(
            "/users/{id}/keys",
            get(|Path(id): Path<String>| async move { format!("keys of {id:?}") }),
        )
}

async fn guarded(key: &SigningKey, routes: Router, rules: RuleTable) -> TestServer {
    let app = routes
        .layer(AuthzLayer::new(rules))
        .layer(AuthLayer::new(validator(key)).allow_anonymous());
    serve_axum(label_refusals(app)).await
}

/// (path, send a token, status, refusal label, body when it is not a refusal)
type Case = (&'static str, bool, u16, Option<&'static str>, &'static str);

async fn check(server: &TestServer, token: &str, cases: &[Case]) {
    let bearer = format!("Bearer {token}");
    for &(path, with_token, status, refusal, body) in cases {
        let headers: Vec<(&str, &str)> = if with_token {
            vec![("authorization", bearer.as_str())]
        } else {
            Vec::new()
        };
        let seen = http_send("GET", &server.url(path), &headers).await;
        assert_eq!(
            (seen.status, seen.header("x-refusal")),
            (status, refusal),
            "GET {path}"
        );
        if refusal.is_none() {
            assert_eq!(seen.body_text(), body, "GET {path}");
        }
    }
}

#[tokio::test]
async fn an_empty_segment_never_reaches_the_handler_the_table_did_not_match() {
    let key = SigningKey::generate(Algorithm::ES256, "bypass");
    let token = key.sign(&claims("alice", "read"));

    // Why: axum routes `/users//keys` to `/users/{id}/keys` with an empty id.
    let bare = serve_axum(users_routes()).await;
    check(
        &bare,
        &token,
        &[
            ("/users//keys", false, 200, None, "keys of \"\""),
            ("/users/alice/keys", false, 200, None, "keys of \"alice\""),
            ("/users/alice/", false, 404, None, ""),
        ],
    )
    .await;

    let server = guarded(&key, users_routes(), RuleTable::from_toml(USERS).unwrap()).await;
    check(
        &server,
        &token,
        &[
            ("/users/alice", true, 200, None, "user \"alice\""),
            ("/users/alice/keys", true, 403, Some("no_rule"), ""),
            ("/users//keys", true, 403, Some("path_not_accepted"), ""),
            ("/users//keys", false, 403, Some("path_not_accepted"), ""),
            ("//users/alice", true, 403, Some("path_not_accepted"), ""),
            ("/users/alice//", true, 403, Some("path_not_accepted"), ""),
            ("/users//", true, 403, Some("path_not_accepted"), ""),
            (
                "/users/alice%2F/keys",
                true,
                403,
                Some("path_not_accepted"),
                "",
            ),
            // One trailing slash is ignored by the table (`/users/alice`, allowed), and axum
            // has no route for it.
            ("/users/alice/", true, 404, None, ""),
            ("/users/alice/keys/", true, 403, Some("no_rule"), ""),
            ("/users/", true, 403, Some("no_rule"), ""),
        ],
    )
    .await;

    // With strict trailing slashes, `/users/alice/` is a path of its own, which no rule
    // names.
    let strict = format!("trailing_slash = \"strict\"\n{USERS}");
    let server = guarded(&key, users_routes(), RuleTable::from_toml(&strict).unwrap()).await;
    check(
        &server,
        &token,
        &[
            ("/users/alice", true, 200, None, "user \"alice\""),
            ("/users/alice/", true, 403, Some("no_rule"), ""),
            ("/users//keys", true, 403, Some("path_not_accepted"), ""),
        ],
    )
    .await;

    // A table that allows by default: anonymous `/items//edit` would have reached the
    // handler that `/items/*/edit` guards.
    let items = || {
        Router::new().route(
            "/items/{id}/edit",
            get(|Path(id): Path<String>| async move { format!("edit {id:?}") }),
        )
    };
    let bare = serve_axum(items()).await;
    check(
        &bare,
        &token,
        &[("/items//edit", false, 200, None, "edit \"\"")],
    )
    .await;
    let rules = RuleTable::from_toml(
        r#"
        default = "allow"
        [[rule]]
        name = "edit"
        path = "/items/*/edit"
        require = { scopes_all = ["items:edit"] }
        "#,
    )
    .unwrap();
    let server = guarded(&key, items(), rules).await;
    check(
        &server,
        &token,
        &[
            ("/items//edit", false, 403, Some("path_not_accepted"), ""),
            ("/items/7/edit", false, 401, Some("unauthenticated"), ""),
            ("/items/7/edit", true, 403, Some("insufficient_scope"), ""),
            // Allowed by default, and no route.
            ("/items/7", false, 404, None, ""),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_empty_segment_in_a_grpc_path_is_refused_before_tonic_routes_it() {
    let key = SigningKey::generate(Algorithm::ES256, "bypass-grpc");
    let rules = RuleTable::from_toml(&format!(
        "[[rule]]\nname = \"whoami\"\npath = \"{WHOAMI}\"\nrequire = {{ authenticated = true }}\n"
    ))
    .unwrap();
    let server = guarded_grpc(&key, rules).await;
    let token = key.sign(&claims("alice", "read"));
    let call = |path: &'static str| {
        let token = token.clone();
        let server = &server;
        async move {
            let mut request = tonic::Request::new(());
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            call_unary(channel(server).await, path, request).await
        }
    };
    assert_eq!(call(WHOAMI).await.unwrap(), "sub=alice peer=- bound=-");
    for path in [
        "/meshward.test.WhoAmI//Get",
        "//meshward.test.WhoAmI/Get",
        "/meshward.test.WhoAmI/Get//",
    ] {
        let status = call(path).await.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::PermissionDenied, "forbidden"),
            "{path}"
        );
    }
    // One trailing slash is ignored by the table; tonic routes by service name, and this
    // hand-written service answers any method of its own.
    assert_eq!(
        call("/meshward.test.WhoAmI/Get/").await.unwrap(),
        "sub=alice peer=- bound=-"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_misspelt_method_or_a_routers_pattern_is_refused_when_the_table_is_built() {
    let built = |text: &str| {
        RuleTable::from_toml(text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let misspelt = r#"
[[rule]]
name = "delete orders"
methods = ["DELET"]
path = "/orders/**"
require = { scopes_all = ["orders:admin"] }

[[rule]]
name = "everything else"
path = "/**"
require = { authenticated = true }
"#;
    assert_eq!(
        built(misspelt),
        Err(
            "line 2: rule 1 (\"delete orders\"): \"DELET\" is not a standard method \
             (a misspelling?); name an extension method in extension_methods"
                .to_owned()
        )
    );
    assert_eq!(
        built("[[rule]]\nname = \"edit\"\npath = \"/items/{id}/edit\"\nallow = \"anyone\"\n"),
        Err(
            "line 1: rule 1 (\"edit\"): {name} is a router's syntax: write * for one segment"
                .to_owned()
        )
    );
    assert_eq!(
        built("[[rule]]\nname = \"rest\"\npath = \"/files/{*rest}\"\nallow = \"anyone\"\n"),
        Err(
            "line 1: rule 1 (\"rest\"): {*name} is a router's syntax: write ** for any \
             number of segments"
                .to_owned()
        )
    );
    assert_eq!(
        built("[[rule]]\nname = \"colon\"\npath = \"/items/:id\"\nallow = \"anyone\"\n"),
        Err(
            "line 1: rule 1 (\"colon\"): :name is a router's syntax: write * for one segment"
                .to_owned()
        )
    );

    // Spelt right, the same table refuses the delete; an extension method is named as one.
    let key = SigningKey::generate(Algorithm::ES256, "methods");
    let rules = RuleTable::from_toml(
        r#"
[[rule]]
name = "delete orders"
methods = ["DELETE"]
path = "/orders/**"
require = { scopes_all = ["orders:admin"] }

[[rule]]
name = "purge"
extension_methods = ["PURGE"]
path = "/cache/**"
require = { scopes_all = ["cache:purge"] }

[[rule]]
name = "everything else"
path = "/**"
require = { authenticated = true }
"#,
    )
    .unwrap();
    let routes = Router::new()
        .route("/orders/{id}", any(|| async { "orders" }))
        .route("/cache/{*rest}", any(|| async { "cache" }));
    let server = guarded(&key, routes, rules).await;
    let reader = format!("Bearer {}", key.sign(&claims("alice", "orders:read")));
    let purger = format!("Bearer {}", key.sign(&claims("ops", "cache:purge")));
    for (method, path, auth, status, refusal) in [
        (
            "DELETE",
            "/orders/7",
            &reader,
            403,
            Some("insufficient_scope"),
        ),
        ("GET", "/orders/7", &reader, 200, None),
        (
            "PURGE",
            "/cache/x",
            &reader,
            403,
            Some("insufficient_scope"),
        ),
        ("PURGE", "/cache/x", &purger, 200, None),
        // The purge rule names PURGE only: GET falls to the rule below.
        ("GET", "/cache/x", &reader, 200, None),
    ] {
        let seen = http_send(method, &server.url(path), &[("authorization", auth)]).await;
        assert_eq!(
            (seen.status, seen.header("x-refusal")),
            (status, refusal),
            "{method} {path}"
        );
    }
}

#[cfg(all(feature = "rego", feature = "opa"))]
#[tokio::test]
async fn no_policy_input_ever_holds_a_credential() {
    use meshward::authz::{OpaPolicy, RegoPolicy};

    const POLICY: &str = r#"
        package t
        import rego.v1
        default allow := false
        allow if {
            input.request.headers["x-tenant"] == "acme"
            not input.request.headers["x-access-token"]
        }
    "#;
    let rego = |headers: &[&str]| {
        RegoPolicy::builder("data.t.allow")
            .add_policy("t.rego", POLICY)
            .input_headers(headers.iter().copied())
            .build()
            .map_err(|e| e.to_string())
    };
    let opa = |headers: &[&str]| {
        OpaPolicy::builder("http://127.0.0.1:9", "t/allow")
            .allow_insecure_http()
            .input_headers(headers.iter().copied())
            .build()
            .map_err(|e| e.to_string())
    };
    for name in [
        "authorization",
        "Authorization",
        "AUTHORIZATION",
        "proxy-authorization",
        "Cookie",
    ] {
        let want = format!("{name:?} carries credentials: a policy's input never holds it");
        assert!(
            rego(&["x-tenant", name]).unwrap_err().ends_with(&want),
            "rego {name}"
        );
        assert!(opa(&[name]).unwrap_err().ends_with(&want), "opa {name}");
    }

    // The token read from a header of the layer's own: a policy configured to see that
    // header still never does, in process or at OPA.
    let key = SigningKey::generate(Algorithm::ES256, "no-credentials");
    let token = key.sign(&claims("alice", "read"));
    let stand_in = crate::authz::policies::stand_in().await;
    let location = || TokenLocation::header("x-access-token").unwrap();
    let serve = |policy: meshward::authz::BoxRequirement| async {
        let app = Router::new()
            .route("/orders/{id}", get(|| async { "orders" }))
            .layer(AuthzLayer::new(policy))
            .layer(AuthLayer::new(validator(&key)).token_location(location()));
        serve_axum(label_refusals(app)).await
    };
    let in_process = serve(rego(&["X-Access-Token", "x-tenant"]).unwrap().into()).await;
    let remote = serve(
        OpaPolicy::builder(
            format!("http://{}", stand_in.server.addr),
            "shop/authz/allow",
        )
        .allow_insecure_http()
        .input_headers(["X-Access-Token", "x-tenant"])
        .build()
        .unwrap()
        .into(),
    )
    .await;
    let headers = [("x-access-token", token.as_str()), ("x-tenant", "acme")];
    let seen = http_get(&in_process.url("/orders/7"), &headers).await;
    assert_eq!((seen.status, seen.body_text().as_str()), (200, "orders"));
    http_get(&remote.url("/orders/7"), &headers).await;
    let inputs = stand_in.inputs.lock().unwrap().clone();
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0]["request"]["headers"], json!({"x-tenant": "acme"}));
    assert!(!inputs[0].to_string().contains(&token), "{}", inputs[0]);
}

/// The whole input document a policy sees for a peer that connected over mutual TLS and for
/// one a trusted proxy reported: the same through Rego (which allows only the exact
/// document) and at the OPA stand-in (which records what it was sent).
#[cfg(all(feature = "rego", feature = "opa"))]
#[tokio::test]
async fn the_input_document_is_whole_for_a_direct_and_a_forwarded_peer() {
    use meshward::authz::{OpaPolicy, RegoPolicy};
    use meshward::mtls::{MtlsAcceptor, TlsIdentity, XfccLayer};

    const CLIENT: &str = "spiffe://prod.test/ns/shop/sa/billing";
    let key = SigningKey::generate(Algorithm::ES256, "input");
    let user_claims = claims("alice", "orders:read");
    let token = key.sign(&user_claims);
    let document = |forwarded: bool| {
        json!({
            "request": {"method": "GET", "path": "/orders/7", "grpc": null, "headers": {}},
            "principal": {
                "subject": "alice", "issuer": ISSUER, "scopes": ["orders:read"],
                "claims": user_claims,
            },
            "caller": null,
            "chain": [],
            "peer": {
                "spiffe_id": CLIENT, "trust_domain": "prod.test", "dns_names": [],
                "subject": "CN=client", "forwarded": forwarded,
            },
        })
    };
    let exactly = |expected: Value| -> meshward::authz::BoxRequirement {
        RegoPolicy::builder("data.t.allow")
            .add_policy(
                "t.rego",
                "package t\nimport rego.v1\ndefault allow := false\nallow if input == data.expected\n",
            )
            .add_data_json("expected", json!({"expected": expected}).to_string())
            .build()
            .unwrap()
            .into()
    };
    let stand_in = crate::authz::policies::stand_in().await;
    let opa = || -> meshward::authz::BoxRequirement {
        OpaPolicy::builder(
            format!("http://{}", stand_in.server.addr),
            "shop/authz/allow",
        )
        .allow_insecure_http()
        .decision_cache(0, std::time::Duration::from_secs(1))
        .build()
        .unwrap()
        .into()
    };
    let app = |policy: meshward::authz::BoxRequirement| {
        label_refusals(
            Router::new()
                .route("/orders/{id}", get(|| async { "orders" }))
                .layer(AuthzLayer::new(policy))
                .layer(AuthLayer::new(validator(&key))),
        )
    };
    let bearer = format!("Bearer {token}");

    // Forwarded: a proxy on 127.0.0.1, trusted, reports the client certificate.
    let xfcc = format!(
        "By=spiffe://prod.test/ns/edge/sa/proxy;Hash={};Subject=\"CN=client\";URI={CLIENT}",
        "ab".repeat(32)
    );
    let trusting =
        |policy| app(policy).layer(XfccLayer::new().trust_proxy_addr("127.0.0.1".parse().unwrap()));
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-forwarded-client-cert", xfcc.as_str()),
    ];
    let rego_server = serve_axum_with_addr(trusting(exactly(document(true)))).await;
    let seen = http_get(&rego_server.url("/orders/7"), &headers).await;
    assert_eq!(
        (seen.status, seen.header("x-refusal")),
        (200, None),
        "rego, forwarded"
    );
    let wrong = serve_axum_with_addr(trusting(exactly(document(false)))).await;
    let seen = http_get(&wrong.url("/orders/7"), &headers).await;
    assert_eq!(
        (seen.status, seen.header("x-refusal")),
        (403, Some("policy_denied")),
        "the policy tells a forwarded peer from a direct one"
    );
    let opa_server = serve_axum_with_addr(trusting(opa())).await;
    http_get(&opa_server.url("/orders/7"), &headers).await;
    assert_eq!(stand_in.inputs.lock().unwrap().pop(), Some(document(true)));

    // Direct: the client certificate on the connection.
    let ca = Ca::new("input CA");
    let leaf = ca.server("input");
    let acceptor = MtlsAcceptor::builder(TlsIdentity::pem(leaf.cert_pem, leaf.key_pem))
        .add_client_ca_pem(ca.pem.clone())
        .build()
        .unwrap();
    let client_leaf = ca.client(ClientSpec::spiffe(CLIENT));
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(client_leaf.identity_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    for (policy, name) in [(exactly(document(false)), "rego"), (opa(), "opa")] {
        let server = crate::mint::serve_axum_mtls(&acceptor, app(policy)).await;
        let seen = client
            .get(format!("https://localhost:{}/orders/7", server.addr.port()))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        if name == "rego" {
            assert_eq!(seen.status(), 200, "rego, direct");
        }
    }
    assert_eq!(stand_in.inputs.lock().unwrap().pop(), Some(document(false)));
}
