//! The service-token format is a public interface: a service written in JavaScript with
//! Node's `jose`, following only the manual's specification (tests/polyglot/
//! service_token.mjs), mints a hop meshward accepts, and verifies a chain meshward minted.

use std::path::Path;
use std::process::Stdio;

use meshward::jwt::{KeySet, KeySource};
use meshward::mint::ServiceTokenVerifier;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::mint::{EDGE_API, GATEWAY, INVENTORY, Mesh, ORDERS};
use crate::oidc::{script_in, tools_dir};
use crate::support::*;

/// Runs the JavaScript service with `input` on stdin; its JSON answer.
async fn node(dir: &Path, mode: &str, input: Value) -> Value {
    let script = script_in(dir, "tests/polyglot/service_token.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(mode)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "node {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_javascript_service_and_meshward_read_each_others_tokens() {
    let Some(dir) =
        tools_dir("polyglot::a_javascript_service_and_meshward_read_each_others_tokens")
    else {
        return;
    };
    let mesh = Mesh::new();

    // A gateway written in JavaScript mints the first hop over the user's token; meshward's
    // orders accepts it.
    let user = mesh.user_token("alice", "orders:read orders:write");
    let minted = node(
        &dir,
        "mint",
        json!({"identity": GATEWAY, "audience": ORDERS, "subject_token": user, "scope": "orders:read"}),
    )
    .await;
    let js_keys = KeySet::from_jwks_json(&minted["jwks"].to_string()).unwrap();
    let orders = ServiceTokenVerifier::builder(ORDERS)
        .trust_service(GATEWAY, KeySource::from_keys(js_keys.clone()))
        .user_tokens(mesh.users())
        .build()
        .unwrap();
    let at_orders = orders
        .verify(minted["token"].as_str().unwrap())
        .await
        .expect("meshward accepts the JavaScript hop");
    assert_eq!(at_orders.subject(), Some("alice"));
    assert_eq!(at_orders.caller(), Some(GATEWAY));
    assert_eq!(
        at_orders.scopes().to_string(),
        "orders:read",
        "narrowed by the hop"
    );

    // meshward's orders mints the second hop over it; the JavaScript side verifies the
    // whole two-hop chain following the specification.
    let to_inventory = mesh.orders.signer.mint(&at_orders, INVENTORY).unwrap();
    let orders_jwks: Value = mesh.orders.signer.published_jwks();
    let idp_jwks = json!({"keys": [mesh.idp.jwk_json()]});
    let verify_input = |token: &str| {
        json!({
            "token": token,
            "me": INVENTORY,
            "trusted": {GATEWAY: minted["jwks"], ORDERS: orders_jwks},
            "idp": {"issuer": ISSUER, "audiences": [EDGE_API], "jwks": idp_jwks},
        })
    };
    let seen = node(&dir, "verify", verify_input(to_inventory.as_str())).await;
    assert_eq!(
        seen,
        json!({"ok": true, "user": "alice", "caller": ORDERS, "chain": [GATEWAY, ORDERS], "scope": "orders:read"})
    );

    // The JavaScript verifier refuses what meshward refuses: a hop addressed elsewhere.
    let elsewhere = mesh
        .orders
        .signer
        .mint(&at_orders, "spiffe://mesh.test/ns/x/sa/y")
        .unwrap();
    let seen = node(&dir, "verify", verify_input(elsewhere.as_str())).await;
    assert_eq!(seen["ok"], false, "{seen}");

    // And a meshward chain of three hops over a meshward gateway verifies there too.
    let chain = mesh.chain("bob", "orders:read").await;
    let seen = node(
        &dir,
        "verify",
        json!({
            "token": chain[1],
            "me": INVENTORY,
            "trusted": {GATEWAY: mesh.gateway.signer.published_jwks(), ORDERS: mesh.orders.signer.published_jwks()},
            "idp": {"issuer": ISSUER, "audiences": [EDGE_API], "jwks": idp_jwks},
        }),
    )
    .await;
    assert_eq!(seen["chain"], json!([GATEWAY, ORDERS]), "{seen}");
    assert_eq!(seen["user"], "bob");
}
