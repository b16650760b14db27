use super::*;
use http::HeaderValue;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

fn uri() -> Uri {
    Uri::from_static("/")
}

fn auth(pairs: &[(&'static str, &'static str)]) -> Result<Option<String>, TokenErrorKind> {
    TokenLocation::default()
        .extract(&headers(pairs), &uri(), 64)
        .map(|t| t.map(Cow::into_owned))
}

fn at(
    location: &TokenLocation,
    pairs: &[(&'static str, &'static str)],
) -> Result<Option<String>, TokenErrorKind> {
    location
        .extract(&headers(pairs), &uri(), 64)
        .map(|t| t.map(Cow::into_owned))
}

#[test]
fn the_b64token_alphabet_byte_by_byte() {
    for b in 0..=255u8 {
        let expected = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
        assert_eq!(in_b64token(b), expected, "byte {b:#04x}");
    }
}

#[test]
fn authorization_header_forms() {
    assert_eq!(auth(&[]), Ok(None));
    assert_eq!(
        auth(&[("authorization", "Bearer a.b.c")]),
        Ok(Some("a.b.c".into()))
    );
    assert_eq!(
        auth(&[("authorization", "bEaReR   a.b.c")]),
        Ok(Some("a.b.c".into()))
    );
    assert_eq!(auth(&[("authorization", "Basic dXNlcjpwYXNz")]), Ok(None));
    // Other schemes, including six-letter ones and ones shorter than `Bearer`.
    for other in ["Digest a.b.c", "DPoP a.b.c", "Bear", ""] {
        assert_eq!(auth(&[("authorization", other)]), Ok(None), "{other:?}");
    }
    assert_eq!(auth(&[("authorization", "Bearerish x")]), Ok(None));
    for bad in [
        "Bearer",
        "Bearer ",
        "Bearer a.b.c extra",
        "Bearer a,b",
        "Bearer a.b.c ",
    ] {
        assert_eq!(
            auth(&[("authorization", bad)]),
            Err(TokenErrorKind::InvalidRequest),
            "{bad:?}"
        );
    }
    assert_eq!(
        auth(&[
            ("authorization", "Bearer a.b.c"),
            ("authorization", "Bearer a.b.c")
        ]),
        Err(TokenErrorKind::InvalidRequest)
    );
}

#[test]
fn size_cap_applies_before_parsing() {
    let long = format!("Bearer {}", "a".repeat(65));
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, HeaderValue::from_str(&long).unwrap());
    assert_eq!(
        TokenLocation::default().extract(&h, &uri(), 64),
        Err(TokenErrorKind::TooLarge { len: 65, max: 64 })
    );
    // A token of exactly the cap is read, wherever it is.
    let exact = "a".repeat(64);
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {exact}")).unwrap(),
    );
    h.insert("x-token", HeaderValue::from_str(&exact).unwrap());
    h.insert(
        COOKIE,
        HeaderValue::from_str(&format!("s={exact}")).unwrap(),
    );
    for location in [
        TokenLocation::default(),
        TokenLocation::header("x-token").unwrap(),
        TokenLocation::cookie("s").unwrap(),
    ] {
        let found = location.extract(&h, &uri(), 64);
        assert_eq!(
            found,
            Ok(Some(Cow::Borrowed(exact.as_str()))),
            "{location:?}"
        );
        assert_eq!(
            location.extract(&h, &uri(), 63),
            Err(TokenErrorKind::TooLarge { len: 64, max: 63 }),
            "{location:?}"
        );
    }
}

#[test]
fn cookie_and_header_locations() {
    let c = TokenLocation::cookie("session").unwrap();
    assert_eq!(
        at(&c, &[("cookie", "a=1; session=x.y.z"), ("cookie", "b=2")]),
        Ok(Some("x.y.z".into()))
    );
    assert_eq!(
        at(&c, &[("cookie", "session=x"), ("cookie", "session=y")]),
        Err(TokenErrorKind::InvalidRequest)
    );
    assert!(TokenLocation::cookie("bad name").is_err());

    let x = TokenLocation::header(String::from("x-token")).unwrap();
    assert_eq!(at(&x, &[("x-token", "a.b.c")]), Ok(Some("a.b.c".into())));
    assert_eq!(at(&x, &[]), Ok(None));
}

#[test]
fn ordered_locations_first_token_wins_and_malformed_stops() {
    let list = [
        TokenLocation::authorization_header(),
        TokenLocation::cookie("session").unwrap(),
    ];
    let first = |pairs: &[(&'static str, &'static str)]| {
        extract_first(&list, &headers(pairs), &uri(), 64).map(|t| t.map(Cow::into_owned))
    };
    assert_eq!(first(&[]), Ok(None));
    assert_eq!(
        first(&[("cookie", "session=c.c.c")]),
        Ok(Some("c.c.c".into()))
    );
    assert_eq!(
        first(&[
            ("authorization", "Bearer a.a.a"),
            ("cookie", "session=c.c.c")
        ]),
        Ok(Some("a.a.a".into()))
    );
    // A malformed header is refused, not skipped in favour of the cookie.
    assert_eq!(
        first(&[("authorization", "Bearer"), ("cookie", "session=c.c.c")]),
        Err(TokenErrorKind::InvalidRequest)
    );
}

#[test]
fn custom_location_is_bounded_and_checked() {
    let query = TokenLocation::from_fn(|_, uri| {
        uri.query()?
            .split('&')
            .find_map(|pair| pair.strip_prefix("access_token="))
            .map(str::to_owned)
    });
    let extract = |uri: &'static str| {
        query
            .extract(&HeaderMap::new(), &Uri::from_static(uri), 8)
            .map(|t| t.map(Cow::into_owned))
    };
    assert_eq!(extract("/ws?access_token=a.b.c"), Ok(Some("a.b.c".into())));
    assert_eq!(
        extract("/ws?access_token=a.b.c.dd"),
        Ok(Some("a.b.c.dd".into())),
        "exactly the cap"
    );
    assert_eq!(extract("/ws"), Ok(None));
    assert_eq!(
        extract("/ws?access_token=a.b.c.d.e.f"),
        Err(TokenErrorKind::TooLarge { len: 11, max: 8 })
    );
    assert_eq!(
        extract("/ws?access_token=a%20b"),
        Err(TokenErrorKind::InvalidRequest)
    );
    assert_eq!(format!("{query:?}"), "<fn>");
    // Locations compare by kind and name.
    let kinds = [
        TokenLocation::authorization_header(),
        TokenLocation::header("x-token").unwrap(),
        TokenLocation::header("x-other").unwrap(),
        TokenLocation::cookie("session").unwrap(),
        TokenLocation::cookie("other").unwrap(),
        query.clone(),
    ];
    for (i, a) in kinds.iter().enumerate() {
        for (j, b) in kinds.iter().enumerate() {
            assert_eq!(a == b, i == j, "{a:?} == {b:?}");
        }
        assert_eq!(a, &a.clone());
    }
    assert_eq!(query, query.clone());
    assert_ne!(query, TokenLocation::default());
}
