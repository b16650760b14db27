//! The `protected_server` example's environment variables and routes are a public
//! interface: run the built example with them and check what a client sees.

use std::process::Stdio;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::pki::{Ca, ClientSpec, TempDir};
use crate::support::*;

pub fn example_binary() -> std::path::PathBuf {
    built_example("protected_server")
}

/// The built example `name`: target/<profile>/deps/e2e-… → target/<profile>/examples/name.
pub fn built_example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} not built (cargo test builds examples)",
        binary.display()
    );
    binary
}

pub async fn start(envs: &[(&str, String)]) -> (tokio::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let binary = example_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo test builds examples)",
        binary.display()
    );
    let mut cmd = tokio::process::Command::new(binary);
    cmd.env_clear()
        .env("MESHWARD_LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("listening on") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "protected_server did not start");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, port)
}

#[tokio::test]
async fn configuration_errors_exit_with_status_2() {
    let binary = example_binary();
    let out = tokio::process::Command::new(&binary)
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MESHWARD_ISSUER is required"));
    let out = tokio::process::Command::new(&binary)
        .env_clear()
        .env("MESHWARD_ISSUER", ISSUER)
        .env("MESHWARD_AUDIENCE", AUDIENCE)
        .env("MESHWARD_JWKS_FILE", "/nonexistent/jwks.json")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MESHWARD_JWKS_FILE"));
}

#[tokio::test]
async fn routes_over_mtls_with_a_jwks_file() {
    let key = SigningKey::generate(Algorithm::ES256, "k1");
    let ca = Ca::new("ca");
    let server = ca.server("server");
    let leaf = ca.client(ClientSpec::spiffe("spiffe://prod.test/ns/app"));
    let dir = TempDir::new("protected");
    let envs = [
        ("MESHWARD_ISSUER", ISSUER.to_owned()),
        ("MESHWARD_AUDIENCE", format!("other, {AUDIENCE}")),
        (
            "MESHWARD_JWKS_FILE",
            dir.write("jwks.json", &jwks(&[key.jwk_json()]))
                .display()
                .to_string(),
        ),
        (
            "MESHWARD_TLS_CERT",
            dir.write("server.pem", &server.cert_pem)
                .display()
                .to_string(),
        ),
        (
            "MESHWARD_TLS_KEY",
            dir.write("server.key", &server.key_pem)
                .display()
                .to_string(),
        ),
        (
            "MESHWARD_CLIENT_CA",
            dir.write("ca.pem", &ca.pem).display().to_string(),
        ),
    ];
    let (child, port) = start(&envs).await;
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(leaf.identity_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let get = |path: &str, token: Option<String>| {
        let mut req = client.get(format!("https://127.0.0.1:{port}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (
                status,
                serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap_or(Value::Null),
            )
        }
    };
    let peer = json!({
        "spiffe_id": "spiffe://prod.test/ns/app", "dns": [], "uris": [],
        "subject": "CN=client", "x5t#S256": leaf.thumbprint(),
    });
    assert_eq!(get("/healthz", None).await.0, 200);
    assert_eq!(get("/peer", None).await, (200, peer.clone()));
    assert_eq!(get("/whoami", None).await.0, 401);
    let (status, body) = get("/whoami", Some(key.sign(&claims("alice", "read")))).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"sub": "alice", "iss": ISSUER, "scopes": ["read"], "peer": peer})
    );
    assert_eq!(
        get("/admin", Some(key.sign(&claims("alice", "read"))))
            .await
            .0,
        403
    );
    assert_eq!(
        get("/admin", Some(key.sign(&claims("root", "admin"))))
            .await
            .0,
        200
    );
    drop(child);
}

