use super::*;

const ED_JWK: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const EC_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

const RSA_JWK: &str = concat!(
    r#"{"kty":"RSA","e":"AQAB","n":""#,
    "3PmCSYZucGC3ucqrGPinXAnb0h-2UU_eykAH5xaztqyYpOv7MyvqE-w9ySkFyv-l7dU4pg-YmhKPBU_NQGi_qvnn1uDtJ6yq-TLhBKDz9x_Q81H9Wp8uYqEY8q1IYm7agu_-OjcdAY1fbdbeSj6Mi8KJBjQTLb761QgGWDWqaAPEfydhPRCcuQuNAubv6rYt99azEIeDHqwaSLnRFk3DU2WlBY_FiyfJ2t5VO1SlmhcV5v5MSS0KeU5wlAwP3l5k_nilT-SsO2g7rP4iG0nIPUVhEXSZwbOX6zEhl8_F5lA8LHCHdTBbmiNhMRc6TpLJbebARUh_QmVVnrJseUdheQ",
    r#""}"#
);

fn invalid(json: &str) -> ConfigErrorKind {
    VerifyingKey::from_jwk_json(json)
        .unwrap_err()
        .kind()
        .clone()
}

fn with_kid(json: &str, kid: &str) -> VerifyingKey {
    VerifyingKey::from_jwk_json(json).unwrap().with_kid(kid)
}

