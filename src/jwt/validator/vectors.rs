//! Outside test vectors through the validator's own steps: the JWS parsed and its header
//! checked (`Jws::parse`), the key chosen for the header's algorithm from a key set imported
//! from the vector's JWK (`KeySet::select`), the signature checked (`check_signature`).
//! Wycheproof's signature and JWS vectors, and the JWS examples of RFC 7515, RFC 7520 and
//! RFC 8037. Every "valid" vector must be accepted and every "invalid" one refused; the
//! counts are printed (`cargo test vectors -- --nocapture`).

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::verify::{Jws, check_signature};
use crate::jwt::{KeySet, TokenError, TokenErrorKind, VerifyingKey};

fn read(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The key set a vector's JWK makes: public keys through the JWKS import, HMAC keys (never
/// taken from a JWKS) as configured secrets.
fn keys(jwk: &Value, alg: Algorithm) -> Result<KeySet, String> {
    let mut set = KeySet::new();
    if jwk["kty"] == "oct" {
        let secret = URL_SAFE_NO_PAD
            .decode(jwk["k"].as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        set.push(VerifyingKey::hmac(&secret, alg).map_err(|e| e.to_string())?);
        return Ok(set);
    }
    let mut public = jwk.clone();
    if let Some(m) = public.as_object_mut() {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            m.remove(private);
        }
    }
    KeySet::from_jwks_json(&json!({ "keys": [public] }).to_string()).map_err(|e| e.to_string())
}

/// The validator's steps for one compact JWS with the keys in `set`.
fn verify(token: &str, set: &KeySet) -> Result<(), TokenError> {
    let jws = Jws::parse(token, 8 * 1024)?;
    jws.payload()?;
    let key = set.select(jws.kid(), jws.alg)?;
    check_signature(
        key,
        jws.alg,
        jws.signing_input.as_bytes(),
        jws.signature_b64,
    )
}

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_refused: usize,
    failures: Vec<String>,
}

impl Counts {
    fn record(&mut self, id: &str, expected: &str, accepted: bool) {
        match (expected, accepted) {
            ("valid", true) => self.valid += 1,
            ("invalid", false) => self.invalid += 1,
            ("acceptable", true) => self.acceptable_accepted += 1,
            ("acceptable", false) => self.acceptable_refused += 1,
            _ => self
                .failures
                .push(format!("{id}: expected {expected}, accepted = {accepted}")),
        }
    }

    fn finish(self, suite: &str, total: usize) {
        println!(
            "{suite}: {total} vectors: {} valid accepted, {} invalid refused, acceptable: {} accepted, {} refused",
            self.valid, self.invalid, self.acceptable_accepted, self.acceptable_refused
        );
        assert!(
            self.failures.is_empty(),
            "{suite}:\n{}",
            self.failures.join("\n")
        );
        assert_eq!(
            self.valid + self.invalid + self.acceptable_accepted + self.acceptable_refused,
            total,
            "{suite}: every vector ran"
        );
        assert!(
            self.valid > 0 && self.invalid > 0,
            "{suite}: both kinds ran"
        );
    }
}

/// A signature vector file: a message signed, a signature, a public key per group.
fn signature_suite(file: &str, alg: Algorithm) {
    let doc = read(&format!("wycheproof/{file}"));
    let mut counts = Counts::default();
    let mut total = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let jwk = match &group["publicKeyJwk"] {
            Value::Null => coordinates_jwk(&group["publicKey"]),
            jwk => jwk.clone(),
        };
        let set = keys(&jwk, alg);
        for test in group["tests"].as_array().unwrap() {
            total += 1;
            let id = format!("{file} #{}", test["tcId"]);
            let expected = test["result"].as_str().unwrap();
            // A key the import refuses verifies nothing.
            let accepted = set.as_ref().is_ok_and(|set| {
                let key = set.select(None, alg).unwrap();
                let signature = URL_SAFE_NO_PAD.encode(hex(test["sig"].as_str().unwrap()));
                check_signature(key, alg, &hex(test["msg"].as_str().unwrap()), &signature).is_ok()
            });
            counts.record(&id, expected, accepted);
        }
    }
    assert_eq!(total, doc["numberOfTests"].as_u64().unwrap() as usize);
    counts.finish(file, total);
}

/// An EC public key given as hex coordinates (Wycheproof's groups without a JWK: keys whose
/// coordinates have an unusual length); a coordinate longer than the curve's size stays
/// long, and the import refuses it.
fn coordinates_jwk(key: &Value) -> Value {
    let size = match key["curve"].as_str() {
        Some("secp256r1") => 32,
        Some("secp384r1") => 48,
        other => panic!("curve {other:?}"),
    };
    let coordinate = |name: &str| {
        let mut bytes = hex(key[name].as_str().unwrap());
        while bytes.len() > size && bytes[0] == 0 {
            bytes.remove(0);
        }
        while bytes.len() < size {
            bytes.insert(0, 0);
        }
        URL_SAFE_NO_PAD.encode(bytes)
    };
    let crv = if size == 32 { "P-256" } else { "P-384" };
    json!({"kty": "EC", "crv": crv, "x": coordinate("wx"), "y": coordinate("wy")})
}

