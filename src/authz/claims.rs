//! Claims and roles: a claim of the principal equals, contains or matches a value, found by a
//! dotted path or an RFC 6901 JSON pointer; roles from where identity providers put them.

use std::fmt;

use serde_json::{Map, Value};

use super::error::{AuthzError, AuthzErrorKind};
use super::requirement::{AuthzRequest, Decision, Requirement};

/// Where a claim is: a dotted path (`realm_access.roles`) or an RFC 6901 JSON pointer
/// (`/https:~1~1example.com~1roles`, `/resource_access/orders.api/roles`), for names that hold
/// dots or slashes (Auth0's namespaced claims, Keycloak client ids).
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimPath {
    text: String,
    pointer: bool,
}

impl ClaimPath {
    /// A path: a JSON pointer when it starts with `/`, else dot-separated names.
    pub fn new(path: impl Into<String>) -> Self {
        let text = path.into();
        Self {
            pointer: text.starts_with('/'),
            text,
        }
    }

    /// A JSON pointer to `names`, escaped (`~` and `/` in a name are fine).
    pub fn of_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut text = String::new();
        for name in names {
            text.push('/');
            text.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        Self {
            text,
            pointer: true,
        }
    }

    /// The value at this path in `claims`.
    pub fn find<'c>(&self, claims: &'c Map<String, Value>) -> Option<&'c Value> {
        if self.pointer {
            // The first reference token names a claim; the rest is a pointer into it.
            let rest = &self.text[1..];
            let (first, tail) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let first = first.replace("~1", "/").replace("~0", "~");
            claims.get(&first)?.pointer(tail)
        } else {
            crate::principal::claim_at_path(claims, &self.text)
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

/// How a claim is compared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    /// Present and not null.
    Exists,
    /// Equal as JSON.
    Equals(Value),
    /// An array holding the value, or a space-delimited string holding it as a word.
    Contains(Value),
    /// A string (or an array element) matching a glob where `*` stands for any run of
    /// characters.
    Matches(String),
}

/// A claim of the principal passes a test.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRequirement {
    pub(crate) path: ClaimPath,
    pub(crate) test: Test,
}

impl Requirement for ClaimRequirement {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        let principal = match request.authenticated() {
            Ok(p) => p,
            Err(e) => return Decision::deny(e),
        };
        let value = self.path.find(principal.claim_set());
        if value.is_some_and(|v| self.test.passes(v)) {
            Decision::allow()
        } else {
            Decision::deny(
                AuthzErrorKind::ClaimMismatch {
                    claim: self.path.as_str().to_owned(),
                }
                .into(),
            )
        }
    }
}

