//! JSON Web Tokens: parsing, header policy, signature and claims, with time as a parameter.
//!
//! Design choices (the attacks each one closes):
//! - The algorithm comes from the allow-list *and* must fit the key's type: `none` is never
//!   accepted, an RSA key never verifies an HS256 token (the "public key as HMAC secret" attack),
//!   and HS256 needs a secret configured by reference.
//! - `jku`, `x5u` and embedded `jwk` headers are refused, never followed: keys come only from the
//!   configured JWKS or inline keys. Unknown `crit` extensions are refused (RFC 7515 §4.1.11).
//! - Errors say what failed without echoing the token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Longest token accepted (header and payload together). Far above real tokens, small enough
/// that an oversized header costs nothing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
    EdDsa,
    Hs256,
}

impl Alg {
    pub fn parse(s: &str) -> Option<Alg> {
        Some(match s {
            "RS256" => Alg::Rs256,
            "ES256" => Alg::Es256,
            "EdDSA" => Alg::EdDsa,
            "HS256" => Alg::Hs256,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Hs256 => "HS256",
        }
    }
}

/// A verification key and the algorithm it implies.
#[derive(Clone)]
pub enum Key {
    Rsa(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Hmac(Vec<u8>),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Key::Rsa(_) => "Key::Rsa",
            Key::P256(_) => "Key::P256",
            Key::Ed25519(_) => "Key::Ed25519",
            Key::Hmac(_) => "Key::Hmac(** redacted **)",
        })
    }
}

impl Key {
    fn alg(&self) -> Alg {
        match self {
            Key::Rsa(_) => Alg::Rs256,
            Key::P256(_) => Alg::Es256,
            Key::Ed25519(_) => Alg::EdDsa,
            Key::Hmac(_) => Alg::Hs256,
        }
    }
}

/// One key of a JWKS.
#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    pub key: Key,
    /// The public JWK as published, for platforms that import keys themselves (WebCrypto).
    pub json: Option<Value>,
}

fn b64(v: &Value) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(v.as_str()?).ok()
}

/// Parses a JWK Set. Keys of other types or uses (`"use": "enc"`) are skipped; a set with no
/// usable key is an error.
pub fn parse_jwks(json: &[u8]) -> Result<Vec<Jwk>, String> {
    let v: Value = serde_json::from_slice(json).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = v["keys"].as_array().ok_or("the JWKS has no \"keys\" array")?;
    let mut out = Vec::new();
    for k in keys {
        if k.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
            continue;
        }
        let key = match (k["kty"].as_str(), k["crv"].as_str()) {
            (Some("RSA"), _) => {
                let (Some(n), Some(e)) = (b64(&k["n"]), b64(&k["e"])) else { continue };
                let Ok(pk) = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from_bytes_be(&e)) else { continue };
                if n.len() < 256 {
                    continue; // under 2048 bits
                }
                Key::Rsa(Box::new(rsa::pkcs1v15::VerifyingKey::new(pk)))
            }
            (Some("EC"), Some("P-256")) => {
                let (Some(x), Some(y)) = (b64(&k["x"]), b64(&k["y"])) else { continue };
                if x.len() != 32 || y.len() != 32 {
                    continue;
                }
                let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
                let Ok(vk) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else { continue };
                Key::P256(vk)
            }
            (Some("OKP"), Some("Ed25519")) => {
                let Some(x) = b64(&k["x"]).and_then(|x| <[u8; 32]>::try_from(x).ok()) else { continue };
                let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&x) else { continue };
                Key::Ed25519(vk)
            }
            _ => continue,
        };
        let public: serde_json::Map<String, Value> = k
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(f, _)| matches!(f.as_str(), "kty" | "crv" | "x" | "y" | "n" | "e"))
                    .map(|(f, v)| (f.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Jwk { kid: k["kid"].as_str().map(str::to_owned), key, json: Some(Value::Object(public)) });
    }
    if out.is_empty() {
        return Err("the JWKS has no usable signing key".into());
    }
    Ok(out)
}

