//! The JWT attack catalogue against a real axum server: one row per attack, each asserting
//! the exact status and challenge the client sees.

use std::sync::OnceLock;

use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey};
use meshward::authz::RequireScopesLayer;
use meshward::jwt::{AuthLayer, KeySet, Validator};
use meshward::{DefaultRejectionResponse, Principal};
use serde_json::{Value, json};

use crate::support::*;

struct Keys {
    rsa: SigningKey,
    ec: SigningKey,
    ed: SigningKey,
    attacker: SigningKey,
}

/// A self-signed certificate for the attacker's key, base64 (standard) DER as `x5c` wants.
fn attacker_certificate() -> String {
    use base64::Engine as _;
    let pair = rcgen::KeyPair::from_pem(&keys().attacker.private_pem).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["attacker.test".into()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(cert.der())
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: SigningKey::generate(Algorithm::RS256, "rsa-1"),
        ec: SigningKey::generate(Algorithm::ES256, "ec-1"),
        ed: SigningKey::generate(Algorithm::EdDSA, "ed-1"),
        attacker: SigningKey::generate(Algorithm::RS256, "rsa-1"),
    })
}

async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({
        "sub": principal.subject(),
        "iss": principal.issuer(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
    }))
}

async fn server() -> TestServer {
    let k = keys();
    // The RSA key is published without `alg`, as oidc-provider does, so it verifies RS and PS.
    let doc = jwks(&[k.rsa.jwk_without_alg(), k.ec.jwk_json(), k.ed.jwk_json()]);
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_keys(KeySet::from_jwks_json(&doc).unwrap())
        .build()
        .unwrap();
    let auth = AuthLayer::new(validator)
        .with_rejection_response(DefaultRejectionResponse::new().realm("orders"));
    let app = Router::new()
        .route(
            "/admin",
            get(whoami).route_layer(RequireScopesLayer::all(["admin"])),
        )
        .route("/whoami", get(whoami))
        .layer(auth);
    serve_axum(app).await
}