impl Test {
    fn passes(&self, value: &Value) -> bool {
        match self {
            Self::Exists => !value.is_null(),
            Self::Equals(want) => value == want,
            Self::Contains(want) => match (value, want) {
                (Value::Array(items), want) => items.contains(want),
                (Value::String(words), Value::String(word)) => {
                    words.split_ascii_whitespace().any(|w| w == word)
                }
                _ => false,
            },
            Self::Matches(pattern) => match value {
                Value::String(s) => glob(pattern, s),
                Value::Array(items) => items
                    .iter()
                    .any(|item| item.as_str().is_some_and(|s| glob(pattern, s))),
                _ => false,
            },
        }
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (possibly
/// empty) and everything else for itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: the whole text is the pattern.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Where an identity provider puts a user's roles.
#[derive(Clone, PartialEq, Eq)]
pub struct Roles {
    path: ClaimPath,
    label: &'static str,
}

impl Roles {
    /// Keycloak realm roles: `realm_access.roles`.
    pub fn keycloak_realm() -> Self {
        Self {
            path: ClaimPath::of_names(["realm_access", "roles"]),
            label: "keycloak realm roles",
        }
    }

    /// Keycloak client roles: `resource_access.<client>.roles` (the client id may hold
    /// dots).
    pub fn keycloak_client(client_id: &str) -> Self {
        Self {
            path: ClaimPath::of_names(["resource_access", client_id, "roles"]),
            label: "keycloak client roles",
        }
    }

    /// Microsoft Entra ID app roles: `roles`.
    pub fn entra() -> Self {
        Self {
            path: ClaimPath::of_names(["roles"]),
            label: "entra roles",
        }
    }

    /// Group memberships: `groups` (Entra, Okta, Keycloak with a group mapper).
    pub fn groups() -> Self {
        Self {
            path: ClaimPath::of_names(["groups"]),
            label: "groups",
        }
    }

    /// Any claim holding an array of role names (or a space-delimited string).
    pub fn claim(path: impl Into<String>) -> Self {
        Self {
            path: ClaimPath::new(path),
            label: "claim",
        }
    }

    pub(crate) fn holds(&self, claims: &Map<String, Value>, role: &str) -> bool {
        match self.path.find(claims) {
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(role)),
            Some(Value::String(s)) => s.split_ascii_whitespace().any(|r| r == role),
            _ => false,
        }
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {:?}", self.label, self.path)
    }
}

/// The principal holds roles: all of a list, or any one of it.
#[derive(Debug, Clone)]
pub(crate) struct RoleRequirement {
    pub(crate) roles: Roles,
    pub(crate) names: Vec<String>,
    pub(crate) all: bool,
}

impl Requirement for RoleRequirement {
    fn check(&self, request: &AuthzRequest<'_>) -> Decision {
        let principal = match request.authenticated() {
            Ok(p) => p,
            Err(e) => return Decision::deny(e),
        };
        let claims = principal.claim_set();
        let mut held = self.names.iter().map(|n| self.roles.holds(claims, n));
        let ok = if self.all {
            held.all(|h| h)
        } else {
            held.any(|h| h)
        };
        if ok {
            Decision::allow()
        } else {
            Decision::deny(AuthzError::from(AuthzErrorKind::MissingRole {
                roles: self.names.clone(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn paths_and_pointers_reach_namespaced_and_dotted_names() {
        let c = claims(json!({
            "https://example.com/roles": ["admin"],
            "resource_access": {"orders.api": {"roles": ["writer"]}},
            "realm_access": {"roles": ["user"]},
            "a~b": {"c": 1},
        }));
        assert_eq!(
            ClaimPath::new("/https:~1~1example.com~1roles").find(&c),
            Some(&json!(["admin"]))
        );
        assert_eq!(
            ClaimPath::new("/resource_access/orders.api/roles/0").find(&c),
            Some(&json!("writer"))
        );
        assert_eq!(
            ClaimPath::new("realm_access.roles").find(&c),
            Some(&json!(["user"]))
        );
        assert_eq!(ClaimPath::new("/a~0b/c").find(&c), Some(&json!(1)));
        assert_eq!(ClaimPath::of_names(["a~b", "c"]).as_str(), "/a~0b/c");
        assert_eq!(
            ClaimPath::new("resource_access.orders.api.roles").find(&c),
            None,
            "dots split names"
        );
        assert_eq!(ClaimPath::new("/missing").find(&c), None);
        assert_eq!(ClaimPath::new("/").find(&c), None);
    }

    #[test]
    fn tests_equal_contain_match_exist() {
        let t = |test: Test, v: Value| test.passes(&v);
        assert!(t(Test::Equals(json!("acme")), json!("acme")));
        assert!(!t(Test::Equals(json!("acme")), json!("Acme")));
        assert!(t(Test::Contains(json!("b")), json!(["a", "b"])));
        assert!(t(Test::Contains(json!("b")), json!("a b c")));
        assert!(!t(Test::Contains(json!("b")), json!("abc")));
        assert!(!t(Test::Contains(json!(1)), json!({"1": 1})));
        assert!(t(Test::Matches("team-*".into()), json!("team-red")));
        assert!(t(
            Test::Matches("*@example.com".into()),
            json!(["x@other", "y@example.com"])
        ));
        assert!(!t(Test::Matches("team-*".into()), json!(7)));
        assert!(t(Test::Exists, json!(false)));
        assert!(!t(Test::Exists, json!(null)));
    }

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*b*c", "axbxc"));
        // What a middle part matched is used up: the last part cannot reuse it.
        assert!(!glob("a*b*b", "axb"));
        assert!(glob("a*b*b", "axbb"));
        assert!(!glob("a*b*c", "axc"));
        assert!(glob("abc", "abc"));
        assert!(!glob("abc", "abcd"));
        assert!(!glob("a*c", "ab"));
        assert!(glob("*.example.com", "api.example.com"));
        assert!(!glob("*.example.com", "example.com"));
    }

    #[test]
    fn roles_from_each_provider() {
        let c = claims(json!({
            "realm_access": {"roles": ["user"]},
            "resource_access": {"orders.api": {"roles": ["writer"]}},
            "roles": ["Reports.Read"],
            "groups": "ops devs",
        }));
        assert!(Roles::keycloak_realm().holds(&c, "user"));
        assert!(Roles::keycloak_client("orders.api").holds(&c, "writer"));
        assert!(!Roles::keycloak_client("orders").holds(&c, "writer"));
        assert!(Roles::entra().holds(&c, "Reports.Read"));
        assert!(Roles::groups().holds(&c, "devs"));
        assert!(Roles::claim("/realm_access/roles").holds(&c, "user"));
        assert!(!Roles::entra().holds(&c, "user"));
        assert!(format!("{:?}", Roles::entra()).contains("entra"));
    }
}
