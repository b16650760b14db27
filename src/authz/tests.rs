//! Every requirement kind and combinator, the rule table through the layer (order, default,
//! path edge cases, 401/403/503, dry run), and Rego policies.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, StatusCode, header};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

use super::*;
use crate::peer::{IdentityParts, PeerIdentity};
use crate::principal::{Principal, test_principal_with};
use crate::rejection::Rejection;

fn alice() -> Principal {
    test_principal_with(
        "read write",
        json!({
            "sub": "alice",
            "tenant": "acme",
            "email": "alice@example.com",
            "https://example.com/roles": ["admin", "auditor"],
            "realm_access": {"roles": ["user"]},
            "resource_access": {"orders.api": {"roles": ["writer"]}},
            "groups": "ops devs",
        }),
    )
}

fn request(method: &str, path: &str, principal: Option<Principal>) -> Request<()> {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .body(())
        .unwrap();
    if let Some(p) = principal {
        r.extensions_mut().insert(p);
    }
    r
}

fn with_peer(mut r: Request<()>, spiffe: &str) -> Request<()> {
    r.extensions_mut().insert(PeerIdentity::from_parts(
        IdentityParts::default().with_uris(vec![spiffe.to_owned()]),
    ));
    r
}

/// The label of the refusal, or `"ok"`, when the check decided at once.
fn now(q: &impl Requirement, r: &Request<()>) -> &'static str {
    match q.check(&AuthzRequest::new(r)).ready_result() {
        Some(Ok(())) => "ok",
        Some(Err(e)) => e.kind().label(),
        None => "pending",
    }
}

#[test]
fn every_requirement_kind() {
    let a = request("GET", "/", Some(alice()));
    let anon = request("GET", "/", None);
    let cases: Vec<(BoxRequirement, &str)> = vec![
        (require::authenticated(), "ok"),
        (require::scopes_all(["read", "write"]), "ok"),
        (require::scopes_all(["read", "admin"]), "insufficient_scope"),
        (require::scopes_any(["admin", "write"]), "ok"),
        (require::claim("tenant").equals("acme"), "ok"),
        (require::claim("tenant").equals("other"), "claim_mismatch"),
        (
            require::claim("/https:~1~1example.com~1roles").contains("admin"),
            "ok",
        ),
        (
            require::claim("/https:~1~1example.com~1roles").contains("root"),
            "claim_mismatch",
        ),
        (require::claim("email").matches("*@example.com"), "ok"),
        (
            require::claim("email").matches("*@evil.com"),
            "claim_mismatch",
        ),
        (require::claim("tenant").exists(), "ok"),
        (require::claim("missing").exists(), "claim_mismatch"),
        (require::role(Roles::keycloak_realm(), "user"), "ok"),
        (
            require::role(Roles::keycloak_client("orders.api"), "writer"),
            "ok",
        ),
        (
            require::role(Roles::keycloak_client("orders.api"), "reader"),
            "missing_role",
        ),
        (require::roles_any(Roles::groups(), ["x", "devs"]), "ok"),
        (
            require::roles_all(Roles::groups(), ["ops", "x"]),
            "missing_role",
        ),
        (
            require::role(Roles::claim("/https:~1~1example.com~1roles"), "auditor"),
            "ok",
        ),
        (
            require::role(Roles::entra(), "Reports.Read"),
            "missing_role",
        ),
        (require::subject_in(["bob", "alice"]), "ok"),
        (require::subject_in(["bob"]), "subject_not_allowed"),
        (require::issuer_in(["https://issuer.test"]), "ok"),
        (require::issuer_in(["https://other"]), "issuer_not_allowed"),
        (
            require::caller_in(["spiffe://td/gateway"]),
            "caller_not_allowed",
        ),
        (require::chain_within(["spiffe://td/gateway"]), "ok"),
        (
            require::from_fn("only GET", |r| r.method() == http::Method::GET),
            "ok",
        ),
        (
            require::from_fn("only POST", |r| r.method() == http::Method::POST),
            "custom",
        ),
    ];
    for (q, want) in &cases {
        assert_eq!(now(q, &a), *want, "{q:?}");
        // Anything about the principal is 401 without one (the closures aside).
        let anonymous = now(q, &anon);
        if !format!("{q:?}").contains("FromFn") {
            assert_eq!(anonymous, "unauthenticated", "{q:?}");
        }
    }
}

