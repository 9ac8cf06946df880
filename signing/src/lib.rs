//! SigV4 signing and verification, shared by the Verge edge and origin.
//!
//! The computation is [`v4`], which follows `aws-sigv4`'s rules (its tests compare the two) at a
//! fraction of the cost, with the settings AWS uses for each kind of target:
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
mod v4;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, Request};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far a signed request's `x-amz-date` may be from the verifier's clock, either way.
/// Five minutes is what AWS services allow (`RequestTimeTooSkewed` beyond it).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Header carrying the hex SHA-256 of the body; S3 and the origin both require it.
pub const CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Long-term (or session) AWS-style credentials. `Debug` never prints the secret. Clones share
/// the signing key derived from the secret for the current day ([`v4::KeyCache`]).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    secret_access_key: String,
    pub session_token: Option<String>,
    keys: Arc<v4::KeyCache>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>, session_token: Option<String>) -> Self {
        Self { access_key_id: access_key_id.into(), secret_access_key: secret.into(), session_token, keys: v4::KeyCache::shared() }
    }

    /// The hex signature of a canonical request made at `date_time` (`YYYYMMDDTHHMMSSZ`).
    fn signature(&self, canonical: &v4::Canonical<'_>, signed_headers: &str, date_time: &str, scope: &Scope) -> String {
        let to_sign = v4::string_to_sign(date_time, &scope.region, &scope.service, &canonical.request(signed_headers));
        self.keys.signature(&self.secret_access_key, &date_time[..8], &scope.region, &scope.service, &to_sign)
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
    fn path_rules(self) -> v4::PathRules {
        match self {
            Profile::S3 => v4::PathRules { normalise: false, encode_again: false },
            Profile::Api | Profile::DynamoDb => v4::PathRules { normalise: true, encode_again: true },
        }
    }

    /// Whether the request carries its payload hash in `x-amz-content-sha256` (signed).
    fn payload_header(self) -> bool {
        matches!(self, Profile::S3 | Profile::Api)
    }
}

/// Why a request could not be signed (a URI without a host, a non-UTF-8 header value).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign request: {0}")]
pub struct SignError(String);

/// Hex SHA-256, as SigV4 wants it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    payload_hash(bytes).into_owned()
}

/// [`sha256_hex`] without an allocation for the empty payload most signed requests have.
fn payload_hash(bytes: &[u8]) -> Cow<'static, str> {
    if bytes.is_empty() {
        Cow::Borrowed(v4::EMPTY_SHA256)
    } else {
        Cow::Owned(to_hex(Sha256::digest(bytes)))
    }
}

/// Lowercase hex, written through a table into one buffer (`hex::encode` collects `char`s one by
/// one, which showed as 7% of the edge's per-request cost).
pub fn to_hex(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("the buffer is twice the input");
    String::from_utf8(out).expect("hex digits are ASCII")
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
    let uri = req.uri();
    let Some(authority) = uri.authority() else {
        return Err(SignError("the URI has no host".into()));
    };
    let payload_header = profile.payload_header();
    let token = creds.session_token.as_deref();
    let date_time = v4::amz_date(now);
    let payload_hash = payload_hash(req.body().as_ref());

    // Every header already on the request but those SigV4 leaves unsigned and those signing sets.
    let mut headers: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(req.headers().keys_len() + 4);
    for name in req.headers().keys() {
        let n = name.as_str();
        let set_here = n == "x-amz-date" || (payload_header && n == CONTENT_SHA256) || (token.is_some() && n == "x-amz-security-token");
        if v4::UNSIGNED.contains(&n) || set_here {
            continue;
        }
        headers.push((n, joined(req.headers(), name).ok_or_else(|| SignError(format!("header {n} is not visible ASCII")))?));
    }
    if !req.headers().contains_key(http::header::HOST) {
        headers.push(("host", Cow::Borrowed(host_header(uri.scheme_str(), authority))));
    }
    headers.push(("x-amz-date", Cow::Borrowed(&date_time)));
    if let Some(t) = token {
        headers.push(("x-amz-security-token", Cow::Borrowed(t)));
    }
    if payload_header {
        headers.push((CONTENT_SHA256, Cow::Borrowed(&payload_hash)));
    }
    headers.sort_unstable_by(|a, b| a.0.cmp(b.0));

    let canonical = v4::Canonical {
        method: req.method().as_str(),
        path: uri.path(),
        query: uri.query(),
        headers: &headers,
        payload_hash: &payload_hash,
        rules: profile.path_rules(),
    };
    let signed_headers = canonical.signed_headers();
    let signature = creds.signature(&canonical, &signed_headers, &date_time, scope);

    let mut authorization = String::with_capacity(128 + signed_headers.len());
    authorization.push_str("AWS4-HMAC-SHA256 Credential=");
    authorization.push_str(&creds.access_key_id);
    authorization.push('/');
    v4::push_scope(&mut authorization, &date_time[..8], &scope.region, &scope.service);
    authorization.push_str(", SignedHeaders=");
    authorization.push_str(&signed_headers);
    authorization.push_str(", Signature=");
    authorization.push_str(&signature);

    let value = |v: &str| http::HeaderValue::from_str(v).map_err(|_| SignError("a signing value is not a valid header value".into()));
    let (date_value, auth_value) = (value(&date_time)?, value(&authorization)?);
    let payload_value = if payload_header { Some(value(&payload_hash)?) } else { None };
    let token_value = token.map(value).transpose()?;
    let h = req.headers_mut();
    h.insert("x-amz-date", date_value);
    h.insert(http::header::AUTHORIZATION, auth_value);
    if let Some(v) = payload_value {
        h.insert(CONTENT_SHA256, v);
    }
    if let Some(mut v) = token_value {
        v.set_sensitive(true);
        h.insert("x-amz-security-token", v);
    }
    Ok(())
}

