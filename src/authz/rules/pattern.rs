//! Path patterns (`/orders/*`, `/admin/**`, `/shop.Inventory/*`) compiled into one trie, so
//! that finding the first rule that matches a request costs a walk down its segments, not a
//! scan of every rule.

use std::collections::HashMap;

use http::Method;

use super::normalize::TrailingSlash;

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: any number of segments, none included.
    Any,
}

/// Parses a pattern: `/` then segments separated by `/`; `*` and `**` stand alone in their
/// segment.
pub(crate) fn parse(
    pattern: &str,
    lowercase: bool,
    trailing: TrailingSlash,
) -> Result<Vec<PartOf>, &'static str> {
    let Some(rest) = pattern.strip_prefix('/') else {
        return Err("a path pattern starts with /");
    };
    let mut parts = Vec::new();
    let raw: Vec<&str> = rest.split('/').collect();
    let last = raw.len().saturating_sub(1);
    for (i, segment) in raw.iter().enumerate() {
        match *segment {
            "" if i == last && i > 0 && trailing == TrailingSlash::Strict => {
                parts.push(PartOf(Part::Literal(String::new())));
            }
            "" if i == last => {}
            "" => return Err("a path pattern has no empty segment (//)"),
            "*" => parts.push(PartOf(Part::One)),
            "**" if parts.iter().any(|p| p == &PartOf(Part::Any)) => {
                // One `**` keeps matching linear in the path's length.
                return Err("a path pattern has at most one **");
            }
            "**" => parts.push(PartOf(Part::Any)),
            "." | ".." => return Err("a path pattern has no . or .. segment"),
            s if s.contains('*') && !s.starts_with('{') => {
                return Err("* and ** stand alone in their segment");
            }
            // A router's parameter syntax would be read as a literal segment and never
            // match: the rule below it would decide instead.
            s if s.starts_with("{*") => {
                return Err("{*name} is a router's syntax: write ** for any number of segments");
            }
            s if s.contains('{') || s.contains('}') => {
                return Err("{name} is a router's syntax: write * for one segment");
            }
            s if s.starts_with(':') => {
                return Err(":name is a router's syntax: write * for one segment");
            }
            s => parts.push(PartOf(Part::Literal(if lowercase {
                s.to_lowercase()
            } else {
                s.to_owned()
            }))),
        }
    }
    Ok(parts)
}

/// A parsed pattern segment, opaque outside this file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartOf(Part);

/// Which rules end at a trie node: their index and methods (`None`: any method).
#[derive(Debug, Default)]
struct Ends(Vec<(usize, Option<Vec<Method>>)>);

/// The trie of every rule's pattern.
#[derive(Debug, Default)]
pub(crate) struct Trie {
    literal: HashMap<String, Trie>,
    one: Option<Box<Trie>>,
    any: Option<Box<Trie>>,
    ends: Ends,
}

impl Trie {
    /// Adds rule `index`, matching `parts` with `methods`.
    pub(crate) fn insert(&mut self, parts: &[PartOf], index: usize, methods: Option<Vec<Method>>) {
        let mut node = self;
        for PartOf(part) in parts {
            node = match part {
                Part::Literal(s) => node.literal.entry(s.clone()).or_default(),
                Part::One => node.one.get_or_insert_with(Default::default),
                Part::Any => node.any.get_or_insert_with(Default::default),
            };
        }
        node.ends.0.push((index, methods));
    }

    /// The lowest-numbered rule whose pattern matches `segments` and whose methods include
    /// `method`.
    pub(crate) fn first_match<S: AsRef<str>>(
        &self,
        method: &Method,
        segments: &[S],
    ) -> Option<usize> {
        let mut best = None;
        self.walk(method, segments, &mut best);
        best
    }