#[test]
fn peers_and_chains() {
    let peer = PeerRequirement::any_verified().trust_domain("td");
    let q = require::peer(peer);
    assert_eq!(
        now(&q, &with_peer(request("GET", "/", None), "spiffe://td/a")),
        "ok"
    );
    assert_eq!(
        now(
            &q,
            &with_peer(request("GET", "/", None), "spiffe://other/a")
        ),
        "peer_not_allowed"
    );
    assert_eq!(now(&q, &request("GET", "/", None)), "no_peer_identity");
    let through =
        crate::principal::test_principal_through(&["spiffe://td/gateway", "spiffe://td/orders"]);
    let r = request("GET", "/", Some(through));
    assert_eq!(now(&require::caller_in(["spiffe://td/orders"]), &r), "ok");
    assert_eq!(
        now(&require::caller_in(["spiffe://td/gateway"]), &r),
        "caller_not_allowed"
    );
    assert_eq!(
        now(
            &require::chain_within(["spiffe://td/gateway", "spiffe://td/orders"]),
            &r
        ),
        "ok"
    );
    let narrow = require::chain_within(["spiffe://td/orders"]);
    let refused = narrow.check(&AuthzRequest::new(&r));
    assert_eq!(
        refused.ready_result().unwrap().as_ref().unwrap_err().kind(),
        &AuthzErrorKind::ChainNotAllowed {
            service: "spiffe://td/gateway".into()
        }
    );
}

#[test]
fn combinators() {
    let a = request("GET", "/", Some(alice()));
    let anon = request("GET", "/", None);
    let yes = || require::scopes_all(["read"]);
    let no = || require::subject_in(["bob"]);
    assert_eq!(now(&require::all([yes(), yes()]), &a), "ok");
    assert_eq!(now(&require::all([yes(), no()]), &a), "subject_not_allowed");
    assert_eq!(
        now(&require::all([require::scopes_all(["x"]), no()]), &a),
        "insufficient_scope",
        "the first refusal in order"
    );
    assert_eq!(now(&require::any([no(), yes()]), &a), "ok");
    assert_eq!(
        now(&require::any([no(), require::scopes_all(["x"])]), &a),
        "subject_not_allowed"
    );
    assert_eq!(now(&require::any([]), &a), "custom");
    assert_eq!(now(&require::all([]), &a), "ok");
    assert_eq!(now(&require::not(no()), &a), "ok");
    assert_eq!(now(&require::not(yes()), &a), "excluded");
    // `not` never lets the anonymous (401) or the undecided (503) through.
    assert_eq!(now(&require::not(no()), &anon), "unauthenticated");
    assert_eq!(
        now(
            &require::not(require::peer(PeerRequirement::any_verified())),
            &anon
        ),
        "no_peer_identity"
    );
}

/// A requirement that answers later, as a remote decision point does.
#[derive(Debug, Clone)]
struct Later(Result<(), AuthzErrorKind>);

impl Requirement for Later {
    fn check(&self, _: &AuthzRequest<'_>) -> Decision {
        let result = self.0.clone().map_err(AuthzError::from);
        Decision::pending(Box::pin(async move {
            tokio::task::yield_now().await;
            result
        }))
    }
}