/// The environment of a `protected_server` named `me` that admits end users' tokens signed
/// by `idp` and service tokens from `caller`, whose keys `caller_jwks` publishes.
fn service_token_env(
    dir: &TempDir,
    idp: &SigningKey,
    me: &str,
    caller: &str,
    caller_jwks: &TestServer,
) -> [(&'static str, String); 6] {
    [
        ("MESHWARD_ISSUER", ISSUER.to_owned()),
        ("MESHWARD_AUDIENCE", AUDIENCE.to_owned()),
        (
            "MESHWARD_JWKS_FILE",
            dir.write("jwks.json", &jwks(&[idp.jwk_json()]))
                .display()
                .to_string(),
        ),
        ("MESHWARD_SERVICE_ID", me.to_owned()),
        (
            "MESHWARD_TRUSTED_SERVICES",
            format!("{caller}={}", caller_jwks.url("/jwks")),
        ),
        ("MESHWARD_ALLOW_HTTP", "1".to_owned()),
    ]
}

#[tokio::test]
async fn service_tokens_from_trusted_services() {
    use meshward::mint::{JwksPublisher, ServiceSigner, SigningKey as ServiceKey};

    const ME: &str = "spiffe://prod.test/ns/shop/sa/orders";
    const GATEWAY: &str = "spiffe://prod.test/ns/edge/sa/gateway";
    let idp = SigningKey::generate(Algorithm::ES256, "k1");
    let gateway = ServiceSigner::builder(GATEWAY, ServiceKey::generate(Algorithm::ES256).unwrap())
        .build()
        .unwrap();
    let jwks_server =
        serve_axum(axum::Router::new().route_service("/jwks", JwksPublisher::new(gateway.clone())))
            .await;
    let dir = TempDir::new("protected-services");
    let envs = service_token_env(&dir, &idp, ME, GATEWAY, &jwks_server);
    let (_child, port) = start(&envs).await;
    let url = format!("http://127.0.0.1:{port}/whoami");

    // An end user's token directly: as before, no caller.
    let user = idp.sign(&claims("alice", "read"));
    let seen = http_get(
        &url,
        &[("authorization", format!("Bearer {user}").as_str())],
    )
    .await;
    assert_eq!(seen.status, 200);
    assert_eq!(
        seen.json(),
        json!({"sub": "alice", "iss": ISSUER, "scopes": ["read"]})
    );

    // Through the gateway: the caller and the chain.
    let alice = meshward::jwt::Validator::builder(ISSUER, [AUDIENCE])
        .add_key(meshward::jwt::VerifyingKey::from_jwk_json(&idp.jwk_json().to_string()).unwrap())
        .build()
        .unwrap()
        .validate(&user)
        .await
        .unwrap();
    let hop = gateway.mint(&alice, ME).unwrap();
    let seen = http_get(
        &url,
        &[("authorization", format!("Bearer {}", hop.as_str()).as_str())],
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.body_text());
    assert_eq!(
        seen.json(),
        json!({"sub": "alice", "iss": ISSUER, "scopes": ["read"], "caller": GATEWAY, "chain": [GATEWAY]})
    );
    // A hop addressed to another service is refused.
    let elsewhere = gateway.mint(&alice, "spiffe://prod.test/ns/x").unwrap();
    let seen = http_get(
        &url,
        &[(
            "authorization",
            format!("Bearer {}", elsewhere.as_str()).as_str(),
        )],
    )
    .await;
    assert_eq!(seen.status, 401);

    // Half the configuration is an error, exit 2.
    let out = tokio::process::Command::new(example_binary())
        .env_clear()
        .env("MESHWARD_ISSUER", ISSUER)
        .env("MESHWARD_AUDIENCE", AUDIENCE)
        .env("MESHWARD_SERVICE_ID", ME)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MESHWARD_TRUSTED_SERVICES"));
    let out = tokio::process::Command::new(example_binary())
        .env_clear()
        .env("MESHWARD_ISSUER", ISSUER)
        .env("MESHWARD_AUDIENCE", AUDIENCE)
        .env("MESHWARD_REPLAY_GUARD", "1")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs MESHWARD_SERVICE_ID"));

    // With the replay guard, each service token is good once, at one instance or, sharing
    // Redis, at all of them.
    let status = |port: u16, token: String| async move {
        http_get(
            &format!("http://127.0.0.1:{port}/whoami"),
            &[("authorization", format!("Bearer {token}").as_str())],
        )
        .await
        .status
    };
    let mut guarded = envs.to_vec();
    guarded.push(("MESHWARD_REPLAY_GUARD", "1".to_owned()));
    let (child, port) = start(&guarded).await;
    let hop = gateway.mint(&alice, ME).unwrap().as_str().to_owned();
    assert_eq!(status(port, hop.clone()).await, 200);
    assert_eq!(status(port, hop.clone()).await, 401, "replayed");
    assert_eq!(
        status(port, user.clone()).await,
        200,
        "users' tokens are not guarded"
    );
    assert_eq!(status(port, user.clone()).await, 200);
    drop(child);
    #[cfg(feature = "redis")]
    if let Some(redis) =
        crate::support::redis::RedisServer::start("service_tokens_from_trusted_services")
    {
        guarded.push(("MESHWARD_REDIS_URL", redis.url()));
        let (one, first) = start(&guarded).await;
        let (two, second) = start(&guarded).await;
        assert_eq!(status(first, hop.clone()).await, 200);
        assert_eq!(status(second, hop.clone()).await, 401, "seen at the other");
        assert_eq!(status(first, hop).await, 401);
        drop((one, two));
    }
    jwks_server.stop().await;
}

/// A service token is for one hop and one `jti` per level: signed with a trusted service's
/// real key, a token naming two audiences, or nesting a level under its own `jti`, is refused
/// with a reason of its own.
#[tokio::test]
async fn service_tokens_for_two_audiences_or_a_repeated_jti_are_refused() {
    use crate::mint::{GATEWAY, Svc};

    const ME: &str = "spiffe://prod.test/ns/shop/sa/orders";
    let idp = SigningKey::generate(Algorithm::ES256, "k1");
    let gateway = Svc::new(GATEWAY);
    let jwks_server = serve_axum(axum::Router::new().route_service(
        "/jwks",
        meshward::mint::JwksPublisher::new(gateway.signer.clone()),
    ))
    .await;
    let dir = TempDir::new("protected-one-hop");
    let (_child, port) = start(&service_token_env(&dir, &idp, ME, GATEWAY, &jwks_server)).await;
    let url = format!("http://127.0.0.1:{port}/whoami");
    let user = idp.sign(&claims("alice", "read"));
    let send = |claims: Value| {
        let token = gateway.forge(&claims);
        let url = url.clone();
        async move {
            http_get(
                &url,
                &[("authorization", format!("Bearer {token}").as_str())],
            )
            .await
        }
    };

    let hop = gateway.hop(ME, "alice", "read", Some(&user), None);
    assert_eq!(send(hop.clone()).await.status, 200, "the well-formed hop");
    let mut one = hop.clone();
    one["aud"] = json!([ME]);
    assert_eq!(
        send(one).await.status,
        200,
        "an array of exactly one audience"
    );

    let mut two = hop.clone();
    two["aud"] = json!([ME, "spiffe://prod.test/ns/shop/sa/billing"]);
    let seen = send(two).await;
    assert_eq!(seen.status, 401);
    assert_eq!(
        seen.headers["www-authenticate"],
        "Bearer realm=\"https://issuer.test\", error=\"invalid_token\", \
         error_description=\"token names more than one audience\""
    );

    // The gateway nests a token it addressed to itself, under that token's own jti.
    let mut inner = gateway.hop(GATEWAY, "alice", "read", Some(&user), None);
    inner["act"] = json!({"sub": GATEWAY});
    let mut outer = gateway.hop(ME, "alice", "read", Some(&gateway.forge(&inner)), None);
    outer["act"] = json!({"sub": GATEWAY, "act": {"sub": GATEWAY}});
    outer["jti"] = inner["jti"].clone();
    let seen = send(outer.clone()).await;
    assert_eq!(seen.status, 401);
    assert_eq!(
        seen.headers["www-authenticate"],
        "Bearer realm=\"https://issuer.test\", error=\"invalid_token\", \
         error_description=\"token chain repeats a token id\""
    );
    // The same chain with ids of its own passes: the jti is what is refused.
    outer["jti"] = json!("another-id");
    assert_eq!(send(outer).await.status, 200, "distinct ids");
}

#[tokio::test]
async fn rules_and_a_rego_policy_from_files() {
    let key = SigningKey::generate(Algorithm::ES256, "k-authz");
    let dir = TempDir::new("protected-authz");
    let jwks_file = dir.write("jwks.json", &jwks(&[key.jwk_json()]));
    let rules = dir.write(
        "rules.toml",
        r#"
        [[rule]]
        name = "whoami for readers"
        path = "/whoami"
        require = { scopes_any = ["read"] }

        [[rule]]
        name = "admin for the ops tenant"
        path = "/admin"
        require = { claim = { path = "tenant", equals = "ops" } }
        "#,
    );
    let base = [
        ("MESHWARD_ISSUER", ISSUER.to_owned()),
        ("MESHWARD_AUDIENCE", AUDIENCE.to_owned()),
        ("MESHWARD_JWKS_FILE", jwks_file.display().to_string()),
    ];
    let token = |scope: &str, tenant: &str| {
        let mut c = claims("alice", scope);
        c["tenant"] = json!(tenant);
        key.sign(&c)
    };
    let status = |port: u16, path: &'static str, t: String| async move {
        http_get(
            &format!("http://127.0.0.1:{port}{path}"),
            &[("authorization", &format!("Bearer {t}"))],
        )
        .await
        .status
    };

    let mut envs = base.to_vec();
    envs.push(("MESHWARD_RULES", rules.display().to_string()));
    let (child, port) = start(&envs).await;
    assert_eq!(status(port, "/whoami", token("read", "acme")).await, 200);
    assert_eq!(status(port, "/whoami", token("write", "acme")).await, 403);
    assert_eq!(
        status(port, "/admin", token("admin", "acme")).await,
        403,
        "the rule"
    );
    assert_eq!(
        status(port, "/admin", token("read", "ops")).await,
        403,
        "the scope"
    );
    assert_eq!(status(port, "/admin", token("admin", "ops")).await, 200);
    drop(child);

    #[cfg(feature = "rego")]
    {
        let policy = dir.write(
            "policy.rego",
            r#"
            package meshward
            import rego.v1
            default allow := false
            allow if {
                input.request.path == "/whoami"
                input.principal.claims.tenant == "acme"
            }
            "#,
        );
        let mut envs = base.to_vec();
        envs.push(("MESHWARD_POLICY", policy.display().to_string()));
        let (child, port) = start(&envs).await;
        assert_eq!(status(port, "/whoami", token("read", "acme")).await, 200);
        assert_eq!(status(port, "/whoami", token("read", "evil")).await, 403);
        assert_eq!(status(port, "/admin", token("admin", "acme")).await, 403);
        drop(child);
    }

    // Mistakes in either file stop the server at start, naming the variable.
    let bad_rules = dir.write("bad.toml", "[[rule]]\nname = \"x\"\npath = \"/x\"\n");
    let mut cases = vec![(
        "MESHWARD_RULES",
        bad_rules.display().to_string(),
        "MESHWARD_RULES",
    )];
    if cfg!(feature = "rego") {
        let bad = dir.write("bad.rego", "package meshward\nallow if {");
        cases.push((
            "MESHWARD_POLICY",
            bad.display().to_string(),
            "MESHWARD_POLICY",
        ));
    }
    cases.push((
        "MESHWARD_POLICY_RULE",
        "data.x.allow".into(),
        "needs MESHWARD_POLICY",
    ));
    for (var, value, message) in cases {
        let out = tokio::process::Command::new(example_binary())
            .env_clear()
            .envs(base.iter().map(|(k, v)| (k, v)))
            .env(var, value)
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{var}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn a_rate_limit_per_subject_and_shared_on_redis() {
    let key = SigningKey::generate(Algorithm::ES256, "k-quota");
    let dir = TempDir::new("protected-quota");
    let jwks_file = dir.write("jwks.json", &jwks(&[key.jwk_json()]));
    let base = vec![
        ("MESHWARD_ISSUER", ISSUER.to_owned()),
        ("MESHWARD_AUDIENCE", AUDIENCE.to_owned()),
        ("MESHWARD_JWKS_FILE", jwks_file.display().to_string()),
    ];
    let alice = key.sign(&claims("alice", "read"));
    let bob = key.sign(&claims("bob", "read"));
    let get = |port: u16, path: &'static str, token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        async move {
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("authorization", a)])
                .unwrap_or_default();
            http_get(&format!("http://127.0.0.1:{port}{path}"), &headers).await
        }
    };

    // One request per second, three at once: the fourth of a burst is refused, for that
    // subject only; routes without a token are not counted.
    let mut envs = base.clone();
    envs.push(("MESHWARD_RATE_LIMIT", "1,3".into()));
    let (child, port) = start(&envs).await;
    for n in 1..=3 {
        assert_eq!(get(port, "/whoami", Some(&alice)).await.status, 200, "#{n}");
    }
    let refused = get(port, "/whoami", Some(&alice)).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(get(port, "/admin", Some(&alice)).await.status, 429);
    assert_eq!(get(port, "/whoami", Some(&bob)).await.status, 200);
    assert_eq!(get(port, "/healthz", None).await.status, 200);
    // /peer over plain HTTP: no certificate, and no Bearer challenge (no token helps).
    let seen = get(port, "/peer", Some(&alice)).await;
    assert_eq!(seen.status, 401);
    assert_eq!(seen.header("www-authenticate"), None);
    assert_eq!(seen.json()["error"], "client_certificate_required");
    assert_eq!(
        get(port, "/whoami", None).await.status,
        401,
        "no token: 401"
    );
    drop(child);

    // Mistakes stop the server at start, naming the variable.
    let mut cases = vec![
        ("MESHWARD_RATE_LIMIT", "0", "MESHWARD_RATE_LIMIT"),
        ("MESHWARD_RATE_LIMIT", "ten", "MESHWARD_RATE_LIMIT"),
        ("MESHWARD_RATE_LIMIT", "5,0", "MESHWARD_RATE_LIMIT"),
        ("MESHWARD_RATE_LIMIT", "5,", "MESHWARD_RATE_LIMIT"),
        (
            "MESHWARD_REDIS_URL",
            "redis://127.0.0.1:1/",
            "needs MESHWARD_RATE_LIMIT",
        ),
    ];
    if cfg!(feature = "redis") {
        cases.push(("MESHWARD_RATE_LIMIT", "5", "MESHWARD_REDIS_URL"));
    }
    for (var, value, message) in cases {
        let mut command = tokio::process::Command::new(example_binary());
        command
            .env_clear()
            .envs(base.iter().map(|(k, v)| (k, v)))
            .env(var, value);
        if message == "MESHWARD_REDIS_URL" {
            command.env("MESHWARD_REDIS_URL", "ftp://nowhere");
        }
        let out = command.output().await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{var}={value}: {stderr}");
    }

    // Two instances on one Redis count against one quota.
    #[cfg(feature = "redis")]
    {
        let Some(redis) = crate::support::redis::RedisServer::start(
            "a_rate_limit_per_subject_and_shared_on_redis",
        ) else {
            return;
        };
        let mut envs = base.clone();
        envs.push(("MESHWARD_RATE_LIMIT", "1,3".into()));
        envs.push(("MESHWARD_REDIS_URL", redis.url()));
        let (one, first) = start(&envs).await;
        let (two, second) = start(&envs).await;
        assert_eq!(get(first, "/whoami", Some(&alice)).await.status, 200);
        assert_eq!(get(second, "/whoami", Some(&alice)).await.status, 200);
        assert_eq!(get(first, "/whoami", Some(&alice)).await.status, 200);
        assert_eq!(get(second, "/whoami", Some(&alice)).await.status, 429);
        assert_eq!(get(first, "/whoami", Some(&alice)).await.status, 429);
        assert_eq!(get(second, "/whoami", Some(&bob)).await.status, 200);
        drop((one, two));
    }
}

