//! The same guard in front of a real tonic server: refusals are gRPC statuses.

use jsonwebtoken::Algorithm;
use meshward::authz::RequireScopesLayer;
use meshward::jwt::{AuthLayer, Validator, VerifyingKey};
use serde_json::json;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Code;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::*;

async fn grpc_server(key: &SigningKey) -> TestServer {
    let validator = Validator::builder(ISSUER, [AUDIENCE])
        .add_key(
            VerifyingKey::from_ec_pem(key.public_pem.as_bytes())
                .unwrap()
                .with_kid(&key.kid),
        )
        .build()
        .unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        Server::builder()
            .layer(AuthLayer::new(validator))
            .layer(RequireScopesLayer::all(["health:read"]))
            .add_service(health)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    TestServer::new(addr, tx, handle)
}

async fn check(server: &TestServer, authorization: Option<&str>) -> Result<(), tonic::Status> {
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let value: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> =
        authorization.map(|v| v.parse().unwrap());
    let mut client = HealthClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
        if let Some(v) = &value {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    });
    client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn grpc_statuses_for_each_fault() {
    let key = SigningKey::generate(Algorithm::ES256, "ec-grpc");
    let server = grpc_server(&key).await;
    let bearer = |claims: serde_json::Value| format!("Bearer {}", key.sign(&claims));
    let none = format!(
        "Bearer {}.",
        signing_input(&json!({"alg": "none"}), &claims("a", "health:read"))
    );
    let good = bearer(claims("svc", "health:read"));
    let forged = format!("{}AAAA", &good[..good.len() - 4]);

    let cases: Vec<(&str, Option<String>, Option<Code>, &str)> = vec![
        ("valid", Some(good.clone()), None, ""),
        (
            "no token",
            None,
            Some(Code::Unauthenticated),
            "bearer token required",
        ),
        (
            "alg none",
            Some(none),
            Some(Code::Unauthenticated),
            "token algorithm not accepted",
        ),
        (
            "forged",
            Some(forged),
            Some(Code::Unauthenticated),
            "invalid signature",
        ),
        (
            "expired",
            Some(bearer(
                json!({"iss": ISSUER, "aud": AUDIENCE, "scope": "health:read", "exp": now() - 100}),
            )),
            Some(Code::Unauthenticated),
            "token expired",
        ),
        (
            "wrong audience",
            Some(bearer(
                json!({"iss": ISSUER, "aud": "x", "scope": "health:read", "exp": now() + 100}),
            )),
            Some(Code::Unauthenticated),
            "wrong audience",
        ),
        (
            "missing scope",
            Some(bearer(claims("svc", "other"))),
            Some(Code::PermissionDenied),
            "insufficient scope",
        ),
        (
            "malformed header",
            Some("Bearer".into()),
            Some(Code::Unauthenticated),
            "malformed bearer credential",
        ),
    ];
    for (name, auth, code, message) in cases {
        let result = check(&server, auth.as_deref()).await;
        match (code, result) {
            (None, Ok(())) => {}
            (Some(code), Err(status)) => {
                assert_eq!(status.code(), code, "{name}: {status:?}");
                assert_eq!(status.message(), message, "{name}");
            }
            (want, got) => panic!("{name}: want {want:?}, got {got:?}"),
        }
    }
    server.stop().await;
}