#[tokio::test]
async fn combinators_wait_for_pending_decisions() {
    let a = || request("GET", "/", Some(alice()));
    let later_ok = || BoxRequirement::new(Later(Ok(())));
    let later_no =
        || BoxRequirement::new(Later(Err(AuthzErrorKind::PolicyDenied { reason: None })));
    let later_down = || BoxRequirement::new(Later(Err(AuthzErrorKind::PolicyUnavailable)));
    async fn decide(q: BoxRequirement, r: Request<()>) -> &'static str {
        let (outcome, _) = q.check(&AuthzRequest::new(&r)).into_parts();
        match outcome {
            crate::gate::Answer::Later(f) => match f.await {
                Ok(()) => "ok",
                Err(e) => e.kind().label(),
            },
            crate::gate::Answer::Now(_) => "ready",
        }
    }
    assert_eq!(
        decide(
            require::all([require::scopes_all(["read"]), later_ok()]),
            a()
        )
        .await,
        "ok"
    );
    assert_eq!(
        decide(require::all([later_ok(), later_no()]), a()).await,
        "policy_denied"
    );
    assert_eq!(
        decide(require::any([later_no(), later_ok()]), a()).await,
        "ok"
    );
    assert_eq!(
        decide(
            require::any([require::subject_in(["bob"]), later_no()]),
            a()
        )
        .await,
        "subject_not_allowed"
    );
    assert_eq!(decide(require::not(later_no()), a()).await, "ok");
    assert_eq!(decide(require::not(later_ok()), a()).await, "excluded");
    assert_eq!(
        decide(require::not(later_down()), a()).await,
        "policy_unavailable"
    );
    // A synchronous refusal decides `all` at once, without waiting.
    let q = require::all([later_ok(), require::subject_in(["bob"])]);
    assert_eq!(now(&q, &a()), "subject_not_allowed");
    // A synchronous pass decides `any` at once.
    let q = require::any([later_no(), require::scopes_all(["read"])]);
    assert_eq!(now(&q, &a()), "ok");
}

fn table() -> RuleTable {
    RuleTable::builder()
        .rule(Rule::new("health").path("/healthz").allow_anyone())
        .rule(
            Rule::new("export")
                .methods(["POST"])
                .path("/orders/export")
                .require(require::scopes_all(["admin"])),
        )
        .rule(
            Rule::new("read orders")
                .methods(["GET", "head"])
                .path("/orders/**")
                .require(require::scopes_any(["read"])),
        )
        .rule(
            Rule::new("admin")
                .path("/admin/**")
                .require(require::scopes_all(["admin"])),
        )
        .rule(
            Rule::new("reserve")
                .path("/shop.Inventory/Reserve")
                .require(require::caller_in(["spiffe://td/orders"])),
        )
        .rule(
            Rule::new("inventory")
                .path("/shop.Inventory/*")
                .require(require::authenticated()),
        )
        .build()
        .unwrap()
}

#[test]
fn a_table_counts_its_rules() {
    assert_eq!(table().len(), 6);
    assert!(!table().is_empty());
    let empty = RuleTable::builder().build().unwrap();
    assert_eq!(empty.len(), 0);
    assert!(empty.is_empty());
}

#[test]
fn a_check_names_the_rule_that_decided() {
    let t = table();
    let rule = |method: &str, path: &str, principal: Option<Principal>| {
        let r = request(method, path, principal);
        t.check(&AuthzRequest::new(&r)).rule().map(str::to_owned)
    };
    assert_eq!(rule("GET", "/healthz", None).as_deref(), Some("health"));
    // A refusal names its rule too.
    assert_eq!(
        rule("GET", "/admin/x", Some(alice())).as_deref(),
        Some("admin")
    );
    // No rule decided: the table's default.
    assert_eq!(rule("GET", "/nowhere", Some(alice())), None);
    // A requirement that is not a table names none.
    let r = request("GET", "/", Some(alice()));
    assert_eq!(
        require::authenticated()
            .check(&AuthzRequest::new(&r))
            .rule(),
        None
    );
}

async fn through(
    layer: AuthzLayer<impl Requirement>,
    r: Request<()>,
) -> (StatusCode, Option<String>, String) {
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let res = svc.oneshot(r).await.unwrap();
    let label = res
        .extensions()
        .get::<Rejection>()
        .map_or_else(|| "ok".to_owned(), |r| r.label().to_owned());
    let challenge = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status(), challenge, label)
}

