use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::*;
use crate::jwt::{ConfigErrorKind, VerifyingKey};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const ISS: &str = "https://issuer.test";
const NOW: i64 = 1_800_000_000;

fn token(header: Value, claims: Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{sig}")
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": "api", "sub": "alice", "exp": NOW + 60, "iat": NOW, "scope": "read write"})
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn builder() -> ValidatorBuilder {
    Validator::builder(ISS, ["api"]).add_hmac_secret(SECRET, Algorithm::HS256)
}

fn validator() -> Validator {
    builder().build().unwrap()
}

fn kind(v: &Validator, token: &str, now: i64) -> TokenErrorKind {
    v.validate_at(token, now).unwrap_err().kind().clone()
}

#[test]
fn accepts_a_valid_token() {
    let v = validator();
    let t = v.validate_at(&token(hs256(), claims()), NOW).unwrap();
    assert_eq!(t.subject.as_deref(), Some("alice"));
    assert_eq!(t.audiences, ["api"]);
    assert!(t.scopes.contains_all(["read", "write"]));
}

#[test]
fn expiry_edges_with_leeway() {
    let v = validator();
    let t = token(hs256(), claims());
    let exp = NOW + 60;
    // Valid until exp + leeway (30 s), refused from that second on.
    assert!(v.validate_at(&t, exp + 29).is_ok());
    let v = validator(); // fresh cache
    assert!(matches!(
        kind(&v, &t, exp + 30),
        TokenErrorKind::Expired { .. }
    ));

    let strict = builder().leeway(Duration::ZERO).build().unwrap();
    assert!(strict.validate_at(&t, exp - 1).is_ok());
    let strict = builder().leeway(Duration::ZERO).build().unwrap();
    assert!(matches!(
        kind(&strict, &t, exp),
        TokenErrorKind::Expired { .. }
    ));
}

#[test]
fn not_before_and_issued_at_edges() {
    let v = validator();
    let mut c = claims();
    c["nbf"] = json!(NOW + 30);
    let t = token(hs256(), c);
    assert!(v.validate_at(&t, NOW).is_ok(), "nbf within leeway");
    assert!(matches!(
        kind(&v, &t, NOW - 1),
        TokenErrorKind::NotYetValid { .. }
    ));

    // `iat` up to the leeway (30 s) ahead of the clock is accepted, one second more is not.
    let mut c = claims();
    c["iat"] = json!(NOW + 30);
    let t = token(hs256(), c);
    assert!(v.validate_at(&t, NOW).is_ok(), "iat at the leeway's edge");
    let v = validator(); // fresh cache
    let mut c = claims();
    c["iat"] = json!(NOW + 31);
    let t = token(hs256(), c);
    assert_eq!(
        kind(&v, &t, NOW),
        TokenErrorKind::IssuedInFuture {
            iat: crate::principal::unix_time(NOW + 31),
            now: crate::principal::unix_time(NOW)
        }
    );
}

#[test]
fn a_maximum_lifetime_counts_from_iat_or_nbf() {
    let v = builder()
        .max_token_lifetime(Duration::from_secs(3600))
        .build()
        .unwrap();
    let with = |iat: Option<i64>, nbf: Option<i64>, exp: i64| {
        let mut c = claims();
        let m = c.as_object_mut().unwrap();
        m.remove("iat");
        if let Some(iat) = iat {
            m.insert("iat".into(), json!(iat));
        }
        if let Some(nbf) = nbf {
            m.insert("nbf".into(), json!(nbf));
        }
        m.insert("exp".into(), json!(exp));
        token(hs256(), c)
    };
    // Exactly the maximum is accepted; one second over is refused.
    assert!(
        v.validate_at(&with(Some(NOW), None, NOW + 3600), NOW)
            .is_ok()
    );
    assert_eq!(
        kind(&v, &with(Some(NOW), None, NOW + 3601), NOW),
        TokenErrorKind::LifetimeTooLong {
            lifetime: Duration::from_secs(3601),
            max: Duration::from_secs(3600)
        }
    );
    // iat counts before nbf; nbf stands in for a missing iat.
    assert!(
        v.validate_at(&with(Some(NOW), Some(NOW - 7200), NOW + 60), NOW)
            .is_ok()
    );
    assert!(matches!(
        kind(&v, &with(None, Some(NOW - 7200), NOW + 60), NOW),
        TokenErrorKind::LifetimeTooLong { .. }
    ));
    assert!(
        v.validate_at(&with(None, Some(NOW - 60), NOW + 60), NOW)
            .is_ok()
    );
    // Neither: refused for the missing iat.
    assert_eq!(
        kind(&v, &with(None, None, NOW + 60), NOW),
        TokenErrorKind::MissingClaim {
            claim: "iat".into()
        }
    );
    // Without the setting, a year-long token is fine.
    assert!(
        validator()
            .validate_at(&with(Some(NOW), None, NOW + 365 * 86400), NOW)
            .is_ok()
    );
    let label = TokenError::new(TokenErrorKind::LifetimeTooLong {
        lifetime: Duration::ZERO,
        max: Duration::ZERO,
    });
    assert_eq!(crate::Rejection::from(label).label(), "lifetime_too_long");
}

#[test]
fn registered_claims_are_required() {
    let v = validator();
    for claim in ["exp", "iss", "aud"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            kind(&v, &token(hs256(), c), NOW),
            TokenErrorKind::MissingClaim {
                claim: claim.into()
            },
        );
    }
    let mut c = claims();
    c["exp"] = json!("tomorrow");
    assert_eq!(
        kind(&v, &token(hs256(), c), NOW),
        TokenErrorKind::InvalidClaim {
            claim: "exp".into()
        }
    );
}