#[tokio::test]
async fn protected_resource_metadata_is_served_and_named_in_challenges() {
    let key = SigningKey::generate(Algorithm::ES256, "k-prm");
    let dir = TempDir::new("protected-prm");
    let jwks_file = dir.write("jwks.json", &jwks(&[key.jwk_json()]));
    let base = vec![
        ("MESHWARD_ISSUER", ISSUER.to_owned()),
        ("MESHWARD_AUDIENCE", AUDIENCE.to_owned()),
        ("MESHWARD_JWKS_FILE", jwks_file.display().to_string()),
    ];
    let mut envs = base.clone();
    envs.push(("MESHWARD_RESOURCE", "https://api.test/orders".into()));
    let (child, port) = start(&envs).await;
    let url = "https://api.test/.well-known/oauth-protected-resource/orders";

    let seen = http_get(
        &format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/orders"),
        &[],
    )
    .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        seen.json(),
        json!({
            "resource": "https://api.test/orders",
            "authorization_servers": [ISSUER],
            "scopes_supported": ["admin"],
            "bearer_methods_supported": ["header"],
        })
    );
    // Every challenge names it: no token, a bad token, a missing scope.
    let challenge = |path: &'static str, token: Option<String>| async move {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        let seen = http_get(&format!("http://127.0.0.1:{port}{path}"), &headers).await;
        (
            seen.status,
            seen.header("www-authenticate").map(str::to_owned),
        )
    };
    let named = format!("resource_metadata=\"{url}\"");
    let (status, header) = challenge("/whoami", None).await;
    assert_eq!(status, 401);
    assert_eq!(
        header.unwrap(),
        format!("Bearer realm=\"{ISSUER}\", {named}")
    );
    let (status, header) = challenge("/whoami", Some("not.a.token".into())).await;
    assert_eq!(status, 401);
    assert!(header.unwrap().ends_with(&named));
    let reader = key.sign(&claims("alice", "read"));
    let (status, header) = challenge("/admin", Some(reader.clone())).await;
    assert_eq!(status, 403);
    assert!(
        header.unwrap().contains(&named),
        "the scope layer gets it passed on"
    );
    assert_eq!(challenge("/whoami", Some(reader)).await.0, 200);
    drop(child);

    // An identifier that is not an https URL stops the server at start.
    for bad in [
        "http://api.test/orders",
        "not a url",
        "https://api.test/x?y",
    ] {
        let out = tokio::process::Command::new(example_binary())
            .env_clear()
            .envs(base.iter().map(|(k, v)| (k, v)))
            .env("MESHWARD_RESOURCE", bad)
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("MESHWARD_RESOURCE"));
    }
}