#[tokio::test]
async fn the_rule_table_through_the_layer() {
    let layer = || AuthzLayer::new(table());
    let a = || Some(alice());
    let cases: Vec<(&str, &str, Option<Principal>, u16, &str)> = vec![
        ("GET", "/healthz", None, 200, "ok"),
        ("GET", "/orders/7", a(), 200, "ok"),
        ("HEAD", "/orders", a(), 200, "ok"),
        ("GET", "/orders/7", None, 401, "unauthenticated"),
        ("DELETE", "/orders/7", a(), 403, "no_rule"),
        ("POST", "/orders/export", a(), 403, "insufficient_scope"),
        ("GET", "/orders/export", a(), 200, "ok"),
        ("GET", "/admin", a(), 403, "insufficient_scope"),
        ("GET", "/admin/../orders/7", a(), 403, "path_not_accepted"),
        ("GET", "/%61dmin/users", a(), 403, "insufficient_scope"),
        ("GET", "//admin//users", a(), 403, "path_not_accepted"),
        ("GET", "/admin//users", a(), 403, "path_not_accepted"),
        ("GET", "/orders/7/", a(), 200, "ok"),
        ("GET", "/orders/../admin", a(), 403, "path_not_accepted"),
        ("GET", "/orders/%2e%2e/admin", a(), 403, "path_not_accepted"),
        ("GET", "/orders/./7", a(), 403, "path_not_accepted"),
        ("GET", "/orders/a%2Fb", a(), 403, "path_not_accepted"),
        ("GET", "/../orders", a(), 403, "path_not_accepted"),
        ("GET", "/Admin", a(), 403, "no_rule"),
        ("GET", "/orders/", a(), 200, "ok"),
        (
            "POST",
            "/shop.Inventory/Reserve",
            a(),
            403,
            "caller_not_allowed",
        ),
        ("POST", "/shop.Inventory/Release", a(), 200, "ok"),
        ("POST", "/shop.InventoryAdmin/Reserve", a(), 403, "no_rule"),
        ("GET", "/unknown", None, 403, "no_rule"),
    ];
    for (method, path, principal, status, label) in cases {
        let (seen, challenge, seen_label) =
            through(layer(), request(method, path, principal)).await;
        assert_eq!(
            (seen.as_u16(), seen_label.as_str()),
            (status, label),
            "{method} {path}"
        );
        match status {
            401 => assert_eq!(challenge.as_deref(), Some("Bearer")),
            403 if label == "insufficient_scope" => {
                assert!(challenge.unwrap().contains("insufficient_scope"));
            }
            _ => assert_eq!(challenge, None, "{method} {path}"),
        }
    }
    // Case-insensitive tables and allowing by default are configured.
    let lenient = RuleTable::builder()
        .case_insensitive()
        .allow_by_default()
        .rule(
            Rule::new("admin")
                .path("/admin/**")
                .require(require::scopes_all(["admin"])),
        )
        .build()
        .unwrap();
    let (s, _, l) = through(
        AuthzLayer::new(lenient),
        request("GET", "/ADMIN/x", Some(alice())),
    )
    .await;
    assert_eq!((s.as_u16(), l.as_str()), (403, "insufficient_scope"));
    let lenient = RuleTable::builder().allow_by_default().build().unwrap();
    assert!(lenient.is_empty());
    let (s, _, _) = through(AuthzLayer::new(lenient), request("GET", "/x", None)).await;
    assert_eq!(s, 200);
    let strict = RuleTable::builder()
        .trailing_slash(TrailingSlash::Strict)
        .rule(Rule::new("dir").path("/orders/").allow_anyone())
        .build()
        .unwrap();
    assert_eq!(now(&strict, &request("GET", "/orders/", None)), "ok");
    assert_eq!(now(&strict, &request("GET", "/orders", None)), "no_rule");
    // A table whose router resolves dot segments too may resolve them.
    let resolving = || {
        RuleTable::builder()
            .resolve_dot_segments()
            .rule(
                Rule::new("admin")
                    .path("/admin/**")
                    .require(require::scopes_all(["admin"])),
            )
            .rule(Rule::new("orders").path("/orders/**").allow_anyone())
            .build()
            .unwrap()
    };
    assert_eq!(
        now(&resolving(), &request("GET", "/admin/../orders/7", None)),
        "ok"
    );
    assert_eq!(
        now(
            &resolving(),
            &request("GET", "/orders/%2e%2e/admin", Some(alice()))
        ),
        "insufficient_scope"
    );
    assert_eq!(
        now(&resolving(), &request("GET", "/../orders", None)),
        "path_not_accepted"
    );
}

