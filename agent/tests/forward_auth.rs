//! The `meshward` binary, started on 127.0.0.1 with a configuration file written here, asked
//! as a proxy asks: every answer's status, headers and error checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.test";
const BINARY: &str = env!("CARGO_BIN_EXE_meshward");

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("meshward-agent-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The identity provider: an Ed25519 key, its JWKS, and tokens signed with it.
struct Idp {
    key: rcgen::KeyPair,
}

impl Idp {
    fn new() -> Self {
        Self {
            key: rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
        }
    }

    fn jwks(&self) -> String {
        let x = URL_SAFE_NO_PAD.encode(self.key.public_key_raw());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "k1", "x": x}]})
            .to_string()
    }

    fn token(&self, sub: &str, scope: &str, exp_in: i64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = json!({
            "iss": ISSUER, "aud": "orders", "sub": sub, "scope": scope,
            "iat": now - 120, "exp": now + exp_in,
        });
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ed_der(self.key.serialized_der()),
        )
        .unwrap()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const RULES: &str = r#"
[[rule]]
name = "read orders"
methods = ["GET"]
path = "/orders/**"
require = { scopes_any = ["orders:read"] }

[[rule]]
name = "export"
methods = ["POST"]
path = "/orders/export"
require = { scopes_all = ["orders:admin"] }
"#;

fn config(port: u16, admin: u16) -> String {
    format!(
        r#"
[[issuer]]
issuer = "{ISSUER}"
audiences = ["orders"]
jwks_file = "idp.jwks.json"

[authorization]
rules_file = "rules.toml"

[listeners.forward_auth]
listen = "127.0.0.1:{port}"
trusted_proxies = ["127.0.0.1"]

[listeners.admin]
listen = "127.0.0.1:{admin}"
"#
    )
}

/// The running binary, stopped when dropped.
struct Agent {
    child: Child,
    port: u16,
    admin: u16,
}

impl Agent {
    fn start(file: &Path, port: u16, admin: u16) -> Self {
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the agent did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port, admin }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn ask(agent: &Agent, from: IpAddr, headers: &[(&str, String)]) -> Answer {
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    let mut request = client.get(format!("http://127.0.0.1:{}/auth", agent.port));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn the_agent_answers_forward_auth_as_the_library_would() {
    let dir = Dir::new("serve");
    let idp = Idp::new();
    dir.write("idp.jwks.json", &idp.jwks());
    dir.write("rules.toml", RULES);
    let (port, admin) = (free_port(), free_port());
    let file = dir.write("meshward.toml", &config(port, admin));
    let agent = Agent::start(&file, port, admin);

    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    let nginx = |uri: &str| ("x-original-uri", uri.to_owned());
    let reader = idp.token("alice", "orders:read", 300);

    // Admitted: 200 with the principal's headers for the proxy to copy upstream.
    let ok = ask(&agent, LOCAL, &[nginx("/orders/7"), bearer(&reader)]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["x-meshward-subject"], "alice");
    assert_eq!(ok.headers["x-meshward-issuer"], ISSUER);
    assert_eq!(ok.headers["x-meshward-scopes"], "orders:read");

    // Caddy's and Traefik's headers name the method: POST to the export needs orders:admin.
    let caddy = ask(
        &agent,
        LOCAL,
        &[
            ("x-forwarded-method", "POST".into()),
            ("x-forwarded-uri", "/orders/export".into()),
            ("x-forwarded-host", "shop.test".into()),
            bearer(&reader),
        ],
    )
    .await;
    assert_eq!(caddy.status, 403);
    assert_eq!(caddy.body["error"], "insufficient_scope");
    let challenge = caddy.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );

    // No token, an expired one, a forged one: 401 with the challenge.
    let none = ask(&agent, LOCAL, &[nginx("/orders/7")]).await;
    assert_eq!(none.status, 401);
    assert!(
        none.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let expired = ask(
        &agent,
        LOCAL,
        &[
            nginx("/orders/7"),
            bearer(&idp.token("alice", "orders:read", -120)),
        ],
    )
    .await;
    assert_eq!(expired.status, 401);
    assert!(
        expired.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let forged = Idp::new().token("alice", "orders:read", 300);
    assert_eq!(
        ask(&agent, LOCAL, &[nginx("/orders/7"), bearer(&forged)])
            .await
            .status,
        401
    );

    // A path no rule matches is refused.
    let unmatched = ask(&agent, LOCAL, &[nginx("/admin"), bearer(&reader)]).await;
    assert_eq!(unmatched.status, 403);

    // The proxy's side of the call, wrong: no original URI, a bad one, too many headers, an
    // untrusted caller.
    let missing = ask(&agent, LOCAL, &[bearer(&reader)]).await;
    assert_eq!(
        (missing.status, missing.body["error"].as_str()),
        (400, Some("missing_original_uri"))
    );
    let absolute = ask(
        &agent,
        LOCAL,
        &[nginx("http://other.test/orders/7"), bearer(&reader)],
    )
    .await;
    assert_eq!(
        (absolute.status, absolute.body["error"].as_str()),
        (400, Some("invalid_original_uri"))
    );
    let big: Vec<(&str, String)> = (0..5)
        .map(|_| ("x-padding", "p".repeat(8 * 1024)))
        .chain([nginx("/orders/7"), bearer(&reader)])
        .collect();
    let large = ask(&agent, LOCAL, &big).await;
    assert_eq!(
        (large.status, large.body["error"].as_str()),
        (431, Some("headers_too_large"))
    );
    let stranger = ask(
        &agent,
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        &[nginx("/orders/7"), bearer(&reader)],
    )
    .await;
    assert_eq!(
        (stranger.status, stranger.body["error"].as_str()),
        (403, Some("untrusted_proxy"))
    );

    // The admin listener.
    for path in ["/healthz", "/readyz"] {
        let response = reqwest::get(format!("http://127.0.0.1:{}{path}", agent.admin))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[test]
fn check_says_what_it_would_serve_and_names_each_mistake() {
    let dir = Dir::new("check");
    let idp = Idp::new();
    dir.write("idp.jwks.json", &idp.jwks());
    dir.write("rules.toml", RULES);
    let good = dir.write("good.toml", &config(9191, 9901));
    let out = Command::new(BINARY)
        .arg("check")
        .arg(&good)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("valid"), "{stdout}");
    assert!(
        stdout.contains("issuer https://idp.test (audiences orders)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("forward-auth on 127.0.0.1:9191"),
        "{stdout}"
    );

    let cases = [
        (
            config(9191, 9901).replace("audiences", "audience"),
            "line 4",
        ),
        (
            config(9191, 9901).replace("idp.jwks.json", "missing.json"),
            "issuer[0].jwks_file",
        ),
        (
            config(9191, 9901).replace("rules.toml", "nope.toml"),
            "authorization.rules_file",
        ),
        (
            config(9191, 9901).replace("\"127.0.0.1\"]", "\"not an address\"]"),
            "trusted_proxies",
        ),
    ];
    for (text, expected) in cases {
        let bad = dir.write("bad.toml", &text);
        let out = Command::new(BINARY)
            .arg("check")
            .arg(&bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("bad.toml"), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}
