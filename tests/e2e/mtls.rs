//! Mutual TLS with real handshakes on 127.0.0.1: rcgen PKI, reqwest and curl as clients,
//! axum, hyper and tonic as servers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::Algorithm;
use meshward::Principal;
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use meshward::mtls::{
    MtlsAcceptor, MtlsAcceptorBuilder, PeerIdentity, PeerInfo, RequirePeerLayer, TlsIdentity,
    XfccLayer,
};
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::pki::{Ca, ClientSpec, Leaf, TempDir};
use crate::support::*;

const BILLING: &str = "spiffe://prod.test/ns/billing/sa/api";

async fn peer(identity: Option<PeerIdentity>) -> Json<Value> {
    Json(match identity {
        None => Value::Null,
        Some(id) => json!({
            "spiffe_id": id.spiffe_id().map(|s| s.as_str()),
            "dns": id.dns_names(),
            "uris": id.uris(),
            "subject": id.subject(),
            "x5t#S256": id.thumbprint_sha256(),
            "forwarded": id.is_forwarded(),
        }),
    })
}

fn app() -> Router {
    Router::new()
        .route(
            "/billing",
            get(peer).route_layer(
                RequirePeerLayer::default().spiffe_path_prefix("spiffe://prod.test/ns/billing"),
            ),
        )
        .route("/peer", get(peer))
}

async fn serve_mtls(acceptor: &MtlsAcceptor, app: Router) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = acceptor.incoming(listener);
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        axum::serve(
            incoming,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer::new(addr, tx, handle)
}

struct Pki {
    ca: Ca,
    server: Leaf,
}

fn pki() -> Pki {
    let ca = Ca::new("meshward test CA");
    let server = ca.server("server-a");
    Pki { ca, server }
}

fn acceptor(pki: &Pki) -> MtlsAcceptorBuilder {
    MtlsAcceptor::builder(TlsIdentity::pem(
        pki.server.cert_pem.clone(),
        pki.server.key_pem.clone(),
    ))
    .add_client_ca_pem(pki.ca.pem.clone())
}