/// The README's path: `dev_token` twice into one folder gives two tokens that the README's
/// validator (issuer, audience, `at+jwt`) accepts with the one `jwks.json` read once.
#[tokio::test]
async fn dev_token_keeps_its_key_and_makes_at_jwt_tokens_for_the_readme_service() {
    let binary =
        example_binary().with_file_name(format!("dev_token{}", std::env::consts::EXE_SUFFIX));
    let dir = TempDir::new("dev-token");
    let folder = dir.0.join("dev");
    let mint = |scopes: &[&str]| {
        let out = std::process::Command::new(&binary)
            .env_clear()
            .arg(&folder)
            .args(scopes)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let first = mint(&["orders:read", "admin"]);
    let jwks_once = std::fs::read_to_string(folder.join("jwks.json")).unwrap();
    let second = mint(&["orders:read"]);
    assert_eq!(
        std::fs::read_to_string(folder.join("jwks.json")).unwrap(),
        jwks_once,
        "the key is kept"
    );
    let validator = meshward::jwt::Validator::builder("https://id.example.com", ["orders"])
        .add_keys(meshward::jwt::KeySet::from_jwks_json(&jwks_once).unwrap())
        .require_type("at+jwt")
        .build()
        .unwrap();
    let p = validator.validate(&first).await.unwrap();
    assert!(p.scopes().contains("admin"));
    let p = validator.validate(&second).await.unwrap();
    assert_eq!(p.subject(), Some("dev-user"));
    assert!(!p.scopes().contains("admin"));
}