/// Why a token was refused. `Display` is the `error_description` sent back (never the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("no token")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is too large")]
    TooLarge,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token names a key location (jku, x5u or jwk), which is not accepted")]
    KeyLocation,
    #[error("the token has a critical header this service does not understand")]
    Crit,
    #[error("no key matches the token's kid")]
    UnknownKey,
    #[error("the signature is invalid")]
    Signature,
    #[error("the token is expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the token has the wrong issuer")]
    Issuer,
    #[error("the token has the wrong audience")]
    Audience,
    /// RFC 8725 3.12: an OpenID Connect ID token presented as a bearer credential.
    #[error("the token is an ID token, not an access token")]
    NotAnAccessToken,
    /// RFC 8725 3.11: the header's `typ` is not the one the provider expects.
    #[error("the token's type (typ) is not the one this service accepts")]
    Type,
}

/// A token split and decoded, not yet trusted.
pub struct Parsed<'a> {
    pub header: Value,
    pub payload: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Parsed<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let dec = |x: &str| URL_SAFE_NO_PAD.decode(x).map_err(|_| JwtError::Malformed);
    let header: Value = serde_json::from_slice(&dec(h)?).map_err(|_| JwtError::Malformed)?;
    let payload: Value = serde_json::from_slice(&dec(p)?).map_err(|_| JwtError::Malformed)?;
    if !header.is_object() || !payload.is_object() {
        return Err(JwtError::Malformed);
    }
    Ok(Parsed { header, payload, signing_input: &token[..h.len() + 1 + p.len()], signature: dec(s)? })
}

impl Parsed<'_> {
    /// The header policy: algorithm allowed, no key locations, no unknown `crit`.
    pub fn check_header(&self, allowed: &[Alg]) -> Result<Alg, JwtError> {
        let h = &self.header;
        if ["jku", "x5u", "jwk", "x5c"].iter().any(|k| h.get(*k).is_some()) {
            return Err(JwtError::KeyLocation);
        }
        if h.get("crit").is_some() {
            // We implement no extensions, so any critical one is unknown.
            return Err(JwtError::Crit);
        }
        let alg = h["alg"].as_str().and_then(Alg::parse).ok_or(JwtError::Algorithm)?;
        if !allowed.contains(&alg) {
            return Err(JwtError::Algorithm);
        }
        Ok(alg)
    }

    /// Whether the header's `typ` is `expected` (RFC 8725 3.11): compared without case and
    /// without an `application/` prefix (RFC 7515 4.1.9); an absent `typ` counts as `JWT`
    /// (RFC 7519 5.1), so `expected = "JWT"` also admits tokens that say nothing.
    pub fn check_typ(&self, expected: &str) -> Result<(), JwtError> {
        let have = match &self.header["typ"] {
            Value::Null => "jwt".to_owned(),
            Value::String(t) => media_type(t),
            _ => return Err(JwtError::Type),
        };
        if have == media_type(expected) {
            Ok(())
        } else {
            Err(JwtError::Type)
        }
    }

    pub fn kid(&self) -> Option<&str> {
        self.header["kid"].as_str()
    }

    /// `base64url(header) . base64url(payload)`, what the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Verifies the signature with `key`, which must be of `alg`'s type.
    pub fn verify(&self, alg: Alg, key: &Key) -> Result<(), JwtError> {
        if key.alg() != alg {
            return Err(JwtError::Algorithm);
        }
        let msg = self.signing_input.as_bytes();
        let ok = match key {
            Key::Rsa(k) => {
                use rsa::signature::Verifier;
                rsa::pkcs1v15::Signature::try_from(self.signature.as_slice()).is_ok_and(|sig| k.verify(msg, &sig).is_ok())
            }
            Key::P256(k) => {
                use p256::ecdsa::signature::Verifier;
                p256::ecdsa::Signature::from_slice(&self.signature).is_ok_and(|sig| k.verify(msg, &sig).is_ok())
            }
            Key::Ed25519(k) => ed25519_dalek::Signature::from_slice(&self.signature).is_ok_and(|sig| k.verify_strict(msg, &sig).is_ok()),
            Key::Hmac(secret) => {
                use hmac::Mac;
                let mut m = hmac::Hmac::<Sha256>::new_from_slice(secret).map_err(|_| JwtError::Signature)?;
                m.update(msg);
                m.verify_slice(&self.signature).is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(JwtError::Signature)
        }
    }
}