#[tokio::test]
async fn rules_are_swapped_at_run_time_and_bad_tables_never_half_load() {
    let shared = SharedRules::new(table());
    let layer = AuthzLayer::new(shared.clone());
    assert_eq!(
        through(layer.clone(), request("GET", "/healthz", None))
            .await
            .0,
        200
    );
    let next = RuleTable::from_toml("[[rule]]\nname = \"x\"\npath = \"/x\"\nallow = \"anyone\"\n")
        .unwrap();
    shared.replace(next);
    assert_eq!(
        through(layer.clone(), request("GET", "/healthz", None))
            .await
            .0,
        403
    );
    assert_eq!(through(layer, request("GET", "/x", None)).await.0, 200);
    // A rule that fails makes the whole table fail: nothing of it is used.
    let broken = RuleTable::builder()
        .rule(Rule::new("ok").path("/ok").allow_anyone())
        .rule(Rule::new("bad").path("no-slash").allow_anyone())
        .build()
        .unwrap_err();
    assert!(
        matches!(broken.kind(), RulesErrorKind::InvalidRule { number: 2, .. }),
        "{broken}"
    );
    assert!(matches!(
        RuleTable::builder()
            .rule(Rule::new("x").path("/x"))
            .build()
            .unwrap_err()
            .kind(),
        RulesErrorKind::InvalidRule { .. }
    ));
    assert!(matches!(
        RuleTable::builder()
            .rule(Rule::new("x").allow_anyone())
            .build()
            .unwrap_err()
            .kind(),
        RulesErrorKind::InvalidRule { .. }
    ));
}

#[tokio::test]
async fn dry_run_lets_through_and_says_what_it_would_refuse() {
    let layer = AuthzLayer::new(table()).dry_run();
    let (status, challenge, label) =
        through(layer, request("DELETE", "/orders/7", Some(alice()))).await;
    assert_eq!((status.as_u16(), label.as_str()), (200, "ok"));
    assert_eq!(challenge, None);
}

#[tokio::test]
async fn grpc_answers() {
    let svc = ServiceBuilder::new()
        .layer(AuthzLayer::new(table()))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let grpc = |path: &str, p: Option<Principal>| {
        let mut r = request("POST", path, p);
        r.headers_mut()
            .insert(header::CONTENT_TYPE, "application/grpc".parse().unwrap());
        r
    };
    let denied = svc
        .clone()
        .oneshot(grpc("/shop.Inventory/Reserve", Some(alice())))
        .await
        .unwrap();
    assert_eq!(denied.headers()["grpc-status"], "7");
    let anonymous = svc
        .clone()
        .oneshot(grpc("/shop.Inventory/Release", None))
        .await
        .unwrap();
    assert_eq!(anonymous.headers()["grpc-status"], "16");
    let pending = ServiceBuilder::new()
        .layer(AuthzLayer::new(BoxRequirement::new(Later(Err(
            AuthzErrorKind::PolicyUnavailable,
        )))))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let down = pending
        .oneshot(grpc("/shop.Inventory/Release", Some(alice())))
        .await
        .unwrap();
    assert_eq!(down.headers()["grpc-status"], "14");
}

#[tokio::test]
async fn a_pending_decision_through_the_layer() {
    let layer = |q: Later| AuthzLayer::new(BoxRequirement::new(q));
    let (s, _, _) = through(layer(Later(Ok(()))), request("GET", "/", None)).await;
    assert_eq!(s, 200);
    let (s, c, l) = through(
        layer(Later(Err(AuthzErrorKind::PolicyUnavailable))),
        request("GET", "/", None),
    )
    .await;
    assert_eq!(
        (s.as_u16(), l.as_str(), c),
        (503, "policy_unavailable", None)
    );
    let (s, _, l) = through(
        layer(Later(Err(AuthzErrorKind::PolicyDenied {
            reason: Some("tenant".into()),
        })))
        .dry_run(),
        request("GET", "/", None),
    )
    .await;
    assert_eq!((s.as_u16(), l.as_str()), (200, "ok"));
    let _ = Arc::new(());
}