fn client(ca: &Ca, identity: Option<&Leaf>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()]);
    if let Some(leaf) = identity {
        builder =
            builder.identity(reqwest::Identity::from_pem(leaf.identity_pem().as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn fetch(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
) -> Result<(u16, Value), reqwest::Error> {
    let response = client
        .get(format!("https://127.0.0.1:{}{path}", server.addr.port()))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

#[tokio::test]
async fn handshakes_and_identities() {
    let pki = pki();
    let acceptor = acceptor(&pki).build().unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    let other_ca = Ca::new("someone else's CA");

    let billing = pki.ca.client(ClientSpec::spiffe(BILLING));
    let (status, body) = fetch(&client(&pki.ca, Some(&billing)), &server, "/peer")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["spiffe_id"], BILLING);
    assert_eq!(body["x5t#S256"], billing.thumbprint());
    assert_eq!(body["subject"], "CN=client");
    assert_eq!(body["forwarded"], false);

    let dns_only = pki.ca.client(ClientSpec {
        dns: vec!["reports.internal"],
        ..ClientSpec::default()
    });
    let (_, body) = fetch(&client(&pki.ca, Some(&dns_only)), &server, "/peer")
        .await
        .unwrap();
    assert_eq!(body["spiffe_id"], Value::Null);
    assert_eq!(body["dns"], json!(["reports.internal"]));

    let two_uris = pki.ca.client(ClientSpec {
        uris: vec![BILLING, "spiffe://prod.test/other"],
        ..ClientSpec::default()
    });
    let (_, body) = fetch(&client(&pki.ca, Some(&two_uris)), &server, "/peer")
        .await
        .unwrap();
    assert_eq!(body["spiffe_id"], Value::Null, "two URI SANs: no SPIFFE ID");
    assert_eq!(body["uris"], json!([BILLING, "spiffe://prod.test/other"]));

    let refused: Vec<(&str, Option<Leaf>)> = vec![
        ("no client certificate", None),
        (
            "certificate from another CA",
            Some(other_ca.client(ClientSpec::spiffe(BILLING))),
        ),
        (
            "expired",
            Some(pki.ca.client(ClientSpec {
                not_before: time::Duration::days(-10),
                not_after: time::Duration::days(-1),
                ..ClientSpec::spiffe(BILLING)
            })),
        ),
        (
            "not yet valid",
            Some(pki.ca.client(ClientSpec {
                not_before: time::Duration::days(1),
                not_after: time::Duration::days(10),
                ..ClientSpec::spiffe(BILLING)
            })),
        ),
    ];
    let failed_before = acceptor.handshakes_failed();
    for (name, leaf) in &refused {
        let result = fetch(&client(&pki.ca, leaf.as_ref()), &server, "/peer").await;
        assert!(
            result.is_err(),
            "{name}: handshake should fail, got {result:?}"
        );
    }
    assert!(acceptor.handshakes_failed() >= failed_before + refused.len() as u64);

    // The accept loop survived every failed handshake.
    let (status, _) = fetch(&client(&pki.ca, Some(&billing)), &server, "/peer")
        .await
        .unwrap();
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn allow_list_and_optional_client_auth() {
    let pki = pki();
    let acceptor = acceptor(&pki)
        .allow_unauthenticated_clients()
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;

    let allowed = pki.ca.client(ClientSpec::spiffe(BILLING));
    let sibling = pki.ca.client(ClientSpec::spiffe(
        "spiffe://prod.test/ns/billing-old/sa/api",
    ));
    let stranger = pki
        .ca
        .client(ClientSpec::spiffe("spiffe://prod.test/ns/payments/sa/api"));
    assert_eq!(
        status(&pki.ca, Some(&allowed), &server, "/billing").await,
        200
    );
    assert_eq!(
        status(&pki.ca, Some(&sibling), &server, "/billing").await,
        403
    );
    assert_eq!(
        status(&pki.ca, Some(&stranger), &server, "/billing").await,
        403
    );

    // Optional mode: no certificate connects, has no identity, and is refused where one is needed.
    let anonymous = client(&pki.ca, None);
    assert_eq!(
        fetch(&anonymous, &server, "/peer").await.unwrap(),
        (200, Value::Null)
    );
    assert_eq!(fetch(&anonymous, &server, "/billing").await.unwrap().0, 401);
    // A certificate from another CA is still refused in optional mode.
    let other = Ca::new("other").client(ClientSpec::spiffe(BILLING));
    assert!(
        fetch(&client(&pki.ca, Some(&other)), &server, "/peer")
            .await
            .is_err()
    );
    server.stop().await;
}

#[tokio::test]
async fn revoked_by_crl() {
    let pki = pki();
    let revoked = pki.ca.client(ClientSpec {
        serial: 666,
        ..ClientSpec::spiffe(BILLING)
    });
    let good = pki.ca.client(ClientSpec {
        serial: 7,
        ..ClientSpec::spiffe(BILLING)
    });
    let acceptor = acceptor(&pki)
        .add_client_crl_pem(pki.ca.crl(&[666]))
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    assert!(
        fetch(&client(&pki.ca, Some(&revoked)), &server, "/peer")
            .await
            .is_err()
    );
    assert_eq!(status(&pki.ca, Some(&good), &server, "/peer").await, 200);
    server.stop().await;
}

#[tokio::test]
async fn one_certificate_parse_per_connection() {
    let pki = pki();
    let acceptor = acceptor(&pki).build().unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    let c = client(&pki.ca, Some(&leaf));
    let before = acceptor.identities_parsed();
    for _ in 0..20 {
        assert_eq!(fetch(&c, &server, "/peer").await.unwrap().0, 200);
    }
    assert_eq!(
        acceptor.identities_parsed() - before,
        1,
        "20 requests, one connection, one parse"
    );
    let other = client(&pki.ca, Some(&leaf));
    fetch(&other, &server, "/peer").await.unwrap();
    assert_eq!(
        acceptor.identities_parsed() - before,
        2,
        "a second connection parses again"
    );
    server.stop().await;
}

#[tokio::test]
async fn curl_as_an_outside_client() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("curl is not installed: .ci/run installs it (Debian package curl)");
    }
    let pki = pki();
    let dir = TempDir::new("curl");
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    let cert = dir.write("client.pem", &leaf.cert_pem);
    let key = dir.write("client.key", &leaf.key_pem);
    let ca = dir.write("ca.pem", &pki.ca.pem);
    let acceptor = acceptor(&pki).build().unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    let url = format!("https://127.0.0.1:{}/peer", server.addr.port());
    let curl = |with_cert: bool| {
        let mut cmd = tokio::process::Command::new("curl");
        cmd.args(["--silent", "--show-error", "--max-time", "10", "--cacert"])
            .arg(&ca);
        if with_cert {
            cmd.arg("--cert").arg(&cert).arg("--key").arg(&key);
        }
        cmd.arg(&url).output()
    };
    let out = curl(true).await.unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["spiffe_id"], BILLING);
    assert_eq!(body["x5t#S256"], leaf.thumbprint());
    let out = curl(false).await.unwrap();
    assert!(
        !out.status.success(),
        "curl without a certificate must fail the handshake"
    );
    server.stop().await;
}

/// A TLS connection to the server, presenting `leaf` (or no certificate).
async fn tls_connect(
    addr: std::net::SocketAddr,
    ca: &Ca,
    leaf: Option<&Leaf>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match leaf {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![leaf.der.clone()],
                rustls_pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
}

/// The certificate the server presents to a new connection.
async fn server_cert_seen(
    addr: std::net::SocketAddr,
    ca: &Ca,
    leaf: &Leaf,
) -> CertificateDer<'static> {
    let tls = tls_connect(addr, ca, Some(leaf)).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// The status a client with `leaf` (or none) gets for `path`; the request must be answered.
async fn status(ca: &Ca, leaf: Option<&Leaf>, server: &TestServer, path: &str) -> u16 {
    fetch(&client(ca, leaf), server, path).await.unwrap().0
}

/// Whether a client with `leaf` gets a request answered by the server (a refused client
/// certificate fails the handshake, or, in TLS 1.3, the first request).
async fn accepted(server: &TestServer, ca: &Ca, leaf: &Leaf) -> bool {
    fetch(&client(ca, Some(leaf)), server, "/peer")
        .await
        .is_ok_and(|(status, _)| status == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_keeps_old_connections_and_refuses_bad_files() {
    use hyper_util::rt::TokioIo;
    use std::sync::atomic::{AtomicU32, Ordering};

    let pki = pki();
    let dir = TempDir::new("reload");
    let cert_path = dir.write("server.pem", &pki.server.cert_pem);
    let key_path = dir.write("server.key", &pki.server.key_pem);
    let ca_path = dir.write("ca.pem", &pki.ca.pem);
    let acceptor = MtlsAcceptor::builder(TlsIdentity::pem_files(&cert_path, &key_path))
        .add_client_ca_pem_file(&ca_path)
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    assert_eq!(
        server_cert_seen(server.addr, &pki.ca, &leaf).await,
        pki.server.der
    );

    // Load: exactly one connection, made before the reload (it saw the old certificate),
    // sending requests throughout. If the server dropped it, a request would fail.
    let tls = tls_connect(server.addr, &pki.ca, Some(&leaf))
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.peer_certificates().unwrap()[0],
        pki.server.der
    );
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let served = Arc::new(AtomicU32::new(0));
    let (stop, mut stopped) = oneshot::channel::<()>();
    let counter = Arc::clone(&served);
    let load = tokio::spawn(async move {
        while stopped.try_recv().is_err() {
            sender.ready().await.unwrap();
            let request = http::Request::get("/peer")
                .header("host", "localhost")
                .body(http_body_util::Empty::<hyper::body::Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                body["spiffe_id"], BILLING,
                "the identity of the old connection"
            );
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let served_more_than = |n: u32| {
        let served = Arc::clone(&served);
        async move {
            for _ in 0..400 {
                if served.load(Ordering::SeqCst) > n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("the old connection stopped serving at {n} requests");
        }
    };
    served_more_than(3).await;

    let renewed = pki.ca.server("server-b");
    std::fs::write(&cert_path, &renewed.cert_pem).unwrap();
    std::fs::write(&key_path, &renewed.key_pem).unwrap();
    acceptor.reload().unwrap();
    served_more_than(served.load(Ordering::SeqCst) + 3).await;
    assert_eq!(
        server_cert_seen(server.addr, &pki.ca, &leaf).await,
        renewed.der,
        "new connections get the new certificate"
    );

    // A bad file is refused and the last good configuration keeps serving.
    std::fs::write(
        &cert_path,
        "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = acceptor.reload().unwrap_err();
    assert!(
        err.to_string().contains("server.pem"),
        "error names the file: {err}"
    );
    assert_eq!(
        server_cert_seen(server.addr, &pki.ca, &leaf).await,
        renewed.der
    );

    // The watcher picks up the next change by itself.
    let watch = acceptor.watch(Duration::from_millis(50));
    let third = pki.ca.server("server-c");
    std::fs::write(&key_path, &third.key_pem).unwrap();
    std::fs::write(&cert_path, &third.cert_pem).unwrap();
    let mut seen = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let cert = server_cert_seen(server.addr, &pki.ca, &leaf).await;
        if cert == third.der {
            seen = Some(cert);
            break;
        }
    }
    assert!(seen.is_some(), "watch() reloaded the new files");
    drop(watch);

    served_more_than(served.load(Ordering::SeqCst) + 3).await;
    let _ = stop.send(());
    load.await
        .expect("every request on the old connection succeeded");
    assert_eq!(acceptor.reloads(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_changes_are_watched_and_reload_with_rotates_the_client_ca() {
    let pki = pki();
    let dir = TempDir::new("crl-reload");
    let crl_path = dir.write("clients.crl", &pki.ca.crl(&[]));
    let acceptor = acceptor(&pki)
        .add_client_crl_pem_file(&crl_path)
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    let alice = pki.ca.client(ClientSpec {
        serial: 41,
        ..ClientSpec::spiffe(BILLING)
    });
    assert!(accepted(&server, &pki.ca, &alice).await);

    // Only the CRL file changes: the watcher must notice it alone.
    let watch = acceptor.watch(Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(&crl_path, pki.ca.crl(&[41])).unwrap();
    let mut refused = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !accepted(&server, &pki.ca, &alice).await {
            refused = true;
            break;
        }
    }
    assert!(
        refused,
        "watch() reloaded the changed CRL and alice is revoked"
    );
    assert_eq!(acceptor.reloads(), 1);
    drop(watch);

    // CA rotation in memory: clients of the new CA get in, those of the old one no longer.
    let new_ca = Ca::new("meshward rotated CA");
    let bob = new_ca.client(ClientSpec::spiffe(BILLING));
    let carol = pki.ca.client(ClientSpec::spiffe(BILLING));
    assert!(accepted(&server, &pki.ca, &carol).await);
    assert!(!accepted(&server, &pki.ca, &bob).await);
    acceptor
        .reload_with(
            MtlsAcceptor::builder(TlsIdentity::pem(
                pki.server.cert_pem.clone(),
                pki.server.key_pem.clone(),
            ))
            .add_client_ca_pem(new_ca.pem.clone()),
        )
        .unwrap();
    assert!(
        accepted(&server, &pki.ca, &bob).await,
        "the server cert is still from the old CA"
    );
    assert!(!accepted(&server, &pki.ca, &carol).await);
    // A plain reload() now rebuilds from the replaced inputs, not the first ones.
    acceptor.reload().unwrap();
    assert!(accepted(&server, &pki.ca, &bob).await);
    assert!(!accepted(&server, &pki.ca, &carol).await);
    server.stop().await;
}

#[tokio::test]
async fn certificate_bound_tokens() {
    let pki = pki();
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let validator = || {
        Validator::builder(ISSUER, [AUDIENCE])
            .add_key(VerifyingKey::from_jwk_json(&key.jwk_json().to_string()).unwrap())
            .build()
            .unwrap()
    };
    async fn whoami(principal: Principal) -> Json<Value> {
        Json(json!({
            "sub": principal.subject(),
            "peer": principal.peer().and_then(|p| p.spiffe_id()).map(|s| s.as_str()),
        }))
    }
    let mtls_app = Router::new()
        .route("/whoami", get(whoami))
        .route(
            "/strict",
            get(whoami).route_layer(AuthLayer::new(validator()).require_certificate_bound_tokens()),
        )
        .layer(AuthLayer::new(validator()).allow_anonymous());
    let acceptor = acceptor(&pki).build().unwrap();
    let server = serve_mtls(&acceptor, mtls_app.clone()).await;
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    let other = pki
        .ca
        .client(ClientSpec::spiffe("spiffe://prod.test/ns/other"));
    let c = client(&pki.ca, Some(&leaf));
    let bound_to = |thumbprint: &str| {
        let mut claims = claims("alice", "read");
        claims["cnf"] = json!({"x5t#S256": thumbprint});
        key.sign(&claims)
    };
    let call = |path: &'static str, token: String| {
        let c = c.clone();
        let url = format!("https://127.0.0.1:{}{path}", server.addr.port());
        async move {
            let r = c.get(url).bearer_auth(token).send().await.unwrap();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (r.status().as_u16(), challenge, r.bytes().await.unwrap())
        }
    };

    let (status, _, body) = call("/whoami", bound_to(&leaf.thumbprint())).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, json!({"sub": "alice", "peer": BILLING}));

    let (status, challenge, _) = call("/whoami", bound_to(&other.thumbprint())).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some(
            r#"Bearer error="invalid_token", error_description="token bound to another certificate""#
        )
    );

    let unbound = key.sign(&claims("alice", "read"));
    assert_eq!(
        call("/whoami", unbound.clone()).await.0,
        200,
        "unbound tokens pass by default"
    );
    let (status, challenge, _) = call("/strict", unbound).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some(
            r#"Bearer error="invalid_token", error_description="certificate-bound token required""#
        )
    );
    assert_eq!(call("/strict", bound_to(&leaf.thumbprint())).await.0, 200);
    server.stop().await;

    // Without mTLS there is no certificate: a bound token is refused.
    let plain = serve_axum(mtls_app).await;
    let token = format!("Bearer {}", bound_to(&leaf.thumbprint()));
    let seen = http_get(&plain.url("/whoami"), &[("authorization", token.as_str())]).await;
    assert_eq!(seen.status, 401);
    plain.stop().await;
}

#[tokio::test]
async fn xfcc_from_a_trusted_proxy_only() {
    let pki = pki();
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    let encoded =
        percent_encoding::utf8_percent_encode(&leaf.cert_pem, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let hash: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf.der.as_ref())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    async fn echo(identity: Option<PeerIdentity>, headers: http::HeaderMap) -> Json<Value> {
        Json(json!({
            "spiffe_id": identity.as_ref().and_then(|i| i.spiffe_id()).map(|s| s.as_str()),
            "forwarded": identity.as_ref().map(PeerIdentity::is_forwarded),
            "xfcc_seen": headers.contains_key("x-forwarded-client-cert"),
        }))
    }
    async fn thumbprint(identity: PeerIdentity) -> String {
        identity.thumbprint_sha256().unwrap_or("-").to_owned()
    }
    async fn bound(principal: Principal) -> String {
        principal.subject().unwrap_or("-").to_owned()
    }
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(VerifyingKey::from_jwk_json(&key.jwk_json().to_string()).unwrap())
        .build()
        .unwrap();
    let serve = |layer: XfccLayer| {
        let validator = validator.clone();
        async move {
            let app = Router::new()
                .route("/", get(echo))
                .route("/x5t", get(thumbprint))
                .route("/bound", get(bound).route_layer(AuthLayer::new(validator)))
                .layer(layer);
            serve_axum_with_addr(app).await
        }
    };

    let with_cert =
        format!("By=spiffe://prod.test/ns/app;Hash={hash};Cert=\"{encoded}\";URI={BILLING}");
    let fields_only =
        format!("By=spiffe://prod.test/ns/app;Hash={hash};Subject=\"CN=client\";URI={BILLING}");
    let spoofed_hash = format!("By=x;Hash={};Cert=\"{encoded}\"", "0".repeat(64));

    let trusted = serve(XfccLayer::new().trust_proxy_addr("127.0.0.1".parse().unwrap())).await;
    for header in [&with_cert, &fields_only] {
        let seen = http_get(
            &trusted.url("/"),
            &[("x-forwarded-client-cert", header.as_str())],
        )
        .await;
        assert_eq!(
            seen.json(),
            json!({"spiffe_id": BILLING, "forwarded": true, "xfcc_seen": true})
        );
    }
    let seen = http_get(
        &trusted.url("/"),
        &[("x-forwarded-client-cert", spoofed_hash.as_str())],
    )
    .await;
    assert_eq!(
        seen.json(),
        json!({"spiffe_id": null, "forwarded": null, "xfcc_seen": false}),
        "Hash must match Cert"
    );

    // The forwarded thumbprint is the certificate's x5t#S256, from the hex Hash or the Cert.
    for header in [&with_cert, &fields_only] {
        let seen = http_get(
            &trusted.url("/x5t"),
            &[("x-forwarded-client-cert", header.as_str())],
        )
        .await;
        assert_eq!(seen.body_text(), leaf.thumbprint());
    }
    // Keys are case-insensitive.
    let mixed_case = format!("bY=spiffe://prod.test/ns/app;hAsH={hash};uRi={BILLING}");
    let seen = http_get(
        &trusted.url("/"),
        &[("x-forwarded-client-cert", mixed_case.as_str())],
    )
    .await;
    assert_eq!(seen.json()["spiffe_id"], BILLING);
    // A Cert that disagrees with the URI: the certificate is what was verified.
    let disagreeing = format!("Cert=\"{encoded}\";URI=spiffe://prod.test/ns/intruder");
    let seen = http_get(
        &trusted.url("/"),
        &[("x-forwarded-client-cert", disagreeing.as_str())],
    )
    .await;
    assert_eq!(seen.json()["spiffe_id"], BILLING);
    // Two XFCC headers, or one over the 64 KiB cap: no identity, and the header is dropped.
    let no_identity = json!({"spiffe_id": null, "forwarded": null, "xfcc_seen": false});
    let seen = http_get(
        &trusted.url("/"),
        &[
            ("x-forwarded-client-cert", fields_only.as_str()),
            ("x-forwarded-client-cert", fields_only.as_str()),
        ],
    )
    .await;
    assert_eq!(seen.json(), no_identity, "two headers");
    let huge = format!("{fields_only};Subject=\"{}\"", "x".repeat(64 * 1024));
    let seen = http_get(
        &trusted.url("/"),
        &[("x-forwarded-client-cert", huge.as_str())],
    )
    .await;
    assert_eq!(seen.json(), no_identity, "over the cap");
    // Under the cap, a long header is read.
    let long = format!("{fields_only};Subject=\"{}\"", "x".repeat(16 * 1024));
    let seen = http_get(
        &trusted.url("/"),
        &[("x-forwarded-client-cert", long.as_str())],
    )
    .await;
    assert_eq!(
        seen.json()["spiffe_id"],
        BILLING,
        "16 KiB is under the 64 KiB cap"
    );

    // Certificate-bound tokens through the proxy: the forwarded thumbprint is the one a
    // token's cnf.x5t#S256 must name.
    let bound_to = |thumbprint: &str| {
        let mut claims = claims("alice", "read");
        claims["cnf"] = json!({"x5t#S256": thumbprint});
        format!("Bearer {}", key.sign(&claims))
    };
    let other = pki
        .ca
        .client(ClientSpec::spiffe("spiffe://prod.test/ns/other"));
    let right = bound_to(&leaf.thumbprint());
    let wrong = bound_to(&other.thumbprint());
    let seen = http_get(
        &trusted.url("/bound"),
        &[
            ("x-forwarded-client-cert", fields_only.as_str()),
            ("authorization", right.as_str()),
        ],
    )
    .await;
    assert_eq!((seen.status, seen.body_text()), (200, "alice".to_owned()));
    let seen = http_get(
        &trusted.url("/bound"),
        &[
            ("x-forwarded-client-cert", fields_only.as_str()),
            ("authorization", wrong.as_str()),
        ],
    )
    .await;
    assert_eq!(seen.status, 401);
    assert_eq!(
        seen.header("www-authenticate"),
        Some(
            r#"Bearer error="invalid_token", error_description="token bound to another certificate""#
        )
    );
    // Without a forwarded certificate the bound token has nothing to match.
    let seen = http_get(&trusted.url("/bound"), &[("authorization", right.as_str())]).await;
    assert_eq!(seen.status, 401);
    trusted.stop().await;

    let untrusted = serve(XfccLayer::new().trust_proxy_addr("10.9.9.9".parse().unwrap())).await;
    let seen = http_get(
        &untrusted.url("/"),
        &[("x-forwarded-client-cert", with_cert.as_str())],
    )
    .await;
    assert_eq!(
        seen.json(),
        json!({"spiffe_id": null, "forwarded": null, "xfcc_seen": false}),
        "spoofed header stripped"
    );
    untrusted.stop().await;
}

#[tokio::test]
async fn hyper_server_over_mtls_with_graceful_shutdown() {
    let pki = pki();
    let acceptor = acceptor(&pki).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::clone(&finished);
    let service = tower::ServiceBuilder::new()
        .layer(RequirePeerLayer::default().trust_domain("prod.test"))
        .service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let done = Arc::clone(&done);
            async move {
                if req.uri().path() == "/slow" {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    done.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                let id = meshward::mtls::peer_identity(req.extensions());
                let body = id
                    .and_then(|i| i.spiffe_id().map(|s| s.to_string()))
                    .unwrap_or_default();
                Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
                    hyper::body::Bytes::from(body),
                )))
            }
        });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(meshward::mtls::serve_hyper(
        acceptor.incoming(listener),
        service,
        async {
            let _ = stopped.await;
        },
    ));
    let url = format!("https://127.0.0.1:{}/", addr.port());
    for (leaf, status, body) in [
        (pki.ca.client(ClientSpec::spiffe(BILLING)), 200, BILLING),
        (
            pki.ca.client(ClientSpec::spiffe("spiffe://other.test/x")),
            403,
            "",
        ),
    ] {
        let r = client(&pki.ca, Some(&leaf)).get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.text().await.unwrap(), body);
    }
    // HTTP/2 through ALPN, same identity.
    let h2 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca.pem.as_bytes()).unwrap()])
        .identity(
            reqwest::Identity::from_pem(
                pki.ca
                    .client(ClientSpec::spiffe(BILLING))
                    .identity_pem()
                    .as_bytes(),
            )
            .unwrap(),
        )
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2.get(&url).send().await.unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().await.unwrap(), BILLING);

    // A request in flight when shutdown starts is answered, and serve_hyper returns only
    // after it has been.
    let slow = tokio::spawn(
        client(&pki.ca, Some(&pki.ca.client(ClientSpec::spiffe(BILLING))))
            .get(format!("{url}slow"))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!finished.load(std::sync::atomic::Ordering::SeqCst));
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve_hyper returns after shutdown")
        .unwrap();
    assert!(
        finished.load(std::sync::atomic::Ordering::SeqCst),
        "serve_hyper waited for the request in flight"
    );
    let slow = slow
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.text().await.unwrap(), BILLING);
    assert!(
        client(&pki.ca, Some(&pki.ca.client(ClientSpec::spiffe(BILLING))))
            .get(&url)
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn tonic_over_mtls_sees_the_peer_in_layers_and_handlers() {
    use crate::support::grpc::{whoami, whoami_service};
    use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, Server};

    let pki = pki();
    let key = SigningKey::generate(Algorithm::ES256, "k");
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(VerifyingKey::from_jwk_json(&key.jwk_json().to_string()).unwrap())
        .build()
        .unwrap();
    let acceptor = acceptor(&pki).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = acceptor.incoming(listener);
    let (tx, rx) = oneshot::channel::<()>();
    // No hand-inserted identity: tonic's own connect info (`Connected` on MtlsStream) carries
    // the peer to the layers and to the handler.
    let handle = tokio::spawn(async move {
        Server::builder()
            .layer(RequirePeerLayer::default().spiffe_id(BILLING))
            .layer(AuthLayer::new(validator).allow_anonymous())
            .add_service(whoami_service())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    let server = TestServer::new(addr, tx, handle);

    let channel = |leaf: Leaf| {
        let ca = pki.ca.pem.clone();
        async move {
            let tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .identity(Identity::from_pem(leaf.cert_pem, leaf.key_pem))
                .domain_name("localhost");
            Channel::from_shared(format!("https://localhost:{}", addr.port()))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
                .unwrap()
        }
    };
    let billing = channel(pki.ca.client(ClientSpec::spiffe(BILLING))).await;
    let token = key.sign(&claims("alice", "read"));
    assert_eq!(
        whoami(billing.clone(), Some(&token)).await.unwrap(),
        format!("sub=alice peer={BILLING} bound={BILLING}"),
        "the handler sees the principal and the peer; the principal carries the peer"
    );
    assert_eq!(
        whoami(billing, None).await.unwrap(),
        format!("sub=- peer={BILLING} bound=-"),
        "no token: the peer alone"
    );
    let other = channel(
        pki.ca
            .client(ClientSpec::spiffe("spiffe://prod.test/ns/other")),
    )
    .await;
    let err = whoami(other, Some(&token)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(err.message(), "client not allowed");
    server.stop().await;
}

#[tokio::test]
async fn xfcc_behind_an_mtls_proxy_never_falls_back_to_the_proxy_identity() {
    const PROXY: &str = "spiffe://prod.test/ns/ingress/sa/envoy";
    let pki = pki();
    let app = app()
        .merge(app_with_proxy_guard(PROXY))
        .layer(XfccLayer::new().trust_proxy_spiffe_id(PROXY));
    let acceptor = acceptor(&pki).build().unwrap();
    let server = serve_mtls(&acceptor, app).await;
    let proxy = client(&pki.ca, Some(&pki.ca.client(ClientSpec::spiffe(PROXY))));
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", server.addr.port());
    let forwarded = format!("By={PROXY};Hash={};URI={BILLING}", "ab".repeat(32));

    // The proxy forwards a client: that client is the peer, marked forwarded.
    let r = proxy
        .get(url("/peer"))
        .header("x-forwarded-client-cert", &forwarded)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["spiffe_id"].as_str(), body["forwarded"].as_bool()),
        (Some(BILLING), Some(true))
    );
    let r = proxy
        .get(url("/billing"))
        .header("x-forwarded-client-cert", &forwarded)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The proxy forwards a client without a certificate: there is no peer, not the proxy.
    let r = proxy.get(url("/peer")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), Value::Null);
    let r = proxy.get(url("/proxy-only")).send().await.unwrap();
    assert_eq!(
        r.status(),
        401,
        "the proxy's own certificate is not the client's"
    );

    // Anyone else sending the header is ignored: their own certificate is the peer.
    let other = client(
        &pki.ca,
        Some(
            &pki.ca
                .client(ClientSpec::spiffe("spiffe://prod.test/ns/web")),
        ),
    );
    let r = other
        .get(url("/billing"))
        .header("x-forwarded-client-cert", &forwarded)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a spoofed XFCC does not make a client billing"
    );
    let body: Value = other
        .get(url("/peer"))
        .header("x-forwarded-client-cert", &forwarded)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["spiffe_id"].as_str(), body["forwarded"].as_bool()),
        (Some("spiffe://prod.test/ns/web"), Some(false))
    );
    server.stop().await;
}

