//! SigV4 signing and verification, shared by the Verge edge and origin.
//!
//! Signing is [`aws-sigv4`] underneath, with the settings AWS uses for each kind of target:
//!
//! | [`Profile`]  | used for                         | path encoding | payload header            |
//! |--------------|----------------------------------|---------------|---------------------------|
//! | `S3`         | GET/HEAD of bucket objects       | single, as-is | `x-amz-content-sha256`    |
//! | `Api`        | the edge -> origin hop            | double        | `x-amz-content-sha256`    |
//! | `DynamoDb`   | the DynamoDB JSON API            | double        | none (body is hashed)     |
//!
//! [`verify`] is the other side of `Api`: the origin re-derives the signature from the headers the
//! request says it signed and compares it in constant time. It exists because no AWS library
//! verifies SigV4 (that is API Gateway's job in AWS); the origin does what API Gateway's IAM
//! authorizer does.
//!
//! Time is always a parameter: nothing here reads a clock.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use verge_signing::{sign, verify, Credentials, Profile, Scope};
//!
//! let creds = Credentials::new("AKIDEXAMPLE", "secret", None);
//! let scope = Scope { region: "us-east-1".into(), service: "execute-api".into() };
//! let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let mut req = http::Request::post("http://origin.example/api/numbers")
//!     .body(br#"{"value":1}"#.to_vec())
//!     .unwrap();
//! sign(&mut req, &creds, &scope, Profile::Api, now).unwrap();
//!
//! let (parts, body) = req.into_parts();
//! let host = parts.uri.authority().unwrap().as_str();
//! let verified = verify(
//!     &parts.method, host, parts.uri.path_and_query().unwrap().as_str(), &parts.headers, &body,
//!     &|id| (id == "AKIDEXAMPLE").then(|| creds.clone()), &scope, now,
//! );
//! assert!(verified.is_ok());
//! ```

pub mod secret;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{
    sign as sigv4_sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, Method, Request};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far a signed request's `x-amz-date` may be from the verifier's clock, either way.
/// Five minutes is what AWS services allow (`RequestTimeTooSkewed` beyond it).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Header carrying the hex SHA-256 of the body; S3 and the origin both require it.
pub const CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Long-term (or session) AWS-style credentials. `Debug` never prints the secret.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    secret_access_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>, session_token: Option<String>) -> Self {
        Self { access_key_id: access_key_id.into(), secret_access_key: secret.into(), session_token }
    }

    fn identity(&self) -> Identity {
        aws_credential_types::Credentials::new(&self.access_key_id, &self.secret_access_key, self.session_token.clone(), None, "verge")
            .into()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).field("secret_access_key", &"** redacted **").finish()
    }
}

/// Region and service of a credential scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub service: String,
}

/// Which AWS signing conventions to follow; see the module table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    S3,
    Api,
    DynamoDb,
}

impl Profile {
    fn settings(self) -> SigningSettings {
        let mut s = SigningSettings::default();
        match self {
            Profile::S3 => {
                s.percent_encoding_mode = PercentEncodingMode::Single;
                s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
                s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            }
            Profile::Api => s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
            Profile::DynamoDb => {}
        }
        s
    }
}

/// Why a request could not be signed (a URI without a host, a non-UTF-8 header value).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign request: {0}")]
pub struct SignError(String);

/// Hex SHA-256, as SigV4 wants it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Signs `req` in place: adds `x-amz-date`, `authorization`, the payload hash for profiles that
/// send it, and `x-amz-security-token` for session credentials. Every header already on the
/// request is signed (but those SigV4 always leaves out, such as `user-agent`).
///
/// # Errors
/// [`SignError`] when the URI has no host or a header value is not visible ASCII.
pub fn sign<B: AsRef<[u8]>>(
    req: &mut Request<B>,
    creds: &Credentials,
    scope: &Scope,
    profile: Profile,
    now: SystemTime,
) -> Result<(), SignError> {
    if req.uri().host().is_none() {
        return Err(SignError("the URI has no host".into()));
    }
    let identity = creds.identity();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&scope.region)
        .name(&scope.service)
        .time(now)
        .settings(profile.settings())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let body_hash = sha256_hex(req.body().as_ref());
    let headers = header_pairs(req.headers())?;
    let uri = req.uri().to_string();
    let signable =
        SignableRequest::new(req.method().as_str(), uri, headers.iter().map(|(k, v)| (*k, *v)), SignableBody::Precomputed(body_hash))
            .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _sig) = sigv4_sign(signable, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

fn header_pairs(headers: &HeaderMap) -> Result<Vec<(&str, &str)>, SignError> {
    headers
        .iter()
        .map(|(k, v)| v.to_str().map(|v| (k.as_str(), v)).map_err(|_| SignError(format!("header {k} is not visible ASCII"))))
        .collect()
}

/// Why a request's signature was refused. Each maps to 403 at the origin; the text is safe to
/// show the caller (it never contains the expected signature or any secret).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("the request is not signed (no SigV4 Authorization header)")]
    Missing,
    #[error("the Authorization header is not a well-formed SigV4 header: {0}")]
    Malformed(&'static str),
    #[error("the access key is not known")]
    UnknownKey,
    #[error("the credential scope does not match this service ({0})")]
    WrongScope(&'static str),
    #[error("the signature is older or newer than 5 minutes")]
    Stale,
    #[error("header {0} must be signed")]
    UnsignedHeader(String),
    #[error("the body does not match x-amz-content-sha256")]
    BodyMismatch,
    #[error("the signature does not match")]
    Mismatch,
}

/// What a verified request proves: which key signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
}

struct AuthHeader<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<AuthHeader<'_>, VerifyError> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or(VerifyError::Malformed("algorithm must be AWS4-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        } else {
            return Err(VerifyError::Malformed("unexpected component"));
        }
    }
    let credential = credential.ok_or(VerifyError::Malformed("no Credential"))?;
    let mut scope = credential.split('/');
    let (Some(key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
        (scope.next(), scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return Err(VerifyError::Malformed("Credential must be key/date/region/service/aws4_request"));
    };
    let signed_headers: Vec<&str> = signed.ok_or(VerifyError::Malformed("no SignedHeaders"))?.split(';').collect();
    let signature = signature.ok_or(VerifyError::Malformed("no Signature"))?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(VerifyError::Malformed("Signature must be 64 hex digits"));
    }
    Ok(AuthHeader { key_id, date, region, service, signed_headers, signature })
}