#[test]
fn wycheproof_ecdsa_p256() {
    signature_suite("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256);
}

#[test]
fn wycheproof_ecdsa_p384() {
    signature_suite("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384);
}

#[test]
fn wycheproof_rsa_pkcs1() {
    signature_suite("rsa_signature_2048_sha256_test.json", Algorithm::RS256);
}

#[test]
fn wycheproof_rsa_pss() {
    signature_suite("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::PS256);
}

#[test]
fn wycheproof_ed25519() {
    signature_suite("ed25519_test.json", Algorithm::EdDSA);
}

/// The JWS vectors Wycheproof calls valid that meshward refuses on purpose, and why.
const STRICTER: [(u64, &str); 6] = [
    (
        346,
        "PS384 with a key whose JWK pins alg PS256: a key verifies only its own algorithm",
    ),
    (
        347,
        "ES512: not implemented by jsonwebtoken, refused as an unsupported algorithm",
    ),
    (
        350,
        "PS384 with a key whose JWK pins alg PS256 (with key_ops)",
    ),
    (351, "ES512 (with key_ops): unsupported algorithm"),
    (
        372,
        "a character outside base64url inserted in the header: base64url is decoded strictly",
    ),
    (
        373,
        "a character outside base64url inserted in the payload: base64url is decoded strictly",
    ),
];

/// Vectors marked invalid whose token is byte for byte the valid #357 in the upstream file.
const SAME_AS_VALID: [u64; 2] = [367, 370];
const VALID_357: &str = "eyJraWQiOiJoczI1Ni1rZXkiLCJhbGciOiJIUzI1NiJ9.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8";

#[test]
fn wycheproof_json_web_signatures() {
    let doc = read("wycheproof/json_web_signature_test.json");
    let mut counts = Counts::default();
    let mut total = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let jwk = match (&group["public"], &group["private"]) {
            (Value::Null, private) => private.clone(),
            (public, _) => public.clone(),
        };
        for test in group["tests"].as_array().unwrap() {
            total += 1;
            let id = format!("JWS #{} ({})", test["tcId"], test["comment"]);
            let token = test["jws"].as_str().unwrap_or_default();
            // The key set is what the token's algorithm would be verified with; a token whose
            // header does not parse is refused before any key is chosen.
            let accepted = match Jws::parse(token, 8 * 1024) {
                Err(_) => false,
                Ok(jws) => keys(&jwk, jws.alg).is_ok_and(|set| verify(token, &set).is_ok()),
            };
            let expected = if STRICTER.iter().any(|(n, _)| test["tcId"] == *n) {
                "invalid"
            } else if SAME_AS_VALID.contains(&test["tcId"].as_u64().unwrap()) {
                // Byte for byte the valid token of #357 (the padding the comment speaks of
                // is not in the file): it cannot be both.
                assert_eq!(token, VALID_357, "{id}");
                "valid"
            } else {
                test["result"].as_str().unwrap()
            };
            counts.record(&id, expected, accepted);
        }
    }
    assert_eq!(total, doc["numberOfTests"].as_u64().unwrap() as usize);
    println!(
        "json_web_signature_test.json: {} vectors Wycheproof calls valid are refused on purpose:",
        STRICTER.len()
    );
    for (id, why) in STRICTER {
        println!("  #{id}: {why}");
    }
    counts.finish("json_web_signature_test.json", total);
}

#[test]
fn rfc_jws_examples() {
    let doc = read("rfc/jws_examples.json");
    let mut verified = 0;
    for vector in doc["vectors"].as_array().unwrap() {
        let source = vector["source"].as_str().unwrap();
        let token = vector["compact"].as_str().unwrap();
        let alg = vector["alg"].as_str().unwrap();
        if alg == "ES512" {
            // Not implemented by jsonwebtoken: the token's algorithm is refused, and so is the
            // P-521 key.
            let e = Jws::parse(token, 8 * 1024).err().unwrap();
            assert_eq!(e.kind(), &TokenErrorKind::UnsupportedAlgorithm, "{source}");
            assert!(keys(&vector["jwk"], Algorithm::ES256).is_err(), "{source}");
            continue;
        }
        let alg: Algorithm = alg.parse().unwrap();
        let set = keys(&vector["jwk"], alg).unwrap_or_else(|e| panic!("{source}: {e}"));
        verify(token, &set).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        // The same example with one bit of its signature flipped is refused.
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[0] ^= 1;
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(
            verify(&forged, &set).unwrap_err().kind(),
            &TokenErrorKind::InvalidSignature,
            "{source}"
        );
        verified += 1;
    }
    println!(
        "RFC 7515/7520/8037 JWS examples: {verified} verified, 2 ES512 examples refused as unsupported"
    );
    assert_eq!(verified, 7);
}
