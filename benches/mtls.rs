//! Mutual TLS: handshakes, and requests over one connection, with meshward's identity
//! extraction against a plain tokio-rustls server with the same rustls configuration.
//! Run with `cargo bench --bench mtls`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use meshward::mtls::{AddPeerInfo, MtlsAcceptor, TlsIdentity, peer_identity};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

struct Pki {
    acceptor: MtlsAcceptor,
    connector: TlsConnector,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let sign = |names: Vec<String>, uri: Option<&str>, eku| {
        let mut params = CertificateParams::new(names).unwrap();
        if let Some(uri) = uri {
            params
                .subject_alt_names
                .push(SanType::URI(uri.try_into().unwrap()));
        }
        params.extended_key_usages = vec![eku];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = sign(
        vec!["localhost".into()],
        None,
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = sign(
        vec![],
        Some("spiffe://bench.test/ns/a/sa/b"),
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let acceptor = MtlsAcceptor::builder(TlsIdentity::pem(server_cert, server_key))
        .add_client_ca_pem(ca.pem())
        .alpn_protocols(["http/1.1"])
        .build()
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(client_cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(client_key.as_bytes()).unwrap(),
        )
        .unwrap();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        acceptor,
        connector: TlsConnector::from(Arc::new(client)),
    }
}

async fn handshake(
    connector: &TlsConnector,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// A handshake as a server's application sees it: connect, handshake, and the first byte the
/// server writes once the connection reached it. In TLS 1.3 the client finishes before the
/// server has checked its certificate, so the byte is what puts the server's work (the
/// handshake task, the identity parse, the hand-off) on the measured path.
async fn handshake_until_served(connector: &TlsConnector, addr: SocketAddr) {
    use tokio::io::AsyncReadExt;
    let mut tls = handshake(connector, addr).await;
    let mut byte = [0u8; 1];
    tls.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"k");
}

/// Accepts connections and writes one byte on each once it reaches the "application". The
/// subject goes through `MtlsAcceptor::incoming` (handshake task, semaphore, timeout,
/// identity parse, channel), what servers use; the baseline has the same shape (a task per
/// handshake, then a channel) around a plain `TlsAcceptor` with the same rustls config.
async fn handshake_server(pki: &Pki, with_identity: bool) -> SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    if with_identity {
        let mut incoming = pki.acceptor.incoming(listener);
        tokio::spawn(async move {
            while let Some(mut stream) = incoming.next().await {
                assert!(stream.peer().identity().is_some());
                tokio::spawn(async move {
                    let _ = stream.write_all(b"k").await;
                    let _ = stream.flush().await;
                });
            }
        });
    } else {
        let plain = TlsAcceptor::from(pki.acceptor.server_config());
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let plain = plain.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(stream) = plain.accept(tcp).await {
                        let _ = tx.send(stream).await;
                    }
                });
            }
        });
        tokio::spawn(async move {
            while let Some(mut stream) = rx.recv().await {
                tokio::spawn(async move {
                    let _ = stream.write_all(b"k").await;
                    let _ = stream.flush().await;
                });
            }
        });
    }
    addr
}

/// Both servers run this handler: it looks the identity up and answers the same body either
/// way, so the comparison isolates the extraction.
async fn ok(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let found = peer_identity(request.extensions())
        .and_then(|i| i.spiffe_id().map(|s| s.as_str().len()))
        .is_some();
    std::hint::black_box(found);
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// Serves HTTP/1.1 over TLS, with or without the peer identity on each request.
async fn request_server(pki: &Pki, with_identity: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    if with_identity {
        let mut incoming = pki.acceptor.incoming(listener);
        tokio::spawn(async move {
            while let Some(stream) = incoming.next().await {
                let service = AddPeerInfo::new(tower::service_fn(ok), stream.peer().clone());
                tokio::spawn(
                    auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                        .into_owned(),
                );
            }
        });
    } else {
        let plain = TlsAcceptor::from(pki.acceptor.server_config());
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let plain = plain.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(plain.accept(tcp).await.unwrap()).await;
                });
            }
        });
        tokio::spawn(async move {
            while let Some(stream) = rx.recv().await {
                tokio::spawn(
                    auto::Builder::new(TokioExecutor::new())
                        .serve_connection(
                            TokioIo::new(stream),
                            TowerToHyperService::new(tower::service_fn(ok)),
                        )
                        .into_owned(),
                );
            }
        });
    }
    addr
}

fn bench_mtls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pki = pki();

    let mut group = c.benchmark_group("mtls_handshake");
    for (name, with_identity) in [
        ("tokio-rustls (baseline)", false),
        ("MtlsAcceptor + PeerIdentity", true),
    ] {
        let addr = rt.block_on(handshake_server(&pki, with_identity));
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(handshake_until_served(&pki.connector, addr)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("mtls_request_one_connection");
    for (name, with_identity) in [
        ("MtlsAcceptor + PeerIdentity", true),
        ("tokio-rustls (baseline)", false),
    ] {
        let addr = rt.block_on(request_server(&pki, with_identity));
        let mut sender = rt.block_on(async {
            let tls = handshake(&pki.connector, addr).await;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .unwrap();
            tokio::spawn(conn);
            sender
        });
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    sender.ready().await.unwrap();
                    let response = sender
                        .send_request(
                            Request::get("/")
                                .header("host", "localhost")
                                .body(Empty::<Bytes>::new())
                                .unwrap(),
                        )
                        .await
                        .unwrap();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(&body[..], b"ok");
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_mtls);
criterion_main!(benches);