#[test]
fn issuer_and_audience() {
    let v = validator();
    let mut c = claims();
    c["iss"] = json!("https://issuer.test/");
    assert_eq!(
        kind(&v, &token(hs256(), c), NOW),
        TokenErrorKind::InvalidIssuer
    );
    let mut c = claims();
    c["aud"] = json!(["other", "api"]);
    assert!(v.validate_at(&token(hs256(), c), NOW).is_ok());
    let mut c = claims();
    c["aud"] = json!([]);
    assert_eq!(
        kind(&v, &token(hs256(), c), NOW),
        TokenErrorKind::InvalidAudience {
            expected: vec!["api".into()]
        }
    );
}

#[test]
fn header_checks() {
    let v = validator();
    for alg in ["none", "None", "NONE", "nOnE", "HS257", ""] {
        let t = token(json!({"alg": alg}), claims());
        assert_eq!(
            kind(&v, &t, NOW),
            TokenErrorKind::UnsupportedAlgorithm,
            "{alg}"
        );
    }
    let t = token(json!({"alg": "HS256", "crit": ["exp"], "exp": 1}), claims());
    assert_eq!(kind(&v, &t, NOW), TokenErrorKind::UnsupportedCritical);
}

#[test]
fn duplicate_header_fields_are_malformed() {
    let v = validator();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    assert_eq!(
        kind(&v, &format!("{input}.{sig}"), NOW),
        TokenErrorKind::Malformed
    );
}

#[test]
fn required_type() {
    let v = builder().require_type("at+jwt").build().unwrap();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+Jwt",
    ] {
        let t = token(json!({"alg": "HS256", "typ": typ}), claims());
        assert!(v.validate_at(&t, NOW).is_ok(), "{typ}");
    }
    for header in [
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"alg": "HS256"}),
    ] {
        assert_eq!(
            kind(&v, &token(header, claims()), NOW),
            TokenErrorKind::InvalidType
        );
    }
}