/// Parses `YYYYMMDDTHHMMSSZ` (the `x-amz-date` format) into a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok()).flatten()
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs).ok().map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Verifies a request signed with [`Profile::Api`].
///
/// `host` is the authority the request was sent to, `path_and_query` exactly as received: the
/// path is verified as is, never normalised, so it is the path the caller goes on to route.
/// `lookup` maps an access key id to its credentials. Every `x-verge-*` header present must be
/// among the signed headers, so identity headers cannot be added to a captured request.
///
/// # Errors
/// A [`VerifyError`] saying which check failed.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    method: &Method,
    host: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    lookup: &dyn Fn(&str) -> Option<Credentials>,
    expected: &Scope,
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    let auth = headers.get(http::header::AUTHORIZATION).ok_or(VerifyError::Missing)?;
    let auth = parse_authorization(auth.to_str().map_err(|_| VerifyError::Malformed("not ASCII"))?)?;
    if auth.region != expected.region {
        return Err(VerifyError::WrongScope("region"));
    }
    if auth.service != expected.service {
        return Err(VerifyError::WrongScope("service"));
    }
    let creds = lookup(auth.key_id).ok_or(VerifyError::UnknownKey)?;

    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or(VerifyError::Malformed("no x-amz-date header"))?;
    let signed_at = parse_amz_date(amz_date).ok_or(VerifyError::Malformed("x-amz-date is not YYYYMMDDTHHMMSSZ"))?;
    // The scope's date is exactly x-amz-date's 8-digit date (parse_amz_date checked its shape).
    if amz_date.get(..8) != Some(auth.date) {
        return Err(VerifyError::Malformed("credential date differs from x-amz-date"));
    }
    let skew = now.duration_since(signed_at).unwrap_or_else(|e| e.duration());
    if skew > MAX_CLOCK_SKEW {
        return Err(VerifyError::Stale);
    }

    for required in ["host", "x-amz-date", CONTENT_SHA256] {
        if !auth.signed_headers.contains(&required) {
            return Err(VerifyError::UnsignedHeader(required.into()));
        }
    }
    for name in headers.keys() {
        if name.as_str().starts_with("x-verge-") && !auth.signed_headers.contains(&name.as_str()) {
            return Err(VerifyError::UnsignedHeader(name.as_str().into()));
        }
    }
    let body_hash = sha256_hex(body);
    match headers.get(CONTENT_SHA256) {
        Some(v) if v.as_bytes() == body_hash.as_bytes() => {}
        _ => return Err(VerifyError::BodyMismatch),
    }

    // Rebuild the request from exactly the signed headers and sign it again at the same time.
    let mut rebuilt = Request::builder()
        .method(method.clone())
        .uri(format!("http://{host}{path_and_query}"))
        .body(Vec::<u8>::new())
        .map_err(|_| VerifyError::Malformed("request line"))?;
    for name in &auth.signed_headers {
        if matches!(*name, "host" | "authorization" | "x-amz-date" | CONTENT_SHA256 | "x-amz-security-token") {
            continue;
        }
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| VerifyError::Malformed("SignedHeaders"))?;
        for v in headers.get_all(&name) {
            rebuilt.headers_mut().append(name.clone(), v.clone());
        }
    }
    // The canonical request takes the path exactly as received (no RFC 3986 normalisation):
    // the caller routes that path, so a signature for `/a/b` must not verify `/a/x/../b` or
    // `/a//b`. The edge signs paths it has already normalised, for which both are the same.
    let mut settings = Profile::Api.settings();
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let recomputed = expected_signature(&mut rebuilt, &creds, expected, signed_at, body_hash, settings)?;
    if bool::from(recomputed.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(Verified { access_key_id: creds.access_key_id })
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn expected_signature(
    req: &mut Request<Vec<u8>>,
    creds: &Credentials,
    scope: &Scope,
    at: SystemTime,
    body_hash: String,
    settings: SigningSettings,
) -> Result<String, VerifyError> {
    let identity = creds.identity();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&scope.region)
        .name(&scope.service)
        .time(at)
        .settings(settings)
        .build()
        .map_err(|_| VerifyError::Mismatch)?
        .into();
    let headers = header_pairs(req.headers()).map_err(|_| VerifyError::Malformed("header value"))?;
    let uri = req.uri().to_string();
    let signable =
        SignableRequest::new(req.method().as_str(), uri, headers.iter().map(|(k, v)| (*k, *v)), SignableBody::Precomputed(body_hash))
            .map_err(|_| VerifyError::Malformed("request"))?;
    let out = sigv4_sign(signable, &params).map_err(|_| VerifyError::Mismatch)?;
    Ok(out.signature().to_string())
}

#[cfg(test)]
mod tests;