/// A `typ` value as [`Parsed::check_typ`] compares it: lower case, without an `application/`
/// prefix (RFC 7515 4.1.9).
pub fn media_type(typ: &str) -> String {
    let t = typ.trim().to_ascii_lowercase();
    t.strip_prefix("application/").map(str::to_owned).unwrap_or(t)
}

/// What the claims must satisfy.
pub struct ClaimRules<'a> {
    /// Compared exactly (no trailing-slash or case folding: RFC 8725 3.8, OIDC Core 3.1.3.7).
    pub issuer: &'a str,
    /// What `aud` must name (one of).
    pub audiences: &'a [String],
    /// For tokens without `aud` only: the clients whose `client_id` is accepted instead.
    pub client_ids: &'a [String],
    pub skew_secs: u64,
}

/// Checks `iss`, `aud` (or, for a token without `aud`, `client_id` against `client_ids`), `exp`
/// (required), `nbf`, `iat`, with `skew` either way.
pub fn check_claims(payload: &Value, rules: &ClaimRules<'_>, now_secs: u64) -> Result<u64, JwtError> {
    let num = |k: &str| {
        payload.get(k).map(|v| v.as_f64().filter(|x| x.is_finite() && *x >= 0.0).map(|x| x as u64).ok_or(JwtError::Malformed)).transpose()
    };
    let exp = num("exp")?.ok_or(JwtError::Malformed)?;
    if now_secs >= exp.saturating_add(rules.skew_secs) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = num("nbf")? {
        if now_secs.saturating_add(rules.skew_secs) < nbf {
            return Err(JwtError::NotYetValid);
        }
    }
    if let Some(iat) = num("iat")? {
        if iat > now_secs.saturating_add(rules.skew_secs) {
            return Err(JwtError::IssuedInFuture);
        }
    }
    if payload["iss"].as_str() != Some(rules.issuer) {
        return Err(JwtError::Issuer);
    }
    let aud_ok = match &payload["aud"] {
        Value::String(a) => rules.audiences.iter().any(|x| x == a),
        Value::Array(list) => list.iter().filter_map(Value::as_str).any(|a| rules.audiences.iter().any(|x| x == a)),
        Value::Null => payload["client_id"].as_str().is_some_and(|c| rules.client_ids.iter().any(|x| x == c)),
        _ => false,
    };
    if !aud_ok {
        return Err(JwtError::Audience);
    }
    Ok(exp)
}

/// Whether `payload` is an OpenID Connect ID token rather than an access token (RFC 8725 3.12:
/// the two kinds must not be accepted for each other). ID tokens carry `nonce`, `at_hash` or
/// `c_hash` (OpenID Connect Core 2, 3.1.3.6, 3.3.2.11), and Cognito marks them `token_use: "id"`;
/// access tokens never do. Without this, an issuer whose ID tokens name this API's audience (as
/// Cognito's do, with the app client id) would get ID tokens accepted as API credentials.
pub fn is_id_token(payload: &Value) -> bool {
    ["nonce", "at_hash", "c_hash"].iter().any(|k| payload.get(k).is_some())
        || payload.get("token_use").and_then(Value::as_str).is_some_and(|u| u != "access")
}

/// Scopes from `scope` (space-separated) or `scp` (array or string).
pub fn scopes(payload: &Value) -> Vec<String> {
    let from = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => s.split_ascii_whitespace().map(str::to_owned).collect(),
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        }
    };
    let mut out = from(&payload["scope"]);
    out.extend(from(&payload["scp"]));
    out
}

/// SHA-256 of a token: the verified-token cache's key (the token itself is never stored).
pub fn fingerprint(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Signature verification by the platform, where it is faster than Rust compiled to wasm
/// (WebCrypto on Workers). `None` means "not here": the core then verifies in Rust.
#[allow(async_fn_in_trait)]
pub trait Verifier {
    async fn verify(&self, alg: Alg, jwk: &Value, input: &[u8], signature: &[u8]) -> Option<bool>;

    /// How the access log names this verifier when it answered.
    fn name(&self) -> &'static str;
}

/// Verifies everything in Rust.
pub struct RustOnly;

impl Verifier for RustOnly {
    async fn verify(&self, _alg: Alg, _jwk: &Value, _input: &[u8], _signature: &[u8]) -> Option<bool> {
        None
    }

    fn name(&self) -> &'static str {
        "rust"
    }
}
