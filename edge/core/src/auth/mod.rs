//! Identity at the edge: JWTs (JWKS-backed or inline keys) and API keys, evaluated against a
//! behaviour's [`AuthRule`], producing the identity headers the edge sends to the origin.
//!
//! Caches (per isolate or component instance; all bounded, all keyed by hashes, never by tokens).
//! The token and API-key caches hold at most [`MAX_CACHE_ENTRIES`] each and evict the least
//! recently used entry when full ([`lru`]), so a flood of unknown keys or garbage tokens cannot
//! flush the entries valid callers use; the JWKS and discovery caches hold one entry per
//! configured provider, a number fixed by the config file.
//! - JWKS per provider, for the response's `Cache-Control: max-age` clamped to the provider's
//!   bounds; refetched on an unknown `kid` at most once per refetch interval; kept and used while
//!   the JWKS endpoint fails. A request waits on at most one JWKS fetch per provider.
//! - verified tokens until they expire, so a token seen before costs a lookup, not a signature;
//! - API-key verdicts, positive and negative, like API Gateway's authorizer cache.

pub mod jwt;
mod lru;
pub mod oidc;
pub mod roles;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use verge_signing::{sign, Profile};

use crate::cache::flight::Pause;
use crate::config::auth::{AuthConfig, AuthRule, JwtProvider, TokenSource};
use crate::config::token_kinds;
use crate::config::Reference;
use crate::target::{ResolvedOrigin, StartupError, Target};
use crate::upstream::{OriginTimeout, Upstream};
use jwt::{Jwk, JwtError, Key};

/// Headers the edge sets on origin requests; any sent by a client are dropped first.
pub const USER: &str = "x-verge-user";
pub const SCOPES: &str = "x-verge-scopes";
pub const CONSUMER: &str = "x-verge-consumer";
pub const PLAN: &str = "x-verge-plan";
pub const TOKEN: &str = "x-verge-token";
pub const KEY_HASH: &str = "x-verge-api-key-hash";

/// Entries kept per identity cache; past it the least recently used one is evicted.
pub(crate) const MAX_CACHE_ENTRIES: usize = 10_000;
/// How long a JWKS fetch may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// Who the edge says is calling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What admitted the request, for the access log: `jwt:<provider>`, `api_key`, `session`,
    /// joined with `+` for `all_of`.
    pub via: Option<String>,
    /// Who checked a JWT signature during this request (`webcrypto`, `rust`); none when the
    /// token was in the verified-token cache.
    pub signature: Option<&'static str>,
}

impl Identity {
    fn admitted_by(mut self, via: impl Into<String>) -> Self {
        self.via = Some(via.into());
        self
    }

    fn merge(&mut self, other: Identity) {
        self.via = match (self.via.take(), other.via) {
            (Some(a), Some(b)) => Some(format!("{a}+{b}")),
            (a, b) => a.or(b),
        };
        self.signature = self.signature.or(other.signature);
        for (k, v) in other.headers {
            if !self.headers.iter().any(|(h, _)| *h == k) {
                self.headers.push((k, v));
            }
        }
    }
}

/// Why a request was not let through. Each maps to one response in [`crate::problem`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    InvalidToken(JwtError),
    #[error("the token lacks the scope {0}")]
    InsufficientScope(String),
    /// A session whose user lacks a required scope (a role from `[auth.oidc] roles_claim`).
    #[error("the signed-in user lacks the scope {0}")]
    SessionLacksScope(String),
    #[error("no API key")]
    MissingApiKey,
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// Keys could not be had (JWKS endpoint down with nothing cached, key lookup failing).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    NoSession(&'static str),
    /// A write (POST, PUT, PATCH, DELETE) authenticated by the session cookie but not sent by
    /// this site's own pages: the cookie is `SameSite=Lax`, which still lets a same-site page
    /// (another subdomain) send it (answered 403).
    #[error("a write with the session cookie is only accepted from this site's own pages")]
    CrossSite,
}