#[test]
fn required_claims_and_scope_paths() {
    let v = builder()
        .add_required_claim("tenant")
        .add_scope_claim("realm_access.roles")
        .build()
        .unwrap();
    assert_eq!(
        kind(&v, &token(hs256(), claims()), NOW),
        TokenErrorKind::MissingClaim {
            claim: "tenant".into()
        }
    );
    let mut c = claims();
    c["tenant"] = json!("acme");
    c["scp"] = json!(["extra"]);
    c["realm_access"] = json!({"roles": ["admin"]});
    let t = v.validate_at(&token(hs256(), c), NOW).unwrap();
    assert_eq!(
        t.scopes.iter().collect::<Vec<_>>(),
        ["admin", "extra", "read", "write"]
    );
}

#[test]
fn size_caps() {
    let v = builder().max_token_len(100).build().unwrap();
    let t = token(hs256(), claims());
    assert!(matches!(
        kind(&v, &t, NOW),
        TokenErrorKind::TooLarge { max: 100, .. }
    ));
    let v = builder().max_header_len(10).build().unwrap();
    assert!(matches!(
        kind(&v, &t, NOW),
        TokenErrorKind::TooLarge { max: 10, .. }
    ));
    // A header of exactly the cap is read, one byte more is not.
    let header_len = t.find('.').unwrap();
    let v = builder().max_header_len(header_len).build().unwrap();
    assert!(v.validate_at(&t, NOW).is_ok());
    let v = builder().max_header_len(header_len - 1).build().unwrap();
    assert_eq!(
        kind(&v, &t, NOW),
        TokenErrorKind::TooLarge {
            len: header_len,
            max: header_len - 1
        }
    );
}

#[test]
fn the_type_that_picks_a_verifier_is_read_up_to_the_header_cap() {
    let t = token(
        json!({"alg": "HS256", "typ": "application/SVC+jwt"}),
        claims(),
    );
    let header_len = t.find('.').unwrap();
    assert_eq!(
        super::verify::header_type(&t, header_len).as_deref(),
        Some("svc+jwt")
    );
    assert_eq!(super::verify::header_type(&t, header_len - 1), None);
    assert_eq!(super::verify::header_type("bm90IGpzb24.e30.", 100), None);
}

#[test]
fn garbage_is_malformed() {
    let v = validator();
    for t in [
        "",
        "a",
        "a.b",
        "a.b.c.d",
        "!!!.b.c",
        "e30.e30.",
        "e30=.e30.x",
    ] {
        assert_eq!(kind(&v, t, NOW), TokenErrorKind::Malformed, "{t}");
    }
    // A header that is JSON but not an object, and a payload that is not an object.
    let not_object = format!("{}.e30.x", URL_SAFE_NO_PAD.encode("[1]"));
    assert_eq!(kind(&v, &not_object, NOW), TokenErrorKind::Malformed);
    let payload = format!(
        "{}.{}.x",
        URL_SAFE_NO_PAD.encode(hs256().to_string()),
        URL_SAFE_NO_PAD.encode("\"str\"")
    );
    assert_eq!(kind(&v, &payload, NOW), TokenErrorKind::Malformed);
}

#[test]
fn cache_never_serves_an_expired_token() {
    let v = validator();
    let t = token(hs256(), claims());
    let first = v.validate_at(&t, NOW).unwrap();
    let again = v.validate_at(&t, NOW + 1).unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "second validation is a cache hit"
    );
    assert!(matches!(
        kind(&v, &t, NOW + 60 + 30),
        TokenErrorKind::Expired { .. }
    ));
    // The hit that found it expired removed it: the next lookup is a miss.
    let before = v.stats();
    assert_eq!(before.cache_hits, 2);
    let _ = v.validate_at(&t, NOW + 60 + 30);
    assert_eq!(v.stats().cache_misses, before.cache_misses + 1);
}

#[test]
fn cache_skips_tokens_not_yet_valid() {
    let v = validator();
    let mut c = claims();
    c["nbf"] = json!(NOW + 10);
    let t = token(hs256(), c);
    let first = v.validate_at(&t, NOW).unwrap();
    let again = v.validate_at(&t, NOW).unwrap();
    assert!(!Arc::ptr_eq(&first, &again), "not cached before nbf");
    assert_eq!(v.stats().cache_hits, 0);
    assert_eq!(v.stats().cache_misses, 2);
}