/// A field's values as SigV4 signs them: each trimmed, joined with commas. `None` when one is not
/// visible ASCII.
fn joined<'a>(headers: &'a HeaderMap, name: &http::HeaderName) -> Option<Cow<'a, str>> {
    let mut values = headers.get_all(name).iter();
    let first = v4::trim_spaces(values.next()?.to_str().ok()?);
    let Some(second) = values.next() else { return Some(first) };
    let mut all = first.into_owned();
    for v in std::iter::once(second).chain(values) {
        all.push(',');
        all.push_str(&v4::trim_spaces(v.to_str().ok()?));
    }
    Some(Cow::Owned(all))
}

/// The `host` SigV4 signs when the request has no Host header: the authority, without the port
/// when it is the scheme's default.
fn host_header<'a>(scheme: Option<&str>, authority: &'a http::uri::Authority) -> &'a str {
    match (scheme, authority.port_u16()) {
        (Some("http"), Some(80)) | (Some("https"), Some(443)) => authority.host(),
        _ => authority.as_str(),
    }
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

    // The canonical request of exactly the headers the request says it signed, and the path
    // exactly as received (no RFC 3986 normalisation): the caller routes that path, so a
    // signature for `/a/b` must not verify `/a/x/../b` or `/a//b`. The edge signs paths it has
    // already normalised, for which both are the same. Host, date, payload hash and session token
    // are the values checked above, never the request's own copies.
    let mut names = auth.signed_headers.clone();
    names.sort_unstable();
    names.dedup();
    if creds.session_token.is_some() && !names.contains(&"x-amz-security-token") {
        return Err(VerifyError::Mismatch);
    }
    let authority: http::uri::Authority = host.parse().map_err(|_| VerifyError::Malformed("request line"))?;
    let mut signed: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(names.len());
    for name in names {
        let value = match name {
            "host" => Cow::Borrowed(host_header(Some("http"), &authority)),
            "x-amz-date" => Cow::Borrowed(amz_date),
            CONTENT_SHA256 => Cow::Borrowed(body_hash.as_str()),
            "x-amz-security-token" => Cow::Borrowed(creds.session_token.as_deref().ok_or(VerifyError::Mismatch)?),
            _ => {
                let header = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| VerifyError::Malformed("SignedHeaders"))?;
                joined(headers, &header).ok_or(VerifyError::Mismatch)?
            }
        };
        signed.push((name, value));
    }
    let (path, query) = path_and_query.split_once('?').map_or((path_and_query, None), |(p, q)| (p, Some(q)));
    let canonical = v4::Canonical {
        method: method.as_str(),
        path,
        query,
        headers: &signed,
        payload_hash: &body_hash,
        rules: v4::PathRules { normalise: false, encode_again: true },
    };
    let recomputed = creds.signature(&canonical, &canonical.signed_headers(), amz_date, expected);
    if bool::from(recomputed.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(Verified { access_key_id: creds.access_key_id })
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests;
