//! [`Scopes`]: the normalised set of a token's scopes (or roles).

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

/// A set of scopes (or roles), normalised from the forms identity providers use: a
/// space-delimited `scope` string (RFC 8693, RFC 9068), an `scp` array or string (Entra,
/// Okta), and configured claim paths such as `realm_access.roles` (Keycloak).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    set: BTreeSet<Box<str>>,
}

impl Scopes {
    /// Scopes from an iterator of names; empty names are ignored.
    pub fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut scopes = Self::default();
        for name in names {
            scopes.insert_delimited(name.as_ref());
        }
        scopes
    }

    /// Adds every space-delimited name of a `scope` string, or every string of an array.
    pub(crate) fn insert_value(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.insert_delimited(s),
            Value::Array(items) => {
                for item in items {
                    if let Value::String(s) = item {
                        self.insert_delimited(s);
                    }
                }
            }
            _ => {}
        }
    }

    pub(crate) fn insert_delimited(&mut self, s: &str) {
        for name in s.split_ascii_whitespace() {
            if !self.set.contains(name) {
                self.set.insert(name.into());
            }
        }
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.set.contains(scope)
    }

    /// Whether the set holds every one of `scopes`.
    pub fn contains_all<'a>(&self, scopes: impl IntoIterator<Item = &'a str>) -> bool {
        scopes.into_iter().all(|s| self.contains(s))
    }

    /// Whether the set holds at least one of `scopes`.
    pub fn contains_any<'a>(&self, scopes: impl IntoIterator<Item = &'a str>) -> bool {
        scopes.into_iter().any(|s| self.contains(s))
    }

    /// The scopes in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.set.iter().map(|s| &**s)
    }

    /// How many scopes.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
        }
        Ok(())
    }
}
