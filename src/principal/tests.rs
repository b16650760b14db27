use super::*;
use serde_json::json;

#[test]
fn scopes_from_every_shape() {
    let mut s = Scopes::default();
    s.insert_value(&json!("read  write\tread"));
    s.insert_value(&json!(["admin", 3, "write", "a b"]));
    s.insert_value(&json!({"not": "scopes"}));
    assert_eq!(
        s.iter().collect::<Vec<_>>(),
        ["a", "admin", "b", "read", "write"]
    );
    assert!(s.contains_all(["read", "admin"]));
    assert!(!s.contains_all(["read", "delete"]));
    assert!(s.contains_any(["delete", "read"]));
    assert_eq!(s.to_string(), "a admin b read write");
}

#[test]
fn empty_scope_string_gives_no_scopes() {
    let mut s = Scopes::default();
    s.insert_value(&json!("   "));
    s.insert_value(&json!(null));
    assert!(s.is_empty());
}

#[test]
fn claim_paths() {
    let claims = json!({"realm_access": {"roles": ["x"]}, "a": 1});
    let map = claims.as_object().unwrap();
    assert_eq!(
        claim_at_path(map, "realm_access.roles"),
        Some(&json!(["x"]))
    );
    assert_eq!(claim_at_path(map, "a.b"), None);
    assert_eq!(claim_at_path(map, "missing"), None);
}
