//! The path a rule table matches: percent-decoded, so that `/%6frders` is `/orders` and
//! `/%61dmin` is `/admin`. A path the table might read otherwise than the router behind it
//! refuses the request: a `.` or `..` segment (written plainly or percent-encoded), unless
//! the table resolves them, and an empty segment (`//`). A router that does not resolve dot
//! segments would route `/admin/../orders` under `/admin` while the table matched `/orders`;
//! axum routes `/users//keys` to `/users/{id}/keys` with an empty `id`, while a table that
//! collapsed `//` would match `/users/keys`. One trailing slash is read as the table's
//! [`TrailingSlash`] says.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// The most segments a path may have; longer paths are refused rather than matched.
pub(crate) const MAX_SEGMENTS: usize = 64;

/// How a trailing slash counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TrailingSlash {
    /// `/orders/` is `/orders` (the default).
    #[default]
    Ignore,
    /// `/orders/` is only matched by a pattern ending in `/`.
    Strict,
}

/// How a table reads request paths.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Normalization {
    pub(crate) lowercase: bool,
    pub(crate) trailing: TrailingSlash,
    /// Resolve `.` and `..` rather than refuse them.
    pub(crate) resolve_dots: bool,
}

/// The normalised segments of `path`, or `None` when it cannot be normalised safely: an
/// encoded `/` (`%2F`) or NUL, bytes that are not UTF-8 once decoded, an empty segment
/// (`//`, anywhere but one trailing slash), a `.` or `..` segment (unless resolved; then
/// `..` above the root), or more than [`MAX_SEGMENTS`] segments.
pub(crate) fn segments(path: &str, how: Normalization) -> Option<Vec<Cow<'_, str>>> {
    let Normalization {
        lowercase,
        trailing,
        resolve_dots,
    } = how;
    let mut out: Vec<Cow<'_, str>> = Vec::new();
    let raw: Vec<&str> = path.split('/').collect();
    if raw.len() > MAX_SEGMENTS * 2 {
        return None;
    }
    // Before the leading `/`, and after one trailing `/` (`/` itself has both): the only
    // places an empty piece is no segment of its own.
    let last = raw.len().saturating_sub(1);
    for (i, segment) in raw.iter().enumerate() {
        if segment.is_empty() && i != 0 && i != last {
            return None;
        }
        let decoded: Cow<'_, str> = percent_decode_str(segment).decode_utf8().ok()?;
        if decoded.contains('/') || decoded.contains('\0') {
            return None;
        }
        match &*decoded {
            "." | ".." if !resolve_dots => return None,
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            _ => out.push(if lowercase {
                Cow::Owned(decoded.to_lowercase())
            } else {
                decoded
            }),
        }
    }
    let ends_with_slash = path.ends_with('/');
    if trailing == TrailingSlash::Strict && ends_with_slash && !out.is_empty() {
        out.push(Cow::Borrowed(""));
    }
    (out.len() <= MAX_SEGMENTS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESOLVE: Normalization = Normalization {
        lowercase: false,
        trailing: TrailingSlash::Ignore,
        resolve_dots: true,
    };

    fn norm(path: &str) -> Option<String> {
        segments(path, RESOLVE).map(|s| format!("/{}", s.join("/")))
    }

    #[test]
    fn dot_segments_are_refused_by_default() {
        for path in [
            "/admin/../orders",
            "/./orders",
            "/orders/.",
            "/x/%2e%2e/admin",
            "/x/%2E/y",
            "/..",
        ] {
            assert!(segments(path, Normalization::default()).is_none(), "{path}");
        }
        let fine = segments("/orders/.well-known/..x", Normalization::default()).unwrap();
        assert_eq!(fine, ["orders", ".well-known", "..x"]);
    }

    #[test]
    fn paths_that_slip_past_naive_prefixes_are_normalised() {
        assert_eq!(norm("/orders/7").as_deref(), Some("/orders/7"));
        assert_eq!(norm("/admin/../orders").as_deref(), Some("/orders"));
        assert_eq!(norm("/%61dmin").as_deref(), Some("/admin"));
        assert_eq!(norm("/%2e%2e/admin").as_deref(), None, "above the root");
        assert_eq!(norm("/x/%2e%2e/admin").as_deref(), Some("/admin"));
        assert_eq!(norm("/orders/7/").as_deref(), Some("/orders/7"));
        for path in ["//orders", "/orders//7", "/orders/7//", "//", "/a///b"] {
            assert_eq!(norm(path), None, "an empty segment: {path}");
        }
        assert_eq!(norm("/./orders/.").as_deref(), Some("/orders"));
        assert_eq!(norm("/").as_deref(), Some("/"));
        assert_eq!(norm("").as_deref(), Some("/"));
        assert_eq!(norm("/a%2Fb"), None, "an encoded slash");
        assert_eq!(norm("/a%00b"), None, "NUL");
        assert_eq!(norm("/%ff"), None, "not UTF-8");
        assert_eq!(norm("/.."), None);
        assert_eq!(norm(&"/a".repeat(MAX_SEGMENTS)).map(|_| ()), Some(()));
        assert_eq!(norm(&"/a".repeat(MAX_SEGMENTS + 1)), None);
        // At most twice as many pieces are looked at, dot segments counted, so that a path
        // of `./` costs bounded work: 128 pieces are read, 129 are not.
        let pieces = |n: usize| {
            format!(
                "{}{}",
                "/a".repeat(MAX_SEGMENTS - 1),
                "/.".repeat(n - MAX_SEGMENTS)
            )
        };
        assert_eq!(
            pieces(2 * MAX_SEGMENTS).matches('/').count() + 1,
            2 * MAX_SEGMENTS
        );
        assert!(norm(&pieces(2 * MAX_SEGMENTS)).is_some());
        assert_eq!(norm(&pieces(2 * MAX_SEGMENTS + 1)), None);
    }

    #[test]
    fn case_and_trailing_slash_as_configured() {
        let how = |lowercase, trailing| Normalization {
            lowercase,
            trailing,
            resolve_dots: false,
        };
        let lower = segments("/Orders/ABC", how(true, TrailingSlash::Ignore)).unwrap();
        assert_eq!(lower, ["orders", "abc"]);
        let strict = segments("/orders/", how(false, TrailingSlash::Strict)).unwrap();
        assert_eq!(strict, ["orders", ""]);
        let ignored = segments("/orders/", how(false, TrailingSlash::Ignore)).unwrap();
        assert_eq!(ignored, ["orders"]);
        for trailing in [TrailingSlash::Ignore, TrailingSlash::Strict] {
            assert!(segments("/orders//", how(false, trailing)).is_none());
            assert!(segments("/orders//7/", how(false, trailing)).is_none());
        }
        let root = segments("/", how(false, TrailingSlash::Strict)).unwrap();
        assert!(root.is_empty());
    }
}