#[test]
fn forged_signature_is_refused_and_not_cached() {
    let v = validator();
    let t = token(hs256(), claims());
    let forged = format!("{}A", &t[..t.len() - 1]);
    assert_eq!(kind(&v, &forged, NOW), TokenErrorKind::InvalidSignature);
    assert_eq!(kind(&v, &forged, NOW), TokenErrorKind::InvalidSignature);
    let stats = v.stats();
    assert_eq!(stats.cache_hits, 0, "a refused token is never cached");
    assert_eq!(stats.cache_misses, 2);
    assert_eq!(stats.rejections, [("invalid_signature", 2)]);
    let other = Validator::builder(ISS, ["api"])
        .add_hmac_secret([7u8; 32], Algorithm::HS256)
        .build()
        .unwrap();
    assert_eq!(kind(&other, &t, NOW), TokenErrorKind::InvalidSignature);
}

#[test]
fn configuration_errors() {
    let weak = Validator::builder(ISS, ["api"])
        .add_hmac_secret(b"short", Algorithm::HS256)
        .build();
    assert!(matches!(
        weak.unwrap_err().kind(),
        ConfigErrorKind::WeakSecret { .. }
    ));
    let none = Validator::builder(ISS, ["api"]).build();
    assert!(matches!(
        none.unwrap_err().kind(),
        ConfigErrorKind::NoKeys { .. }
    ));
    let no_aud = Validator::builder(ISS, Vec::<String>::new())
        .add_hmac_secret(SECRET, Algorithm::HS256)
        .build();
    assert!(matches!(
        no_aud.unwrap_err().kind(),
        ConfigErrorKind::NoAudience { .. }
    ));
    let hs_in_list = builder().algorithms([Algorithm::HS256]).build();
    assert!(matches!(
        hs_in_list.unwrap_err().kind(),
        ConfigErrorKind::AlgorithmMismatch { .. }
    ));
    let dup = builder()
        .add_issuer(Issuer::new(ISS, ["x"]).add_hmac_secret(SECRET, Algorithm::HS256))
        .build();
    assert!(matches!(
        dup.unwrap_err().kind(),
        ConfigErrorKind::DuplicateIssuer { .. }
    ));
    let ed = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    let mixed = builder()
        .add_key(VerifyingKey::from_jwk_json(ed).unwrap())
        .build();
    assert!(matches!(
        mixed.unwrap_err().kind(),
        ConfigErrorKind::MixedKeyFamilies { .. }
    ));
    let narrowed_away = Validator::builder(ISS, ["api"])
        .add_key(VerifyingKey::from_jwk_json(ed).unwrap())
        .algorithms([Algorithm::RS256])
        .build();
    assert!(matches!(
        narrowed_away.unwrap_err().kind(),
        ConfigErrorKind::NoAllowedAlgorithm { .. }
    ));
}

#[test]
fn second_issuer_uses_its_own_keys_and_audiences() {
    let other_secret = [9u8; 32];
    let v = builder()
        .add_issuer(
            Issuer::new("https://other.test", ["api2"])
                .add_hmac_secret(other_secret, Algorithm::HS256),
        )
        .build()
        .unwrap();
    let mut c = claims();
    c["iss"] = json!("https://other.test");
    // Signed with the first issuer's secret: the second issuer's key must refuse it.
    assert_eq!(
        kind(&v, &token(hs256(), c.clone()), NOW),
        TokenErrorKind::InvalidSignature
    );
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(hs256().to_string()),
        URL_SAFE_NO_PAD.encode(c.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(&other_secret),
        Algorithm::HS256,
    )
    .unwrap();
    let t = format!("{input}.{sig}");
    assert!(
        matches!(kind(&v, &t, NOW), TokenErrorKind::InvalidAudience { .. }),
        "aud api is the first issuer's"
    );
}