#[cfg(feature = "rego")]
mod rego {
    use super::*;

    const POLICY: &str = r#"
        package authz
        import rego.v1

        default allow := false
        allow if input.principal.subject == "alice"
        allow if {
            input.request.grpc.service == "shop.Inventory"
            input.caller == "spiffe://td/orders"
        }
        decision := {"allow": false, "reason": "tenant mismatch"} if input.request.headers["x-tenant"] != "acme"
        decision := {"allow": true} if input.request.headers["x-tenant"] == "acme"
        broken := 1 / count(input.chain) if true
        slow if { count([x | some x in numbers.range(1, 10000000)]) > 0 }
    "#;

    fn policy(rule: &str) -> RegoPolicy {
        RegoPolicy::builder(rule)
            .add_policy("authz.rego", POLICY)
            .input_headers(["X-Tenant"])
            .build()
            .unwrap()
    }

    #[test]
    fn allow_deny_undefined_error() {
        let allow = policy("data.authz.allow");
        let mallory = || {
            Some(crate::principal::test_principal_with(
                "read",
                serde_json::json!({"sub": "mallory"}),
            ))
        };
        assert_eq!(now(&allow, &request("GET", "/", Some(alice()))), "ok");
        assert_eq!(
            now(&allow, &request("GET", "/", mallory())),
            "policy_denied"
        );
        // Refused without credentials: 401, a token might help.
        assert_eq!(now(&allow, &request("GET", "/", None)), "unauthenticated");
        let decision = policy("data.authz.decision");
        let mut r = request("GET", "/", mallory());
        r.headers_mut().insert("x-tenant", "acme".parse().unwrap());
        assert_eq!(now(&decision, &r), "ok");
        r.headers_mut().insert("x-tenant", "evil".parse().unwrap());
        let refused = decision.check(&AuthzRequest::new(&r));
        assert_eq!(
            refused.ready_result().unwrap().as_ref().unwrap_err().kind(),
            &AuthzErrorKind::PolicyDenied {
                reason: Some("tenant mismatch".into())
            }
        );
        // No x-tenant header: neither branch is defined.
        assert_eq!(
            now(&decision, &request("GET", "/", mallory())),
            "policy_undefined"
        );
        assert_eq!(
            now(&decision, &request("GET", "/", None)),
            "unauthenticated"
        );
        assert_eq!(
            now(&policy("data.authz.broken"), &request("GET", "/", None)),
            "policy_error"
        );
    }

    #[test]
    fn a_slow_policy_is_cut_off_and_refused() {
        let slow = RegoPolicy::builder("data.authz.slow")
            .add_policy("authz.rego", POLICY)
            .time_limit(std::time::Duration::from_millis(20))
            .build()
            .unwrap();
        // Without the limit this takes seconds; with it, the evaluation is cut off and the
        // request refused (the error, not the time, is what is asserted).
        assert_eq!(now(&slow, &request("GET", "/", None)), "policy_error");
    }