impl AuthError {
    /// Which error wins when every alternative of an `any_of` failed: a real failure over a
    /// missing credential.
    fn rank(&self) -> u8 {
        match self {
            AuthError::InvalidToken(JwtError::Missing) | AuthError::MissingApiKey | AuthError::NoSession("no session") => 0,
            // Another provider's token: says least about what went wrong.
            AuthError::InvalidToken(JwtError::Issuer) => 1,
            AuthError::Unavailable(_) => 2,
            _ => 3,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::InsufficientScope(_) | AuthError::SessionLacksScope(_) | AuthError::CrossSite => StatusCode::FORBIDDEN,
            AuthError::NoSession(_) => StatusCode::UNAUTHORIZED,
            AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` header (RFC 6750 for bearer tokens).
    pub fn challenge(&self) -> Option<String> {
        match self {
            AuthError::InvalidToken(e) => Some(format!("Bearer error=\"invalid_token\", error_description=\"{e}\"")),
            AuthError::InsufficientScope(s) => {
                Some(format!("Bearer error=\"insufficient_scope\", error_description=\"the token lacks the scope {s}\", scope=\"{s}\""))
            }
            AuthError::MissingApiKey | AuthError::InvalidApiKey => Some("ApiKey realm=\"verge\"".to_owned()),
            AuthError::Unavailable(_) | AuthError::CrossSite | AuthError::SessionLacksScope(_) => None,
            AuthError::NoSession(_) => Some("Session realm=\"verge\", login=\"/auth/login\"".to_owned()),
        }
    }
}

/// A provider with its references resolved and inline keys parsed.
#[derive(Debug, Clone)]
pub struct ResolvedProvider {
    pub cfg: JwtProvider,
    pub jwks_url: Option<String>,
    pub static_keys: Vec<Jwk>,
}

pub(crate) fn resolve(cfg: &AuthConfig, lookup: crate::target::Lookup<'_>) -> Result<Vec<ResolvedProvider>, StartupError> {
    cfg.jwt
        .iter()
        .map(|p| {
            let missing =
                |name: &str, kind| StartupError::Missing { origin: format!("jwt provider {}", p.name), kind, name: name.to_owned() };
            let jwks_url = match &p.jwks_url {
                None => None,
                Some(crate::config::Setting::Literal(v)) => Some(v.clone()),
                Some(crate::config::Setting::Env { name, default }) => Some(
                    lookup(&Reference::Env(name.clone()))
                        .or_else(|| default.clone())
                        .ok_or_else(|| missing(name, "environment variable"))?,
                ),
            };
            let mut static_keys = match &p.inline_jwks {
                Some(s) => jwt::parse_jwks(s.as_bytes()).unwrap_or_default(),
                None => Vec::new(),
            };
            if let Some(r) = &p.hs256_secret {
                let secret = lookup(r).ok_or_else(|| missing(r.name(), "secret"))?;
                // RFC 7518 section 3.2: an HS256 key of at least the hash's size, 256 bits.
                let secret = strong_secret(&format!("[auth.jwt.{}] hs256_secret", p.name), r, secret)?;
                static_keys.push(Jwk { kid: None, key: Key::Hmac(secret.into_bytes()), json: None });
            }
            Ok(ResolvedProvider { cfg: p.clone(), jwks_url, static_keys })
        })
        .collect()
}

/// Resolves `[auth.oidc]` and adds the ID-token provider (issuer, audience = client id, keys
/// from the discovery document's `jwks_uri`) to `providers`.
pub(crate) fn resolve_oidc(
    cfg: &AuthConfig,
    lookup: crate::target::Lookup<'_>,
    providers: &mut Vec<ResolvedProvider>,
) -> Result<Option<oidc::ResolvedOidc>, StartupError> {
    let Some(o) = &cfg.oidc else { return Ok(None) };
    let missing = |name: &str, kind| StartupError::Missing { origin: "[auth.oidc]".into(), kind, name: name.to_owned() };
    let setting = |s: &crate::config::Setting| -> Result<String, StartupError> {
        match s {
            crate::config::Setting::Literal(v) => Ok(v.clone()),
            crate::config::Setting::Env { name, default } => {
                lookup(&Reference::Env(name.clone())).or_else(|| default.clone()).ok_or_else(|| missing(name, "environment variable"))
            }
        }
    };
    let get = |r: &Reference| lookup(r).ok_or_else(|| missing(r.name(), "secret"));
    let issuer = setting(&o.issuer)?;
    let client_id = setting(&o.client_id)?;
    if let Some(p) = cfg.jwt.iter().find(|p| token_kinds::accepts_login_id_tokens(p, &issuer, &client_id)) {
        // Names the settings, not their values.
        let source = |s: &crate::config::Setting| match s {
            crate::config::Setting::Literal(_) => "as written in the file".to_owned(),
            crate::config::Setting::Env { name, .. } => format!("environment variable {name}"),
        };
        return Err(StartupError::IdTokensAccepted {
            provider: p.name.clone(),
            issuer: source(&o.issuer),
            client_id: source(&o.client_id),
        });
    }
    let public_url = match &o.public_url {
        Some(crate::config::Setting::Env { name, default }) => lookup(&Reference::Env(name.clone())).or_else(|| default.clone()),
        Some(crate::config::Setting::Literal(v)) => Some(v.clone()),
        None => None,
    };
    let provider = providers.len();
    providers.push(ResolvedProvider {
        cfg: JwtProvider {
            name: "oidc-login".into(),
            // Exactly as configured: ID tokens carry the issuer exactly (Auth0's ends in `/`).
            issuer: issuer.clone(),
            audiences: vec![client_id.clone()],
            client_ids: Vec::new(),
            // An ID token is a plain JWT: a token typed as another kind (`at+jwt`, a logout
            // token) is not accepted at the callback (RFC 8725 3.11).
            typ: Some(token_kinds::ID_TOKEN_TYP.into()),
            jwks_url: None,
            inline_jwks: None,
            hs256_secret: None,
            algorithms: token_kinds::ID_TOKEN_ALGORITHMS.to_vec(),
            clock_skew: Duration::from_secs(60),
            token: TokenSource::Bearer,
            forward_claims: Vec::new(),
            forward_token: false,
            jwks_min_ttl: Duration::from_secs(60),
            jwks_max_ttl: Duration::from_secs(86_400),
            jwks_refetch_interval: Duration::from_secs(30),
        },
        jwks_url: None,
        static_keys: Vec::new(),
    });
    Ok(Some(oidc::ResolvedOidc {
        issuer,
        client_id,
        client_secret: o.client_secret.as_ref().map(get).transpose()?,
        scopes: o.scopes.clone(),
        session_ttl: o.session_ttl,
        public_url,
        roles_claim: o.roles_claim.clone(),
        provider,
        keys: oidc::ResolvedOidc::cookie_keys(&strong_secret("[auth.oidc] session_secret", &o.session_secret, get(&o.session_secret)?)?),
    }))
}

/// `value` if it holds at least 32 bytes of key material (`verge_signing::secret::check`);
/// otherwise a startup error naming `setting` and the reference, never the value.
pub(crate) fn strong_secret(setting: &str, r: &Reference, value: String) -> Result<String, StartupError> {
    match verge_signing::secret::check(&value) {
        Ok(()) => Ok(value),
        Err(why) => Err(StartupError::Weak {
            setting: setting.to_owned(),
            kind: match r {
                Reference::Env(_) => "environment variable",
                Reference::Secret(_) => "secret",
            },
            name: r.name().to_owned(),
            why,
        }),
    }
}

#[derive(Debug)]
struct JwksEntry {
    /// `None` until a fetch has succeeded: a cold instance whose first fetch failed has no keys,
    /// which is not the same as a key set without the token's key.
    keys: Option<Arc<Vec<Jwk>>>,
    fresh_until: SystemTime,
    last_fetch: SystemTime,
}

#[derive(Debug, Clone)]
struct CachedToken {
    provider: usize,
    identity: Identity,
    scopes: Vec<String>,
    expires: SystemTime,
}

/// The caches, shared by all requests an edge instance serves.
#[derive(Debug, Default)]
pub struct AuthState {
    jwks: Mutex<HashMap<usize, JwksEntry>>,
    /// The OIDC issuer's `jwks_uri`, once its discovery document has been read.
    pub(crate) discovered_jwks_uri: Mutex<Option<String>>,
    pub(crate) discovery: Mutex<Option<(oidc::Discovery, SystemTime)>>,
    tokens: Mutex<lru::Lru<[u8; 32], CachedToken>>,
    api_keys: Mutex<lru::Lru<String, (Option<Identity>, SystemTime)>>,
    /// Session renewals in flight, keyed by a hash of the refresh token: one per session at a
    /// time on this instance ([`oidc`]).
    pub(crate) renewals: crate::cache::flight::Flights,
    /// Renewals' token responses and when their access token expires, for requests that still
    /// carry the cookie renewed: until the new access token itself needs renewing.
    pub(crate) renewed: Mutex<lru::Lru<String, (serde_json::Value, SystemTime)>>,
    /// Counters for tests and benchmarks: signatures verified, JWKS fetches made.
    pub stats: Mutex<AuthStats>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AuthStats {
    pub signatures_verified: u64,
    pub jwks_fetches: u64,
    pub key_lookups: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What an evaluation leaves for the answer whatever its outcome: a renewed session's cookie
/// (the issuer may have rotated the refresh token, so it must reach the browser even when the
/// request is then refused, e.g. for a missing scope) and notes for the access log.
#[derive(Debug, Default)]
pub struct Issued {
    pub cookies: Vec<HeaderValue>,
    pub notes: Vec<String>,
}

/// Everything one evaluation needs.
pub struct Authenticator<'a, U: Upstream + Pause, V: jwt::Verifier> {
    pub verifier: &'a V,
    pub oidc: Option<&'a oidc::ResolvedOidc>,
    pub entropy: [u8; 16],
    pub providers: &'a [ResolvedProvider],
    pub api_key: Option<&'a crate::config::auth::ApiKeyConfig>,
    pub origins: &'a [ResolvedOrigin],
    pub state: &'a AuthState,
    pub up: &'a U,
    pub now: SystemTime,
    pub request_id: &'a str,
    /// The request's method: a session admits a write only from this site's own pages.
    pub method: &'a http::Method,
    pub issued: RefCell<Issued>,
}

type Eval<'b> = Pin<Box<dyn Future<Output = Result<Identity, AuthError>> + 'b>>;

impl<U: Upstream + Pause, V: jwt::Verifier> Authenticator<'_, U, V> {
    /// Checks `rule` against the request's headers.
    pub fn evaluate<'b>(&'b self, rule: &'b AuthRule, headers: &'b HeaderMap) -> Eval<'b> {
        Box::pin(async move {
            match rule {
                AuthRule::None => Ok(Identity::default()),
                AuthRule::ApiKey => self.api_key(headers).await.map(|id| id.admitted_by("api_key")),
                AuthRule::Session { scopes } => self.session(headers, scopes).await.map(|id| id.admitted_by("session")),
                AuthRule::Jwt { providers, scopes } => self.jwt_any(providers, scopes, headers).await,
                AuthRule::AnyOf(rules) => {
                    let mut worst: Option<AuthError> = None;
                    for r in rules {
                        match self.evaluate(r, headers).await {
                            Ok(id) => return Ok(id),
                            Err(e) if worst.as_ref().is_none_or(|w| e.rank() > w.rank()) => worst = Some(e),
                            Err(_) => {}
                        }
                    }
                    Err(worst.unwrap_or(AuthError::InvalidToken(JwtError::Missing)))
                }
                AuthRule::AllOf(rules) => {
                    let mut id = Identity::default();
                    for r in rules {
                        id.merge(self.evaluate(r, headers).await?);
                    }
                    Ok(id)
                }
            }
        })
    }

    async fn jwt_any(&self, providers: &[usize], scopes: &[String], headers: &HeaderMap) -> Result<Identity, AuthError> {
        let mut last = AuthError::InvalidToken(JwtError::Missing);
        for &i in providers {
            match self.jwt(i, headers).await {
                Ok((id, have)) => {
                    return match scopes.iter().find(|s| !have.contains(s)) {
                        Some(missing) => Err(AuthError::InsufficientScope(missing.clone())),
                        None => Ok(id.admitted_by(format!("jwt:{}", self.providers[i].cfg.name))),
                    };
                }
                Err(e) if e.rank() >= last.rank() => last = e,
                Err(_) => {}
            }
        }
        Err(last)
    }

    async fn jwt(&self, index: usize, headers: &HeaderMap) -> Result<(Identity, Vec<String>), AuthError> {
        let p = &self.providers[index];
        let token = extract(&p.cfg.token, headers).ok_or(AuthError::InvalidToken(JwtError::Missing))?;
        let fp = jwt::fingerprint(&token);
        if let Some(c) = lock(&self.state.tokens).get(&fp) {
            if c.provider == index && c.expires > self.now {
                return Ok((c.identity.clone(), c.scopes.clone()));
            }
        }
        let (identity, scopes, claims, exp) = self.verify_token(index, &token).await?;
        if jwt::is_id_token(&claims) {
            return Err(AuthError::InvalidToken(JwtError::NotAnAccessToken));
        }
        // `exp` is whatever the issuer signed, up to u64::MAX: past what SystemTime holds, adding
        // it would panic. Such a token is verified each time instead of cached.
        if let Some(expires) = UNIX_EPOCH.checked_add(Duration::from_secs(exp)) {
            let mut cache = lock(&self.state.tokens);
            let cached = Identity { signature: None, ..identity.clone() };
            cache.insert(fp, CachedToken { provider: index, identity: cached, scopes: scopes.clone(), expires });
        }
        Ok((identity, scopes))
    }

    /// Verifies a token for provider `index`: identity headers, scopes, the claims, `exp`.
    pub(crate) async fn verify_token(
        &self,
        index: usize,
        token: &str,
    ) -> Result<(Identity, Vec<String>, serde_json::Value, u64), AuthError> {
        let p = &self.providers[index];
        let parsed = jwt::parse(token).map_err(AuthError::InvalidToken)?;
        // Providers are told apart by issuer (as Envoy does): another issuer's token is not this
        // provider's to judge, and is refused before any key work.
        if parsed.payload["iss"].as_str() != Some(p.cfg.issuer.as_str()) {
            return Err(AuthError::InvalidToken(JwtError::Issuer));
        }
        let alg = parsed.check_header(&p.cfg.algorithms).map_err(AuthError::InvalidToken)?;
        if let Some(typ) = &p.cfg.typ {
            parsed.check_typ(typ).map_err(AuthError::InvalidToken)?;
        }
        let kid = parsed.kid().map(str::to_owned);
        let (keys, fetched_now) = self.keys(index, false).await?;
        let mut found = find_key(&keys, kid.as_deref(), alg, &p.static_keys);
        if found.is_none() && kid.is_some() && !fetched_now {
            // An unknown kid: the issuer may have rotated. Refetch, at most once per interval.
            let (keys, _) = self.keys(index, true).await?;
            found = find_key(&keys, kid.as_deref(), alg, &p.static_keys);
        }
        let jwk = found.ok_or(AuthError::InvalidToken(JwtError::UnknownKey))?;
        // The platform's crypto where it has it (WebCrypto on Workers), Rust otherwise. The key
        // type was matched to the algorithm above, so neither path can be confused.
        let platform = match &jwk.json {
            Some(json) if alg != jwt::Alg::Hs256 => self.verifier.verify(alg, json, parsed.signing_input(), parsed.signature()).await,
            _ => None,
        };
        let checked_by = match platform {
            Some(true) => self.verifier.name(),
            Some(false) => return Err(AuthError::InvalidToken(JwtError::Signature)),
            None => parsed.verify(alg, &jwk.key).map(|()| "rust").map_err(AuthError::InvalidToken)?,
        };
        lock(&self.state.stats).signatures_verified += 1;
        let rules = jwt::ClaimRules {
            issuer: &p.cfg.issuer,
            audiences: &p.cfg.audiences,
            client_ids: &p.cfg.client_ids,
            skew_secs: p.cfg.clock_skew.as_secs(),
        };
        let now_secs = self.now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let exp = jwt::check_claims(&parsed.payload, &rules, now_secs).map_err(AuthError::InvalidToken)?;
        let scopes = jwt::scopes(&parsed.payload);
        let mut identity = Identity { signature: Some(checked_by), ..Identity::default() };
        if let Some(v) = parsed.payload["sub"].as_str().and_then(|s| HeaderValue::from_str(s).ok()) {
            identity.headers.push((HeaderName::from_static(USER), v));
        }
        if let Ok(v) = HeaderValue::from_str(&scopes.join(" ")) {
            identity.headers.push((HeaderName::from_static(SCOPES), v));
        }
        for (claim, header) in &p.cfg.forward_claims {
            let value = match &parsed.payload[claim] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                identity.headers.push((header.clone(), v));
            }
        }
        if p.cfg.forward_token {
            if let Ok(v) = HeaderValue::from_str(token) {
                identity.headers.push((HeaderName::from_static(TOKEN), v));
            }
        }
        Ok((identity, scopes, parsed.payload, exp))
    }

    /// The provider's keys: cached, or fetched (once) when stale or `refetch`; the stale set keeps
    /// serving while the endpoint fails. Returns whether this call fetched.
    async fn keys(&self, index: usize, refetch: bool) -> Result<(Arc<Vec<Jwk>>, bool), AuthError> {
        let p = &self.providers[index];
        // The login provider's JWKS location comes from its discovery document.
        let discovered = if self.oidc.is_some_and(|o| o.provider == index) { lock(&self.state.discovered_jwks_uri).clone() } else { None };
        let Some(url) = p.jwks_url.as_ref().or(discovered.as_ref()) else {
            return Ok((Arc::new(Vec::new()), false));
        };
        let (cached, may_fetch) = {
            let cache = lock(&self.state.jwks);
            match cache.get(&index) {
                Some(e) => {
                    let interval_passed = self.now >= e.last_fetch + p.cfg.jwks_refetch_interval;
                    let stale = self.now >= e.fresh_until;
                    (e.keys.clone(), (stale || refetch) && interval_passed)
                }
                None => (None, true),
            }
        };
        let unavailable =
            |why: &str| AuthError::Unavailable(format!("the keys of JWT provider {} could not be fetched: {why}", p.cfg.name));
        if !may_fetch {
            // Until keys have been had, a token cannot be judged: 503 (with Retry-After), never
            // 401 invalid_token, however many requests come before the next fetch may go out.
            return cached.map(|k| (k, false)).ok_or_else(|| unavailable("the last fetch failed"));
        }
        // Record the attempt first, so concurrent requests do not all fetch.
        if let Some(e) = lock(&self.state.jwks).get_mut(&index) {
            e.last_fetch = self.now;
        }
        lock(&self.state.stats).jwks_fetches += 1;
        match self.fetch_jwks(url, &p.cfg).await {
            Ok((keys, ttl)) => {
                let keys = Arc::new(keys);
                let entry = JwksEntry { keys: Some(keys.clone()), fresh_until: self.now + ttl, last_fetch: self.now };
                lock(&self.state.jwks).insert(index, entry);
                Ok((keys, true))
            }
            Err(why) => match cached {
                // Keep serving with the keys we have; the access log records the failure.
                Some(keys) => Ok((keys, true)),
                None => {
                    // Remember the attempt, so requests until the next interval do not all fetch.
                    lock(&self.state.jwks).insert(index, JwksEntry { keys: None, fresh_until: self.now, last_fetch: self.now });
                    Err(unavailable(&why))
                }
            },
        }
    }

    async fn fetch_jwks(&self, url: &str, cfg: &JwtProvider) -> Result<(Vec<Jwk>, Duration), String> {
        let req = Request::get(url)
            .header(header::ACCEPT, "application/json")
            .extension(OriginTimeout(JWKS_TIMEOUT))
            .body(Bytes::new())
            .map_err(|e| e.to_string())?;
        let resp = self.up.send(req).await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        let keys = jwt::parse_jwks(resp.body())?;
        let max_age = resp
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok()))
            .map_or(cfg.jwks_min_ttl.max(Duration::from_secs(300)), Duration::from_secs);
        Ok((keys, max_age.clamp(cfg.jwks_min_ttl, cfg.jwks_max_ttl)))
    }

    async fn api_key(&self, headers: &HeaderMap) -> Result<Identity, AuthError> {
        let cfg = self.api_key.ok_or(AuthError::MissingApiKey)?;
        let key = headers
            .get(&cfg.header)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(AuthError::MissingApiKey)?;
        if key.len() > 256 {
            return Err(AuthError::InvalidApiKey);
        }
        // Only the hash is looked up, cached or sent: equal hashes, not secrets, are compared.
        let hash = verge_signing::sha256_hex(key.as_bytes());
        if let Some((verdict, until)) = lock(&self.state.api_keys).get(&hash) {
            if *until > self.now {
                return verdict.clone().ok_or(AuthError::InvalidApiKey);
            }
        }
        lock(&self.state.stats).key_lookups += 1;
        let verdict = self.lookup_key(&self.origins[cfg.origin], &hash).await?;
        let ttl = if verdict.is_some() { cfg.positive_ttl } else { cfg.negative_ttl };
        let mut cache = lock(&self.state.api_keys);
        cache.insert(hash, (verdict.clone(), self.now + ttl));
        verdict.ok_or(AuthError::InvalidApiKey)
    }

    async fn lookup_key(&self, origin: &ResolvedOrigin, hash: &str) -> Result<Option<Identity>, AuthError> {
        let Target::Http { base } = &origin.target else {
            return Err(AuthError::Unavailable("the key lookup origin is not an http origin".into()));
        };
        let mut req = Request::get(base.join("/api/keys/lookup", None))
            .header(KEY_HASH, hash)
            .header(crate::request_id::HEADER, self.request_id)
            .extension(OriginTimeout(origin.timeout))
            .body(Bytes::new())
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        sign(&mut req, &origin.credentials, &origin.scope, Profile::Api, self.now).map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let resp = self.up.send(req).await.map_err(|e| AuthError::Unavailable(format!("key lookup: {e}")))?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let v: serde_json::Value =
                    serde_json::from_slice(resp.body()).map_err(|_| AuthError::Unavailable("key lookup: malformed answer".into()))?;
                let mut id = Identity::default();
                if let Some(c) = v["consumer"].as_str().and_then(|c| HeaderValue::from_str(c).ok()) {
                    id.headers.push((HeaderName::from_static(CONSUMER), c));
                }
                if let Ok(p) = HeaderValue::from_str(&v["plan"].to_string()) {
                    id.headers.push((HeaderName::from_static(PLAN), p));
                }
                Ok(Some(id))
            }
            s => Err(AuthError::Unavailable(format!("key lookup answered {}", s.as_u16()))),
        }
    }
}

fn find_key(fetched: &[Jwk], kid: Option<&str>, alg: jwt::Alg, static_keys: &[Jwk]) -> Option<Jwk> {
    let fits = |k: &&Jwk| match (kid, &k.kid) {
        (Some(want), Some(have)) => want == have,
        (Some(_), None) => matches!(k.key, Key::Hmac(_)),
        (None, _) => true,
    };
    let typed = |k: &&Jwk| key_alg(&k.key) == alg;
    fetched.iter().chain(static_keys).filter(fits).find(typed).cloned()
}

fn key_alg(k: &Key) -> jwt::Alg {
    match k {
        Key::Rsa(_) => jwt::Alg::Rs256,
        Key::P256(_) => jwt::Alg::Es256,
        Key::Ed25519(_) => jwt::Alg::EdDsa,
        Key::Hmac(_) => jwt::Alg::Hs256,
    }
}

/// `Bearer <token>` (scheme case-insensitive) -> the token.
fn bearer(v: &str) -> Option<&str> {
    let v = v.trim();
    let p = v.get(..7)?;
    p.eq_ignore_ascii_case("bearer ").then(|| v[7..].trim())
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// The token from where the provider says it is: `Authorization: Bearer`, another header (with
/// or without the `Bearer ` scheme) or a cookie.
fn extract(source: &TokenSource, headers: &HeaderMap) -> Option<String> {
    let token = match source {
        TokenSource::Bearer => bearer(headers.get(header::AUTHORIZATION)?.to_str().ok()?)?.to_owned(),
        TokenSource::Header(h) => {
            let v = headers.get(h)?.to_str().ok()?;
            bearer(v).unwrap_or(v.trim()).to_owned()
        }
        TokenSource::Cookie(name) => cookie(headers, name)?,
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests;
