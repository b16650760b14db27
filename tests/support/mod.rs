//! Fixtures for the end-to-end tests: keys made at run time, tokens signed by hand, servers
//! on 127.0.0.1 that stop when dropped, and a plain HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod grpc;
pub mod pki;
pub mod redis;

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "orders";

/// A key pair made for one test run, with its public JWK.
pub struct SigningKey {
    pub alg: Algorithm,
    pub kid: String,
    pub encoding: EncodingKey,
    pub private_pem: String,
    pub public_pem: String,
    pub jwk: Jwk,
}

impl SigningKey {
    pub fn generate(alg: Algorithm, kid: &str) -> Self {
        let rcgen_alg = match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => &rcgen::PKCS_RSA_SHA256,
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => &rcgen::PKCS_RSA_SHA256,
            Algorithm::ES256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Algorithm::ES384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Algorithm::EdDSA => &rcgen::PKCS_ED25519,
            _ => panic!("no key pair for {alg:?}"),
        };
        let pair = rcgen::KeyPair::generate_for(rcgen_alg).unwrap();
        let private_pem = pair.serialize_pem();
        let encoding = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(private_pem.as_bytes()),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(private_pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(private_pem.as_bytes()),
        }
        .unwrap();
        let mut jwk = if alg == Algorithm::EdDSA {
            // Built from the raw public key: jsonwebtoken cannot read rcgen's PKCS#8 v2.
            let x = b64(pair.public_key_raw());
            serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": x}))
                .unwrap()
        } else {
            Jwk::from_encoding_key(&encoding, alg).unwrap()
        };
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            alg,
            kid: kid.to_owned(),
            encoding,
            private_pem,
            public_pem: pair.public_key_pem(),
            jwk,
        }
    }

    /// The public JWK as JSON, without `alg` (as many identity providers publish them).
    pub fn jwk_without_alg(&self) -> Value {
        let mut v = serde_json::to_value(&self.jwk).unwrap();
        v.as_object_mut().unwrap().remove("alg");
        v
    }

    pub fn jwk_json(&self) -> Value {
        serde_json::to_value(&self.jwk).unwrap()
    }

    /// Signs `claims` with a standard header naming this key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.alg, claims)
    }

    /// Signs with another algorithm of the same key (RS256 key used for PS256).
    pub fn sign_as(&self, alg: Algorithm, claims: &Value) -> String {
        let header = json!({"alg": alg, "typ": "JWT", "kid": self.kid});
        self.sign_with_header(alg, &header, claims)
    }

    pub fn sign_with_header(&self, alg: Algorithm, header: &Value, claims: &Value) -> String {
        sign_raw(header, claims, &self.encoding, alg)
    }
}

/// Says, where a reader of `cargo test`'s output sees it, that a test skipped its work:
/// written to the process's stderr directly, past the test harness's capture of `eprintln!`.
pub fn skipped(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a compact JWS, read without any check (for asserting what was minted).
pub fn payload_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string()), b64(claims.to_string()))
}

pub fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = signing_input(header, claims);
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a valid token for the test issuer and audience.
pub fn claims(sub: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": scope,
        "iat": now, "nbf": now - 5, "exp": now + 300, "jti": format!("{sub}-{now}")
    })
}

pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// A server task that is stopped when this is dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn new(addr: SocketAddr, shutdown: oneshot::Sender<()>, handle: JoinHandle<()>) -> Self {
        Self {
            addr,
            shutdown: Some(shutdown),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// As [`serve_axum`], with the client's address in each request's `ConnectInfo` (what
/// `XfccLayer` trusts a proxy by).
pub async fn serve_axum_with_addr(router: axum::Router) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer::new(addr, tx, handle)
}

pub async fn serve_axum(router: axum::Router) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    TestServer::new(addr, tx, handle)
}

/// A response as the client saw it.
pub struct Seen {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
}

/// GET `url` with the given headers (appended, so a name may repeat).
pub async fn http_get(url: &str, headers: &[(&str, &str)]) -> Seen {
    http_send("GET", url, headers).await
}

/// A request with no body: `method` `url` with the given headers.
pub async fn http_send(method: &str, url: &str, headers: &[(&str, &str)]) -> Seen {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response: Response<_> = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Seen {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}