#[test]
fn jwk_algorithms_follow_alg_then_curve() {
    assert_eq!(
        VerifyingKey::from_jwk_json(EC_JWK).unwrap().algorithms(),
        &[Algorithm::ES256]
    );
    let pinned = EC_JWK.replace("{", r#"{"alg":"ES384","#);
    assert_eq!(
        invalid(&pinned),
        ConfigErrorKind::InvalidKey {
            reason: "alg does not fit the key type"
        },
        "ES384 on P-256"
    );
    let enc = EC_JWK.replace("{", r#"{"use":"enc","#);
    assert_eq!(
        invalid(&enc),
        ConfigErrorKind::InvalidKey {
            reason: "key is not for signatures"
        }
    );
    let ops = EC_JWK.replace("{", r#"{"key_ops":["encrypt"],"#);
    assert_eq!(
        invalid(&ops),
        ConfigErrorKind::InvalidKey {
            reason: "key_ops does not allow verify"
        }
    );
    let oct = r#"{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}"#;
    assert_eq!(
        invalid(oct),
        ConfigErrorKind::InvalidKey {
            reason: "symmetric keys are never taken from a JWK"
        }
    );
    assert_eq!(
        invalid("not json"),
        ConfigErrorKind::InvalidKey {
            reason: "not a JWK"
        }
    );
}

#[test]
fn an_rsa_jwk_alg_pins_one_algorithm() {
    // Without alg, an RSA key may verify every RS and PS algorithm.
    let family = VerifyingKey::from_jwk_json(RSA_JWK).unwrap();
    assert_eq!(family.algorithms(), AlgorithmFamily::Rsa.algorithms());
    // With alg, only that one: a PS256 token can no longer select it.
    let pinned = VerifyingKey::from_jwk_json(&RSA_JWK.replace("{", r#"{"alg":"RS256","#))
        .unwrap()
        .with_kid("r");
    assert_eq!(pinned.algorithms(), &[Algorithm::RS256]);
    let set: KeySet = [pinned].into_iter().collect();
    assert_eq!(
        set.select(Some("r"), Algorithm::RS256).unwrap().kid(),
        Some("r")
    );
    assert_eq!(
        set.select(Some("r"), Algorithm::PS256).unwrap_err(),
        TokenErrorKind::AlgorithmNotAllowed {
            alg: Algorithm::PS256
        }
    );
    assert_eq!(
        invalid(&RSA_JWK.replace("{", r#"{"alg":"ES256","#)),
        ConfigErrorKind::InvalidKey {
            reason: "alg does not fit the key type"
        }
    );
    assert_eq!(
        invalid(&RSA_JWK.replace("{", r#"{"alg":"RSA-OAEP","#)),
        ConfigErrorKind::InvalidKey {
            reason: "alg is not a signature algorithm"
        }
    );
}

#[test]
fn selection_by_kid() {
    let set: KeySet = [with_kid(ED_JWK, "a"), with_kid(EC_JWK, "b")]
        .into_iter()
        .collect();
    assert_eq!(
        set.select(Some("a"), Algorithm::EdDSA).unwrap().kid(),
        Some("a")
    );
    assert_eq!(
        set.select(Some("b"), Algorithm::ES256).unwrap().kid(),
        Some("b")
    );
    assert_eq!(
        set.select(Some("a"), Algorithm::ES256).unwrap_err(),
        TokenErrorKind::AlgorithmNotAllowed {
            alg: Algorithm::ES256
        }
    );
    assert_eq!(
        set.select(Some("c"), Algorithm::ES256).unwrap_err(),
        TokenErrorKind::UnknownKey {
            kid: Some("c".into())
        }
    );
    // No kid: only when exactly one key allows the algorithm.
    assert_eq!(set.select(None, Algorithm::ES256).unwrap().kid(), Some("b"));
    assert_eq!(
        set.select(None, Algorithm::RS256).unwrap_err(),
        TokenErrorKind::AlgorithmNotAllowed {
            alg: Algorithm::RS256
        }
    );
}

#[test]
fn no_kid_with_two_candidates_is_ambiguous() {
    let set: KeySet = [with_kid(EC_JWK, "a"), with_kid(EC_JWK, "b")]
        .into_iter()
        .collect();
    assert_eq!(
        set.select(None, Algorithm::ES256).unwrap_err(),
        TokenErrorKind::AmbiguousKey
    );
}

#[test]
fn an_unknown_kid_is_unknown_even_beside_a_keyless_key_of_another_family() {
    let set: KeySet = [VerifyingKey::from_jwk_json(ED_JWK).unwrap()]
        .into_iter()
        .collect();
    assert_eq!(
        set.select(Some("x"), Algorithm::ES256).unwrap_err(),
        TokenErrorKind::UnknownKey {
            kid: Some("x".into())
        }
    );
    assert_eq!(
        set.select(None, Algorithm::ES256).unwrap_err(),
        TokenErrorKind::AlgorithmNotAllowed {
            alg: Algorithm::ES256
        }
    );
    assert_eq!(
        KeySet::new().select(None, Algorithm::ES256).unwrap_err(),
        TokenErrorKind::UnknownKey { kid: None }
    );
}

#[test]
fn a_p384_jwk_verifies_es384() {
    use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use base64::Engine as _;
    let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-384", "x": b64(&point[1..49]), "y": b64(&point[49..]),
    });
    let key = VerifyingKey::from_jwk_json(&jwk.to_string()).unwrap();
    assert_eq!(key.algorithms(), &[Algorithm::ES384]);
}

#[test]
fn key_without_kid_answers_unclaimed_kids() {
    let set: KeySet = [VerifyingKey::from_jwk_json(ED_JWK).unwrap()]
        .into_iter()
        .collect();
    assert!(set.select(Some("anything"), Algorithm::EdDSA).is_ok());
    assert!(set.select(None, Algorithm::EdDSA).is_ok());
}

#[test]
fn jwks_skips_unusable_keys() {
    let doc = format!(
        r#"{{"keys":[{ED_JWK},{{"kty":"RSA","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}},{{"kty":"weird"}},{EC_JWK}]}}"#
    );
    let set = KeySet::from_jwks_json(&doc).unwrap();
    assert_eq!(set.len(), 2);
    let jwks_error = |json: &str| KeySet::from_jwks_json(json).unwrap_err().kind().clone();
    assert_eq!(
        jwks_error(r#"{"keys":[]}"#),
        ConfigErrorKind::InvalidJwks {
            reason: "no usable key"
        }
    );
    assert_eq!(
        jwks_error("[]"),
        ConfigErrorKind::InvalidJwks {
            reason: "not a JWKS document"
        }
    );
    assert_eq!(parse_jwks(doc.as_bytes(), 1).unwrap().len(), 1);
    assert_eq!(parse_jwks(doc.as_bytes(), 2).unwrap().len(), 2);
}

#[test]
fn jwks_files_are_read_up_to_one_mebibyte() {
    let dir = std::env::temp_dir().join(format!("meshward-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A valid document padded with whitespace to an exact size.
    let padded = |size: usize| {
        let doc = format!(r#"{{"keys":[{ED_JWK}]}}"#);
        format!("{doc}{}", " ".repeat(size - doc.len()))
    };
    let write = |name: &str, size: usize| {
        let path = dir.join(name);
        std::fs::write(&path, padded(size)).unwrap();
        path
    };
    let at_cap = write("at-cap.json", 1024 * 1024);
    assert_eq!(KeySet::from_jwks_file(&at_cap).unwrap().len(), 1);
    let small = write("small.json", 3000);
    assert_eq!(KeySet::from_jwks_file(&small).unwrap().len(), 1);
    let over = write("over.json", 1024 * 1024 + 1);
    let error = KeySet::from_jwks_file(&over).unwrap_err();
    assert!(
        matches!(error.kind(), ConfigErrorKind::Io { .. }),
        "{error:?}"
    );
    let missing = KeySet::from_jwks_file(dir.join("missing.json")).unwrap_err();
    assert!(matches!(missing.kind(), ConfigErrorKind::Io { .. }));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hmac_secrets_must_be_long_enough() {
    let weak = |len: usize, alg| {
        VerifyingKey::hmac(&vec![0; len], alg)
            .err()
            .map(|e| e.kind().clone())
    };
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        assert_eq!(
            weak(min - 1, alg),
            Some(ConfigErrorKind::WeakSecret {
                alg,
                len: min - 1,
                min
            })
        );
        assert_eq!(weak(min, alg), None);
        let key = VerifyingKey::hmac(&vec![0; min], alg).unwrap();
        assert_eq!(key.algorithms(), &[alg]);
        assert!(key.is_hmac());
    }
    assert_eq!(
        weak(64, Algorithm::RS256),
        Some(ConfigErrorKind::AlgorithmMismatch {
            alg: Algorithm::RS256
        })
    );
}