    #[test]
    fn grpc_and_chain_inputs() {
        let allow = policy("data.authz.allow");
        let through = crate::principal::test_principal_through(&[
            "spiffe://td/gateway",
            "spiffe://td/orders",
        ]);
        let mut r = request("POST", "/shop.Inventory/Reserve", Some(through));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, "application/grpc".parse().unwrap());
        assert_eq!(now(&allow, &r), "ok");
    }

    #[test]
    fn policies_swap_and_bad_ones_never_replace_good_ones() {
        let allow = policy("data.authz.allow");
        let bob = crate::principal::test_principal_with("", json!({"sub": "bob"}));
        assert_eq!(
            now(&allow, &request("GET", "/", Some(bob.clone()))),
            "policy_denied"
        );
        allow
            .replace(
                RegoPolicy::builder("data.authz.allow")
                    .add_policy("p.rego", "package authz\nimport rego.v1\nallow := true"),
            )
            .unwrap();
        assert_eq!(now(&allow, &request("GET", "/", Some(bob.clone()))), "ok");
        let bad = allow.replace(
            RegoPolicy::builder("data.authz.allow")
                .add_policy("p.rego", "package authz\nallow if {"),
        );
        assert!(matches!(
            bad.unwrap_err().kind(),
            RegoErrorKind::Policy { .. }
        ));
        assert_eq!(
            now(&allow, &request("GET", "/", Some(bob))),
            "ok",
            "the good policy stays"
        );
        let unknown = RegoPolicy::builder("data.authz.nothing")
            .add_policy("p.rego", POLICY)
            .build();
        assert!(matches!(
            unknown.unwrap_err().kind(),
            RegoErrorKind::Policy { .. }
        ));
        let empty = RegoPolicy::builder("data.authz.allow").build();
        assert!(matches!(
            empty.unwrap_err().kind(),
            RegoErrorKind::Policy { .. }
        ));
        let data = RegoPolicy::builder("data.authz.allow")
            .add_policy(
                "p.rego",
                "package authz\nimport rego.v1\nallow if input.principal.subject in data.users",
            )
            .add_data_json("users.json", r#"{"users": ["carol"]}"#)
            .build()
            .unwrap();
        let carol = crate::principal::test_principal_with("", json!({"sub": "carol"}));
        assert_eq!(now(&data, &request("GET", "/", Some(carol))), "ok");
        let bad_data = RegoPolicy::builder("data.authz.allow")
            .add_policy("p.rego", POLICY)
            .add_data_json("d", "{");
        assert!(matches!(
            bad_data.build().unwrap_err().kind(),
            RegoErrorKind::Data { .. }
        ));
        // The time limit is above zero and at most one second.
        let limit = |limit| {
            RegoPolicy::builder("data.authz.allow")
                .add_policy("p.rego", POLICY)
                .time_limit(limit)
                .build()
        };
        for bad in [
            std::time::Duration::ZERO,
            std::time::Duration::from_secs(1) + std::time::Duration::from_nanos(1),
        ] {
            assert!(
                matches!(
                    limit(bad).unwrap_err().kind(),
                    RegoErrorKind::InvalidSetting { .. }
                ),
                "{bad:?}"
            );
        }
        assert!(limit(std::time::Duration::from_secs(1)).is_ok());
        let missing =
            RegoPolicy::builder("data.authz.allow").add_policy_file("/nonexistent/p.rego");
        assert!(matches!(
            missing.build().unwrap_err().kind(),
            RegoErrorKind::Io { .. }
        ));
        // Files up to 1 MiB are read; a larger one is refused before it is read.
        let dir = std::env::temp_dir().join(format!("meshward-rego-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let padded = dir.join("padded.rego");
        let mut text = String::from("package authz\nimport rego.v1\nallow := true\n");
        while text.len() < 64 * 1024 {
            text.push_str("# a comment that pads the policy file past a few kilobytes\n");
        }
        std::fs::write(&padded, &text).unwrap();
        let read = RegoPolicy::builder("data.authz.allow")
            .add_policy_file(&padded)
            .build()
            .unwrap();
        assert_eq!(
            now(
                &read,
                &request(
                    "GET",
                    "/",
                    Some(test_principal_with("", json!({"sub": "dan"})))
                )
            ),
            "ok"
        );
        let huge = dir.join("huge.json");
        let mut json = vec![b' '; 1024 * 1024];
        json.extend_from_slice(b"{}");
        std::fs::write(&huge, &json).unwrap();
        let too_big = RegoPolicy::builder("data.authz.allow")
            .add_policy("p.rego", POLICY)
            .add_data_file(&huge);
        assert!(matches!(
            too_big.build().unwrap_err().kind(),
            RegoErrorKind::Io { .. }
        ));
        let at_bound = dir.join("bound.json");
        json.truncate(1024 * 1024 - 2);
        json.extend_from_slice(b"{}");
        std::fs::write(&at_bound, &json).unwrap();
        RegoPolicy::builder("data.authz.allow")
            .add_policy("p.rego", POLICY)
            .add_data_file(&at_bound)
            .build()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