/// A route that only the proxy's own identity could pass, to show it is never used.
fn app_with_proxy_guard(proxy: &str) -> Router {
    Router::new().route(
        "/proxy-only",
        get(peer).route_layer(RequirePeerLayer::default().spiffe_id(proxy)),
    )
}

#[tokio::test]
async fn silent_clients_do_not_hold_the_accept_loop() {
    use tokio::io::AsyncReadExt;
    let pki = pki();
    let acceptor = acceptor(&pki)
        .handshake_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    // Ten connections that never send a byte.
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    // A real client is served at once, beside them.
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    let started = std::time::Instant::now();
    assert_eq!(status(&pki.ca, Some(&leaf), &server, "/peer").await, 200);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "not queued behind silent clients"
    );
    // And the silent ones are closed once the handshake timeout passes.
    for mut tcp in silent {
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "silent connection closed: {read:?}"
        );
    }
    assert!(acceptor.handshakes_failed() >= 10);
    server.stop().await;
}

/// A TCP connection from `source` (any address of 127.0.0.0/8) that never sends a byte.
async fn silent_from(source: [u8; 4], server: &TestServer) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::from((source, 0)))
        .unwrap();
    socket.connect(server.addr).await.unwrap()
}

/// Whether the server closed `tcp` within `wait` (a read returns end of stream or an error).
async fn closed_within(tcp: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1];
    matches!(
        tokio::time::timeout(wait, tcp.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn at_the_handshake_bound_the_oldest_pending_connection_gives_way() {
    let pki = pki();
    let acceptor = acceptor(&pki)
        .max_concurrent_handshakes(2)
        .handshake_timeout(Duration::from_secs(30))
        .first_bytes_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    // Two silent connections take both places.
    let mut oldest = silent_from([127, 0, 0, 2], &server).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut younger = silent_from([127, 0, 0, 3], &server).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A real client beyond the bound is served: the oldest silent connection gives way.
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    let served = fetch(&client(&pki.ca, Some(&leaf)), &server, "/peer").await;
    assert_eq!(served.unwrap().0, 200);
    assert!(
        closed_within(&mut oldest, Duration::from_secs(1)).await,
        "the oldest was closed"
    );
    assert!(
        !closed_within(&mut younger, Duration::from_millis(200)).await,
        "the younger one keeps its place"
    );
    assert!(acceptor.pending_evicted() >= 1);
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_first_bytes_timeout() {
    let pki = pki();
    let acceptor = acceptor(&pki)
        .handshake_timeout(Duration::from_secs(30))
        .first_bytes_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    let mut silent = silent_from([127, 0, 0, 2], &server).await;
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
    assert_eq!(acceptor.handshakes_failed(), 1);
    assert_eq!(acceptor.pending_evicted(), 0);
    server.stop().await;
}

#[tokio::test]
async fn eleven_hundred_idle_sockets_cannot_lock_a_real_client_out() {
    // 1 100 sockets on each side of the loopback in this one process.
    rlimit::increase_nofile_limit(8192).unwrap();
    let pki = pki();
    // The defaults: 1 024 pending connections, 256 per source, 3 s to the first bytes.
    let acceptor = acceptor(&pki).build().unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    // A bystander from another address, pending before the flood starts.
    let mut bystander = silent_from([127, 0, 0, 3], &server).await;
    // The flood: 1 100 connections that never send a byte, from the real client's own
    // address and from another one, all held open.
    let mut flood = Vec::new();
    for i in 0..1100 {
        let source = if i % 2 == 0 {
            [127, 0, 0, 1]
        } else {
            [127, 0, 0, 2]
        };
        flood.push(silent_from(source, &server).await);
    }
    // A real client is served within a second, several times in a row.
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    for _ in 0..3 {
        let real = client(&pki.ca, Some(&leaf));
        let served =
            tokio::time::timeout(Duration::from_secs(1), fetch(&real, &server, "/peer")).await;
        assert_eq!(served.expect("served within a second").unwrap().0, 200);
    }
    // Each flooding address evicted only its own oldest connections: the bystander from a
    // third address is still pending (until its first-bytes timeout).
    assert!(!closed_within(&mut bystander, Duration::from_millis(200)).await);
    assert!(acceptor.pending_evicted() >= 1100 - 2 * 256);
    drop(flood);
    server.stop().await;
}

#[tokio::test]
async fn absurd_acceptor_limits_are_clamped_not_panics() {
    let pki = pki();
    let acceptor = acceptor(&pki)
        .max_concurrent_handshakes(usize::MAX)
        .handshake_timeout(Duration::MAX)
        .build()
        .unwrap();
    let server = serve_mtls(&acceptor, app()).await;
    let _watch = acceptor.watch(Duration::MAX);
    let leaf = pki.ca.client(ClientSpec::spiffe(BILLING));
    assert_eq!(status(&pki.ca, Some(&leaf), &server, "/peer").await, 200);
    server.stop().await;
}