    fn walk<S: AsRef<str>>(&self, method: &Method, segments: &[S], best: &mut Option<usize>) {
        // `**` here may take none, or any number, of the remaining segments.
        if let Some(any) = &self.any {
            for skip in 0..=segments.len() {
                any.walk(method, &segments[skip..], best);
            }
        }
        match segments.split_first() {
            None => {
                for (index, methods) in &self.ends.0 {
                    let allowed = methods.as_ref().is_none_or(|m| m.contains(method));
                    if allowed && best.is_none_or(|b| *index < b) {
                        *best = Some(*index);
                    }
                }
            }
            Some((first, rest)) => {
                if let Some(next) = self.literal.get(first.as_ref()) {
                    next.walk(method, rest, best);
                }
                if let Some(one) = &self.one
                    && !first.as_ref().is_empty()
                {
                    one.walk(method, rest, best);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(patterns: &[(&str, Option<&[&str]>)]) -> Trie {
        let mut t = Trie::default();
        for (i, (p, methods)) in patterns.iter().enumerate() {
            let parts = parse(p, false, TrailingSlash::Ignore).unwrap();
            let methods = methods.map(|m| {
                m.iter()
                    .map(|m| Method::from_bytes(m.as_bytes()).unwrap())
                    .collect()
            });
            t.insert(&parts, i, methods);
        }
        t
    }

    fn find(t: &Trie, method: &str, path: &str) -> Option<usize> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        t.first_match(&Method::from_bytes(method.as_bytes()).unwrap(), &segments)
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let t = trie(&[
            ("/orders/export", Some(&["POST"])),
            ("/orders/*", Some(&["GET"])),
            ("/orders/**", None),
            ("/admin/**", None),
            ("/shop.Inventory/Reserve", None),
            ("/shop.Inventory/*", None),
            ("/**", Some(&["GET"])),
        ]);
        assert_eq!(find(&t, "POST", "/orders/export"), Some(0));
        assert_eq!(find(&t, "GET", "/orders/export"), Some(1));
        assert_eq!(find(&t, "GET", "/orders/7"), Some(1));
        assert_eq!(find(&t, "DELETE", "/orders/7"), Some(2));
        assert_eq!(find(&t, "GET", "/orders"), Some(2), "** takes none too");
        assert_eq!(find(&t, "GET", "/orders/7/lines/2"), Some(2));
        assert_eq!(find(&t, "PUT", "/admin"), Some(3));
        assert_eq!(find(&t, "POST", "/shop.Inventory/Reserve"), Some(4));
        assert_eq!(find(&t, "POST", "/shop.Inventory/Release"), Some(5));
        assert_eq!(
            find(&t, "POST", "/shop.InventoryAdmin/Reserve"),
            None,
            "a gRPC service with the same prefix"
        );
        assert_eq!(find(&t, "GET", "/anything/else"), Some(6));
        assert_eq!(find(&t, "POST", "/anything/else"), None);
    }

    #[test]
    fn globstar_in_the_middle() {
        let t = trie(&[("/a/**/z", None)]);
        assert_eq!(find(&t, "GET", "/a/z"), Some(0));
        assert_eq!(find(&t, "GET", "/a/b/c/z"), Some(0));
        assert_eq!(find(&t, "GET", "/a/b/c"), None);
    }

    #[test]
    fn bad_patterns() {
        for (bad, why) in [
            ("orders", "a path pattern starts with /"),
            ("/a//b", "a path pattern has no empty segment (//)"),
            ("/a/../b", "a path pattern has no . or .. segment"),
            ("/orders*", "* and ** stand alone in their segment"),
            ("/**/x/**", "a path pattern has at most one **"),
            (
                "/items/{id}/edit",
                "{name} is a router's syntax: write * for one segment",
            ),
            (
                "/items/{*rest}",
                "{*name} is a router's syntax: write ** for any number of segments",
            ),
            (
                "/items/x{id}",
                "{name} is a router's syntax: write * for one segment",
            ),
            (
                "/items/{id",
                "{name} is a router's syntax: write * for one segment",
            ),
            (
                "/items/id}",
                "{name} is a router's syntax: write * for one segment",
            ),
            (
                "/items/:id",
                ":name is a router's syntax: write * for one segment",
            ),
        ] {
            assert_eq!(
                parse(bad, false, TrailingSlash::Ignore).unwrap_err(),
                why,
                "{bad}"
            );
        }
        assert!(parse("/", false, TrailingSlash::Ignore).unwrap().is_empty());
        // A colon inside a segment is an ordinary character (`/v1/things:batchGet`).
        assert_eq!(
            parse("/v1/things:batchGet", false, TrailingSlash::Ignore).unwrap(),
            vec![
                PartOf(Part::Literal("v1".into())),
                PartOf(Part::Literal("things:batchGet".into()))
            ]
        );
        // The root has no trailing slash to keep, and one is only kept when it is strict.
        assert!(parse("/", false, TrailingSlash::Strict).unwrap().is_empty());
        assert_eq!(
            parse("/a/", false, TrailingSlash::Ignore).unwrap(),
            parse("/a", false, TrailingSlash::Ignore).unwrap()
        );
        assert_eq!(
            parse("/A/", true, TrailingSlash::Strict).unwrap(),
            vec![
                PartOf(Part::Literal("a".into())),
                PartOf(Part::Literal(String::new()))
            ]
        );
    }
}