fn invalid(description: &str) -> String {
    format!(r#"Bearer realm="orders", error="invalid_token", error_description="{description}""#)
}

const MALFORMED_REQUEST: &str = r#"Bearer realm="orders", error="invalid_request", error_description="malformed bearer credential""#;

fn with_claims(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims("alice", "read");
    f(c.as_object_mut().unwrap());
    keys().rsa.sign(&c)
}

fn header_and_claims(header: Value) -> String {
    keys()
        .rsa
        .sign_with_header(Algorithm::RS256, &header, &claims("alice", "read"))
}

struct Row {
    name: &'static str,
    token: String,
    status: u16,
    challenge: Option<String>,
}

fn ok(name: &'static str, token: String) -> Row {
    Row {
        name,
        token,
        status: 200,
        challenge: None,
    }
}

fn refused(name: &'static str, token: String, description: &str) -> Row {
    Row {
        name,
        token,
        status: 401,
        challenge: Some(invalid(description)),
    }
}

fn attack_table() -> Vec<Row> {
    let k = keys();
    let good = k.rsa.sign(&claims("alice", "read"));
    let (good_input, good_sig) = good.rsplit_once('.').unwrap();
    let other = k.rsa.sign(&claims("bob", "read"));
    let other_sig = other.rsplit_once('.').unwrap().1;
    let base = claims("alice", "read");
    let none_sig = |alg: &str| {
        format!(
            "{}.",
            signing_input(&json!({"alg": alg, "kid": "rsa-1"}), &base)
        )
    };
    let alg_not_accepted = "token algorithm not accepted";

    vec![
        ok("valid RS256", good.clone()),
        ok(
            "same RSA key, PS256",
            k.rsa.sign_as(Algorithm::PS256, &base),
        ),
        ok("valid ES256", k.ec.sign(&base)),
        ok("valid EdDSA", k.ed.sign(&base)),
        ok(
            "audience in an array",
            with_claims(|c| {
                c.insert("aud".into(), json!(["x", AUDIENCE]));
            }),
        ),
        // alg none, every spelling, with and without a signature.
        refused("alg none", none_sig("none"), alg_not_accepted),
        refused("alg None", none_sig("None"), alg_not_accepted),
        refused("alg NONE", none_sig("NONE"), alg_not_accepted),
        refused("alg nOnE", none_sig("nOnE"), alg_not_accepted),
        refused(
            "alg none with a signature",
            format!(
                "{}.{good_sig}",
                signing_input(&json!({"alg": "none"}), &base)
            ),
            alg_not_accepted,
        ),
        // Algorithm confusion: HS256 keyed with the RSA public key.
        refused(
            "HS256 signed with the RSA public key (kid)",
            sign_raw(
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &base,
                &EncodingKey::from_secret(k.rsa.public_pem.as_bytes()),
                Algorithm::HS256,
            ),
            alg_not_accepted,
        ),
        refused(
            "HS256 signed with the RSA public key (no kid)",
            sign_raw(
                &json!({"alg": "HS256"}),
                &base,
                &EncodingKey::from_secret(k.rsa.public_pem.as_bytes()),
                Algorithm::HS256,
            ),
            alg_not_accepted,
        ),
        refused(
            "RS256 token naming the EC key",
            k.rsa.sign_with_header(
                Algorithm::RS256,
                &json!({"alg": "RS256", "kid": "ec-1"}),
                &base,
            ),
            alg_not_accepted,
        ),
        refused(
            "ES384 on the ES256-pinned key",
            signing_input(&json!({"alg": "ES384", "kid": "ec-1"}), &base) + ".AAAA",
            alg_not_accepted,
        ),
        // kid tricks.
        refused(
            "unknown kid",
            header_and_claims(json!({"alg": "RS256", "kid": "nope"})),
            "unknown signing key",
        ),
        refused(
            "kid path traversal",
            header_and_claims(json!({"alg": "RS256", "kid": "../../../../dev/null"})),
            "unknown signing key",
        ),
        refused(
            "kid SQL injection",
            header_and_claims(json!({"alg": "RS256", "kid": "x' UNION SELECT 'key"})),
            "unknown signing key",
        ),
        refused(
            "kid of another type",
            header_and_claims(json!({"alg": "RS256", "kid": 7})),
            "malformed token",
        ),
        ok(
            "no kid, exactly one key fits RS256",
            header_and_claims(json!({"alg": "RS256"})),
        ),
        refused(
            "no kid: the only ES256 key is tried",
            header_and_claims(json!({"alg": "ES256"})),
            "invalid signature",
        ),
        // Key-carrying headers are never followed.
        refused(
            "jku to the attacker's JWKS",
            k.attacker.sign_with_header(
                Algorithm::RS256,
                &json!({"alg": "RS256", "kid": "rsa-1", "jku": "http://127.0.0.1:1/jwks"}),
                &base,
            ),
            "invalid signature",
        ),
        refused(
            "x5u to the attacker's certificate",
            k.attacker.sign_with_header(
                Algorithm::RS256,
                &json!({"alg": "RS256", "kid": "rsa-1", "x5u": "http://127.0.0.1:1/cert"}),
                &base,
            ),
            "invalid signature",
        ),
        refused(
            "x5c with the attacker's certificate",
            k.attacker.sign_with_header(
                Algorithm::RS256,
                &json!({"alg": "RS256", "kid": "rsa-1", "x5c": [attacker_certificate()]}),
                &base,
            ),
            "invalid signature",
        ),
        refused(
            "embedded jwk of the attacker",
            k.attacker.sign_with_header(
                Algorithm::RS256,
                &json!({"alg": "RS256", "kid": "rsa-1", "jwk": k.attacker.jwk_json()}),
                &base,
            ),
            "invalid signature",
        ),
        refused(
            "attacker key with an unknown kid",
            k.attacker.sign_with_header(
                Algorithm::RS256,
                &json!({"alg": "RS256", "kid": "evil"}),
                &base,
            ),
            "unknown signing key",
        ),
        // Signatures.
        refused(
            "forged signature",
            format!("{good_input}.{}", b64([7u8; 256])),
            "invalid signature",
        ),
        refused(
            "stripped signature",
            format!("{good_input}."),
            "invalid signature",
        ),
        refused(
            "truncated signature",
            format!("{good_input}.{}", &good_sig[..good_sig.len() - 8]),
            "invalid signature",
        ),
        refused(
            "signature of another token",
            format!("{good_input}.{other_sig}"),
            "invalid signature",
        ),
        refused(
            "signature in standard base64",
            format!("{good_input}.+/+/"),
            "invalid signature",
        ),
        refused("padded signature", format!("{good}="), "invalid signature"),
        Row {
            name: "bytes outside the token alphabet",
            token: format!("{good_input}.%%%%"),
            status: 400,
            challenge: Some(MALFORMED_REQUEST.into()),
        },
        refused(
            "payload tampered (scope admin)",
            {
                let mut c = base.clone();
                c["scope"] = json!("admin");
                let header = good_input.split('.').next().unwrap();
                format!("{header}.{}.{good_sig}", b64(c.to_string()))
            },
            "invalid signature",
        ),
        refused(
            "psychic ECDSA signature (r = s = 0)",
            format!(
                "{}.{}",
                signing_input(&json!({"alg": "ES256", "kid": "ec-1"}), &base),
                b64([0u8; 64])
            ),
            "invalid signature",
        ),
        // Claims.
        refused(
            "expired",
            with_claims(|c| {
                c.insert("exp".into(), json!(now() - 120));
            }),
            "token expired",
        ),
        refused(
            "nbf in the future",
            with_claims(|c| {
                c.insert("nbf".into(), json!(now() + 600));
            }),
            "token not yet valid",
        ),
        refused(
            "iat in the future",
            with_claims(|c| {
                c.insert("iat".into(), json!(now() + 600));
            }),
            "token issued in the future",
        ),
        refused(
            "no exp",
            with_claims(|c| {
                c.remove("exp");
            }),
            "required claim missing",
        ),
        refused(
            "no iss",
            with_claims(|c| {
                c.remove("iss");
            }),
            "required claim missing",
        ),
        refused(
            "no aud",
            with_claims(|c| {
                c.remove("aud");
            }),
            "required claim missing",
        ),
        refused(
            "exp as a string",
            with_claims(|c| {
                c.insert("exp".into(), json!("never"));
            }),
            "invalid claim",
        ),
        // NumericDates out of range are malformed, never "does not expire".
        refused(
            "exp 1e300",
            with_claims(|c| {
                c.insert("exp".into(), json!(1e300));
            }),
            "invalid claim",
        ),
        refused(
            "exp i64::MAX",
            with_claims(|c| {
                c.insert("exp".into(), json!(i64::MAX));
            }),
            "invalid claim",
        ),
        refused(
            "exp after the year 9999",
            with_claims(|c| {
                c.insert("exp".into(), json!(253_402_300_800_i64));
            }),
            "invalid claim",
        ),
        refused(
            "negative nbf",
            with_claims(|c| {
                c.insert("nbf".into(), json!(-1));
            }),
            "invalid claim",
        ),
        refused(
            "iat NaN-like string",
            with_claims(|c| {
                c.insert("iat".into(), json!("NaN"));
            }),
            "invalid claim",
        ),
        ok(
            "fractional exp",
            with_claims(|c| {
                c.insert("exp".into(), json!(now() as f64 + 300.75));
            }),
        ),
        refused(
            "wrong issuer",
            with_claims(|c| {
                c.insert("iss".into(), json!("https://evil.test"));
            }),
            "untrusted issuer",
        ),
        refused(
            "issuer with trailing slash",
            with_claims(|c| {
                c.insert("iss".into(), json!(format!("{ISSUER}/")));
            }),
            "untrusted issuer",
        ),
        refused(
            "wrong audience",
            with_claims(|c| {
                c.insert("aud".into(), json!("payments"));
            }),
            "wrong audience",
        ),
        refused(
            "crit header",
            header_and_claims(json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"], "exp": 1})),
            "unsupported critical header",
        ),
        // Shape and size.
        refused(
            "oversized",
            format!("{good}{}", "A".repeat(9000)),
            "token too large",
        ),
        refused("garbage", "garbage".into(), "malformed token"),
        refused("two segments", "abc.def".into(), "malformed token"),
        refused("four segments", format!("{good}.x"), "malformed token"),
        refused(
            "header not JSON",
            format!("{}.{}.{good_sig}", b64("not json"), b64(base.to_string())),
            "malformed token",
        ),
        Row {
            name: "padding inside the token",
            token: format!("{}=.x.y", b64("{}")),
            status: 400,
            challenge: Some(MALFORMED_REQUEST.into()),
        },
        refused(
            "header is a JSON array",
            format!("{}.{}.{good_sig}", b64("[1]"), b64(base.to_string())),
            "malformed token",
        ),
        refused(
            "claims are a JSON string",
            format!(
                "{}.{}.{good_sig}",
                b64(r#"{"alg":"RS256","kid":"rsa-1"}"#),
                b64("\"x\"")
            ),
            "malformed token",
        ),
    ]
}

#[tokio::test]
async fn attack_catalogue_over_http() {
    let server = server().await;
    let url = server.url("/whoami");
    let mut failures = Vec::new();
    for row in attack_table() {
        let auth = format!("Bearer {}", row.token);
        let seen = http_get(&url, &[("authorization", auth.as_str())]).await;
        let challenge = seen.header("www-authenticate").map(str::to_owned);
        if seen.status != row.status || challenge != row.challenge {
            failures.push(format!(
                "{}: got {} {:?}, want {} {:?}",
                row.name, seen.status, challenge, row.status, row.challenge
            ));
        }
        if row.status != 200 {
            assert!(seen.body.is_empty(), "{}: refusals have no body", row.name);
            // No segment of the token (header, payload or signature) comes back, in any
            // header; segments shorter than 8 bytes could match by chance and are skipped.
            for segment in row.token.split('.').filter(|s| s.len() >= 8) {
                for (name, value) in &seen.headers {
                    let v = String::from_utf8_lossy(value.as_bytes());
                    assert!(
                        !v.contains(segment),
                        "{}: response header {name} echoes the token",
                        row.name
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await;
}

#[tokio::test]
async fn malformed_credentials_get_400_and_missing_get_a_bare_challenge() {
    let server = server().await;
    let url = server.url("/whoami");
    let good = format!("Bearer {}", keys().rsa.sign(&claims("alice", "read")));

    let cases: Vec<(&str, Vec<(&str, &str)>, u16, Option<&str>)> = vec![
        ("no header", vec![], 401, Some(r#"Bearer realm="orders""#)),
        (
            "Basic scheme",
            vec![("authorization", "Basic YWxpY2U6cHc=")],
            401,
            Some(r#"Bearer realm="orders""#),
        ),
        (
            "Bearer alone",
            vec![("authorization", "Bearer")],
            400,
            Some(MALFORMED_REQUEST),
        ),
        (
            "two tokens",
            vec![("authorization", "Bearer a.b.c d.e.f")],
            400,
            Some(MALFORMED_REQUEST),
        ),
        (
            "non-token bytes",
            vec![("authorization", "Bearer a.b.c;x")],
            400,
            Some(MALFORMED_REQUEST),
        ),
        (
            "two headers",
            vec![
                ("authorization", good.as_str()),
                ("authorization", good.as_str()),
            ],
            400,
            Some(MALFORMED_REQUEST),
        ),
    ];
    for (name, headers, status, challenge) in cases {
        let seen = http_get(&url, &headers).await;
        assert_eq!(seen.status, status, "{name}");
        assert_eq!(seen.header("www-authenticate"), challenge, "{name}");
    }

    let lower = good.replacen("Bearer", "bearer", 1);
    let seen = http_get(&url, &[("authorization", lower.as_str())]).await;
    assert_eq!(seen.status, 200, "scheme is case-insensitive");
    assert_eq!(seen.json()["sub"], "alice");
    server.stop().await;
}

#[tokio::test]
async fn scopes_guard_a_route() {
    let server = server().await;
    let reader = format!("Bearer {}", keys().rsa.sign(&claims("alice", "read")));
    let admin = format!("Bearer {}", keys().ec.sign(&claims("root", "read admin")));

    let seen = http_get(&server.url("/admin"), &[("authorization", reader.as_str())]).await;
    assert_eq!(seen.status, 403);
    // The realm configured once, on the AuthLayer, reaches the scope layer's answer.
    assert_eq!(
        seen.header("www-authenticate"),
        Some(
            r#"Bearer realm="orders", error="insufficient_scope", error_description="insufficient scope", scope="admin""#
        )
    );

    let seen = http_get(&server.url("/admin"), &[("authorization", admin.as_str())]).await;
    assert_eq!(seen.status, 200);
    assert_eq!(
        seen.json(),
        json!({"sub": "root", "iss": ISSUER, "scopes": ["admin", "read"]})
    );
    server.stop().await;
}

#[tokio::test]
async fn optional_mode_lets_anonymous_through_but_not_bad_tokens() {
    let k = keys();
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(meshward::jwt::VerifyingKey::from_ed_pem(k.ed.public_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    async fn maybe(principal: Option<Principal>) -> String {
        principal.map_or("anonymous".into(), |p| {
            p.subject().unwrap_or_default().to_owned()
        })
    }
    let app = Router::new()
        .route("/", get(maybe))
        .route("/strict", get(whoami))
        .layer(AuthLayer::new(validator).allow_anonymous());
    let server = serve_axum(app).await;

    let anon = http_get(&server.url("/"), &[]).await;
    assert_eq!((anon.status, &anon.body[..]), (200, &b"anonymous"[..]));

    let token = format!("Bearer {}", k.ed.sign(&claims("carol", "")));
    let seen = http_get(&server.url("/"), &[("authorization", token.as_str())]).await;
    assert_eq!((seen.status, &seen.body[..]), (200, &b"carol"[..]));

    let expired = format!(
        "Bearer {}",
        k.ed.sign(&json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now() - 100}))
    );
    let seen = http_get(&server.url("/"), &[("authorization", expired.as_str())]).await;
    assert_eq!(
        seen.status, 401,
        "a bad token is refused even when tokens are optional"
    );

    // The extractor refuses when the handler needs a principal and none was sent.
    let seen = http_get(&server.url("/strict"), &[]).await;
    assert_eq!(seen.status, 401);
    assert_eq!(seen.header("www-authenticate"), Some("Bearer"));
    server.stop().await;
}
