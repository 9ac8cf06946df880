//! OIDC login at the edge (backend-for-frontend): the authorization code flow with PKCE (S256),
//! `state` and `nonce`, and one encrypted session cookie. Tokens never reach page scripts: the
//! access and refresh tokens live only inside the sealed, `HttpOnly` cookie.
//!
//! - `GET /auth/login?return_to=/path`: seals `{state, nonce, verifier, return_to}` into a
//!   short-lived `__Host-verge-login` cookie and redirects to the issuer.
//! - `GET /auth/callback`: checks `state`, exchanges the code (with the verifier), validates the
//!   ID token (signature via the issuer's JWKS, `iss`, `aud`, `exp`, `nonce`), sets
//!   `__Host-verge-session` and redirects to `return_to` (same-origin paths only).
//! - `GET /auth/me`: the user's public profile and scopes; `POST /auth/logout` (same-origin only): revokes
//!   the refresh token where the issuer offers revocation, clears the session and ends the
//!   issuer's where it offers `end_session_endpoint`.
//! - `auth = "session"` on a behaviour: the session's identity, renewed with the refresh token
//!   shortly before the access token expires; once per session at a time on an instance
//!   (concurrent requests wait for the renewal and reuse it), and the renewed cookie goes on the
//!   answer whatever it is, errors included ([`crate::stages::finish`]). A write (any method but
//!   GET, HEAD, OPTIONS, TRACE) must come from this site's own pages ([`same_origin`]), else 403.
//! - Scopes: with `roles_claim`, the ID token's roles ([`super::roles`]) are sealed into the
//!   session, required by `{ session = true, scopes = [...] }` and forwarded as
//!   `x-verge-scopes`. A renewal whose answer has a new ID token takes them from it (verified
//!   like the first, same `sub`); one without keeps them.
//!
//! Cookies are AES-256-GCM sealed. The session secret (at least 32 bytes of key material, see
//! `verge_signing::secret`) is never a key itself: HKDF-SHA256 derives one key per purpose (the
//! session cookie, the login cookie, the login's state/nonce/verifier), and each kind of cookie
//! also has its own associated data, so a login cookie cannot pass as a session. Sessions sealed
//! before this derivation (one SHA-256 of the secret) no longer open: their users sign in again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use sealed::{open, seal};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{cookie, lock, AuthError, Authenticator, Identity};
use crate::upstream::{OriginTimeout, Upstream};

pub const SESSION_COOKIE: &str = "__Host-verge-session";
pub const LOGIN_COOKIE: &str = "__Host-verge-login";
/// How long a login may take between `/auth/login` and the callback.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Renew the access token this long before it expires.
const REFRESH_AHEAD: Duration = Duration::from_secs(60);
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const IDP_TIMEOUT: Duration = Duration::from_secs(10);
/// Where a renewal's token response carries the roles of its verified new ID token (the ID
/// token itself is not kept).
const RENEWED_ROLES: &str = "verge_roles";

/// The login settings with references resolved.
#[derive(Clone)]
pub struct ResolvedOidc {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub session_ttl: Duration,
    pub public_url: Option<String>,
    /// The ID-token claim whose values are the session's scopes.
    pub roles_claim: Option<String>,
    /// Index of the ID-token provider among the JWT providers.
    pub provider: usize,
    pub(crate) keys: CookieKeys,
}

/// The keys derived from the session secret, one per purpose.
#[derive(Clone)]
pub struct CookieKeys {
    /// Seals `__Host-verge-session`.
    pub session: [u8; 32],
    /// Seals `__Host-verge-login`.
    pub login: [u8; 32],
    /// Stretches a request's entropy into the login's state, nonce, verifier and cookie nonces.
    pub entropy: [u8; 32],
}

impl std::fmt::Debug for ResolvedOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedOidc").field("issuer", &self.issuer).field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl ResolvedOidc {
    /// The keys for a configured session secret (checked for strength at startup, before this).
    pub fn cookie_keys(secret: &str) -> CookieKeys {
        use verge_signing::secret::derive_key;
        CookieKeys {
            session: derive_key(secret, "verge/edge/session-cookie"),
            login: derive_key(secret, "verge/edge/login-cookie"),
            entropy: derive_key(secret, "verge/edge/login-entropy"),
        }
    }
}

/// The issuer's discovery document, as far as the edge uses it.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub end_session_endpoint: Option<String>,
    /// RFC 7009 token revocation, where the issuer offers it: the refresh token is revoked at
    /// logout.
    pub revocation_endpoint: Option<String>,
}

/// AES-256-GCM sealing of cookie payloads (nonce || ciphertext, base64url).
pub(crate) mod sealed {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Key, Nonce};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    pub fn seal(key: &[u8; 32], nonce: [u8; 12], msg: &[u8], aad: &[u8]) -> String {
        let c = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let mut out = nonce.to_vec();
        out.extend(c.encrypt(Nonce::from_slice(&nonce), Payload { msg, aad }).unwrap_or_default());
        URL_SAFE_NO_PAD.encode(out)
    }

    pub fn open(key: &[u8; 32], sealed: &str, aad: &[u8]) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let c = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        c.decrypt(Nonce::from_slice(&raw[..12]), Payload { msg: &raw[12..], aad }).ok()
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Per-request randomness stretched for several uses: HMAC-SHA256(entropy key, entropy || label).
fn derive(o: &ResolvedOidc, entropy: [u8; 16], label: &str) -> [u8; 32] {
    use hmac::Mac;
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(&o.keys.entropy).expect("any key length");
    m.update(&entropy);
    m.update(label.as_bytes());
    m.finalize().into_bytes().into()
}

fn nonce12(o: &ResolvedOidc, entropy: [u8; 16], label: &str) -> [u8; 12] {
    let d = derive(o, entropy, label);
    let mut n = [0u8; 12];
    n.copy_from_slice(&d[..12]);
    n
}

fn set_cookie(name: &str, value: &str, max_age: u64) -> HeaderValue {
    // __Host-: Secure, Path=/, no Domain. Lax lets the issuer's redirect back carry it.
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"))
        .unwrap_or(HeaderValue::from_static(""))
}

fn clear_cookie(name: &str) -> HeaderValue {
    set_cookie(name, "", 0)
}

/// A same-origin path to return to after login: `/...` but not `//host` or `/\host`.
pub fn safe_return_to(v: Option<&str>) -> String {
    match v {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && p.len() <= 2048
                && p.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
    })
}

/// Form and query encoding: everything but RFC 3986's unreserved characters.
const QUERY_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn enc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, QUERY_ESCAPE).to_string()
}

fn redirect(location: &str, cookies: Vec<HeaderValue>) -> Response<Bytes> {
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Why a login step failed; each answers 400 with a problem body (or 503 for the issuer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("the login has expired or was started elsewhere; start again at /auth/login")]
    NoLoginState,
    #[error("the login state does not match; start again at /auth/login")]
    StateMismatch,
    #[error("the identity provider refused the login: {0}")]
    Refused(String),
    #[error("the identity provider rejected the authorization code")]
    CodeRejected,
    #[error("the ID token is not valid: {0}")]
    BadIdToken(String),
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// `/auth/logout` by another method than POST (answered 405).
    #[error("sign out with POST")]
    PostOnly,
    /// A logout from another site (logout CSRF), or with neither `Origin` nor `Sec-Fetch-Site`
    /// to tell (answered 403).
    #[error("sign-out is only accepted from this site's own pages")]
    CrossSite,
    /// `public_url` is unset and the request is not to a loopback host (answered 500): the
    /// redirect URI would come from the request's `Host`.
    #[error("the login is not configured: [auth.oidc] public_url must be set outside local runs")]
    NoPublicUrl,
}

impl<U: Upstream + crate::cache::flight::Pause, V: super::jwt::Verifier> Authenticator<'_, U, V> {
    async fn discovery(&self, o: &ResolvedOidc) -> Result<Discovery, LoginError> {
        if let Some((d, until)) = lock(&self.state.discovery).clone() {
            if until > self.now {
                return Ok(d);
            }
        }
        // OpenID Connect Discovery 4: the issuer with any trailing `/` removed, then the path.
        let url = format!("{}/.well-known/openid-configuration", o.issuer.trim_end_matches('/'));
        let req = Request::get(url)
            .extension(OriginTimeout(IDP_TIMEOUT))
            .body(Bytes::new())
            .map_err(|e| LoginError::Unavailable(e.to_string()))?;
        let resp = self.up.send(req).await.map_err(|e| LoginError::Unavailable(e.to_string()))?;
        let v: Value =
            serde_json::from_slice(resp.body()).map_err(|_| LoginError::Unavailable("the discovery document is not JSON".into()))?;
        // Discovery 4.3: the document's issuer must be exactly the configured one; ID tokens
        // carry it exactly, and `iss` is compared exactly.
        match v["issuer"].as_str() {
            Some(i) if i == o.issuer => {}
            Some(i) if i.trim_end_matches('/') == o.issuer.trim_end_matches('/') => {
                return Err(LoginError::Unavailable(format!(
                    "the discovery document's issuer {i:?} differs from [auth.oidc] issuer {:?} only by a trailing slash: set issuer = {i:?} exactly (ID tokens carry it exactly)",
                    o.issuer
                )));
            }
            _ => return Err(LoginError::Unavailable("the discovery document names another issuer".into())),
        }
        let field =
            |k: &str| v[k].as_str().map(str::to_owned).ok_or_else(|| LoginError::Unavailable(format!("the discovery document has no {k}")));
        let d = Discovery {
            authorization_endpoint: field("authorization_endpoint")?,
            token_endpoint: field("token_endpoint")?,
            jwks_uri: field("jwks_uri")?,
            end_session_endpoint: v["end_session_endpoint"].as_str().map(str::to_owned),
            revocation_endpoint: v["revocation_endpoint"].as_str().map(str::to_owned),
        };
        *lock(&self.state.discovered_jwks_uri) = Some(d.jwks_uri.clone());
        *lock(&self.state.discovery) = Some((d.clone(), self.now + DISCOVERY_TTL));
        Ok(d)
    }

    /// The edge's public base URL: `public_url`, or, only for a request to a loopback host (a
    /// local run), `http://` and the request's `Host`. Anywhere else `Host` is the caller's to
    /// choose, and a redirect URI built from it could send the code elsewhere.
    fn public_base(o: &ResolvedOidc, headers: &HeaderMap) -> Result<String, LoginError> {
        match &o.public_url {
            Some(u) => Ok(u.trim_end_matches('/').to_owned()),
            None => match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
                Some(host) if is_loopback(host) => Ok(format!("http://{host}")),
                _ => Err(LoginError::NoPublicUrl),
            },
        }
    }

    fn redirect_uri(o: &ResolvedOidc, headers: &HeaderMap) -> Result<String, LoginError> {
        Ok(format!("{}/auth/callback", Self::public_base(o, headers)?))
    }

    /// Answers `/auth/*` when login is configured; `None` for other paths.
    pub async fn login_route(
        &self,
        method: &http::Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Option<Result<Response<Bytes>, LoginError>> {
        let o = self.oidc?;
        Some(match path {
            "/auth/login" => self.login(o, query, headers).await,
            "/auth/callback" => self.callback(o, query, headers).await,
            "/auth/me" => Ok(self.me(o, headers).await),
            "/auth/logout" => self.logout(o, method, headers).await,
            _ => return None,
        })
    }

    async fn login(&self, o: &ResolvedOidc, query: Option<&str>, headers: &HeaderMap) -> Result<Response<Bytes>, LoginError> {
        let d = self.discovery(o).await?;
        let state = URL_SAFE_NO_PAD.encode(&derive(o, self.entropy, "state")[..16]);
        let nonce = URL_SAFE_NO_PAD.encode(&derive(o, self.entropy, "nonce")[..16]);
        let verifier = URL_SAFE_NO_PAD.encode(derive(o, self.entropy, "verifier"));
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let return_to = safe_return_to(query_param(query, "return_to").as_deref());
        let login = json!({ "s": state, "n": nonce, "v": verifier, "r": return_to, "x": secs(self.now + LOGIN_TTL) });
        let sealed = seal(&o.keys.login, nonce12(o, self.entropy, "login-cookie"), login.to_string().as_bytes(), b"verge login v1");
        let redirect_uri = Self::redirect_uri(o, headers)?;
        let sep = if d.authorization_endpoint.contains('?') { '&' } else { '?' };
        let location = format!(
            "{}{sep}response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256",
            d.authorization_endpoint,
            enc(&o.client_id),
            enc(&redirect_uri),
            enc(&o.scopes.join(" ")),
        );
        Ok(redirect(&location, vec![set_cookie(LOGIN_COOKIE, &sealed, LOGIN_TTL.as_secs())]))
    }

    async fn token_request(&self, o: &ResolvedOidc, d: &Discovery, form: &str) -> Result<Value, Option<u16>> {
        let resp = self.idp_post(o, &d.token_endpoint, form).await?;
        serde_json::from_slice(resp.body()).map_err(|_| None)
    }

    /// A form POST to the issuer with the client's authentication; a non-2xx answer is its
    /// status, a transport failure `None`.
    async fn idp_post(&self, o: &ResolvedOidc, url: &str, form: &str) -> Result<Response<Bytes>, Option<u16>> {
        let mut b = Request::post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .extension(OriginTimeout(IDP_TIMEOUT));
        // A confidential client authenticates with HTTP Basic; a public one by PKCE alone.
        let body = format!("{form}&client_id={}", enc(&o.client_id));
        if let Some(secret) = &o.client_secret {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(&o.client_id), enc(secret)));
            b = b.header(header::AUTHORIZATION, format!("Basic {basic}"));
        }
        let req = b.body(Bytes::from(body)).map_err(|_| None)?;
        let resp = self.up.send(req).await.map_err(|_| None)?;
        if !resp.status().is_success() {
            return Err(Some(resp.status().as_u16()));
        }
        Ok(resp)
    }

    async fn callback(&self, o: &ResolvedOidc, query: Option<&str>, headers: &HeaderMap) -> Result<Response<Bytes>, LoginError> {
        let sealed = cookie(headers, LOGIN_COOKIE).ok_or(LoginError::NoLoginState)?;
        let login: Value = open(&o.keys.login, &sealed, b"verge login v1")
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(LoginError::NoLoginState)?;
        if login["x"].as_u64().unwrap_or(0) <= secs(self.now) {
            return Err(LoginError::NoLoginState);
        }
        if let Some(e) = query_param(query, "error") {
            // The provider's error code, reduced to what cannot carry markup into the answer.
            return Err(LoginError::Refused(e.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect()));
        }
        let state = query_param(query, "state").unwrap_or_default();
        let expected = login["s"].as_str().unwrap_or("");
        if state.is_empty() || !bool::from(state.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(LoginError::StateMismatch);
        }
        let code = query_param(query, "code").ok_or(LoginError::CodeRejected)?;
        let d = self.discovery(o).await?;
        let form = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
            enc(&code),
            enc(&Self::redirect_uri(o, headers)?),
            enc(login["v"].as_str().unwrap_or("")),
        );
        let tokens = self.token_request(o, &d, &form).await.map_err(|status| match status {
            Some(s) if s < 500 => LoginError::CodeRejected,
            _ => LoginError::Unavailable("the token endpoint failed".into()),
        })?;
        let id_token = tokens["id_token"].as_str().ok_or_else(|| LoginError::BadIdToken("none was returned".into()))?;
        let (_, _, claims, _) = self.verify_token(o.provider, id_token).await.map_err(|e| LoginError::BadIdToken(e.to_string()))?;
        if claims["nonce"].as_str() != login["n"].as_str() {
            return Err(LoginError::BadIdToken("the nonce does not match".into()));
        }
        let roles = self.roles(o, &claims).unwrap_or_default();
        let session = self.new_session(o, &claims, &tokens, self.now + o.session_ttl, &roles);
        let return_to = safe_return_to(login["r"].as_str());
        Ok(redirect(&return_to, vec![session, clear_cookie(LOGIN_COOKIE)]))
    }

    /// The roles in an ID token's claims, when `roles_claim` is set; values dropped for their
    /// form or number are noted for the log line.
    fn roles(&self, o: &ResolvedOidc, claims: &Value) -> Option<Vec<String>> {
        let claim = o.roles_claim.as_deref()?;
        let r = super::roles::from_claims(claims, claim);
        if let Some(note) = r.note(claim) {
            self.issued.borrow_mut().notes.push(note);
        }
        Some(r.roles)
    }

    fn new_session(&self, o: &ResolvedOidc, claims: &Value, tokens: &Value, session_end: SystemTime, roles: &[String]) -> HeaderValue {
        let expires_in = tokens["expires_in"].as_u64().unwrap_or(300);
        let s = json!({
            "sub": claims["sub"], "email": claims["email"], "name": claims["name"], "sc": roles,
            "at": tokens["access_token"], "rt": tokens["refresh_token"],
            "ax": secs(self.now).saturating_add(expires_in), "sx": secs(session_end),
        });
        let sealed = seal(&o.keys.session, nonce12(o, self.entropy, "session-cookie"), s.to_string().as_bytes(), b"verge session v1");
        set_cookie(SESSION_COOKIE, &sealed, secs(session_end).saturating_sub(secs(self.now)))
    }

    /// The session in the request, if it opens and has not ended.
    fn open_session(&self, o: &ResolvedOidc, headers: &HeaderMap) -> Result<Value, AuthError> {
        let sealed = cookie(headers, SESSION_COOKIE).ok_or(AuthError::NoSession("no session"))?;
        let s: Value = open(&o.keys.session, &sealed, b"verge session v1")
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(AuthError::NoSession("the session is not valid"))?;
        if s["sx"].as_u64().unwrap_or(0) <= secs(self.now) {
            return Err(AuthError::NoSession("the session has expired"));
        }
        Ok(s)
    }

    /// A session: the session's identity holding every scope in `required`, renewed with the
    /// refresh token when the access token is about to expire. A session whose renewal the
    /// issuer refuses has ended. A write not from this site's own pages is refused before any
    /// renewal: `SameSite=Lax` keeps other sites' requests from carrying the cookie, not those of
    /// a same-site page (another subdomain of the same registrable domain).
    pub(super) async fn session(&self, headers: &HeaderMap, required: &[String]) -> Result<Identity, AuthError> {
        let o = self.oidc.ok_or(AuthError::NoSession("no session"))?;
        let s = self.open_session(o, headers)?;
        if !self.method.is_safe() && !Self::public_base(o, headers).is_ok_and(|base| same_origin(&base, headers)) {
            return Err(AuthError::CrossSite);
        }
        let mut roles = super::roles::from_session(&s["sc"]);
        if s["ax"].as_u64().unwrap_or(0) <= secs(self.now + REFRESH_AHEAD) {
            let rt = s["rt"].as_str().ok_or(AuthError::NoSession("the session has expired"))?;
            let tokens = self.renew(o, rt, &s["sub"]).await?;
            if let Some(renewed) = tokens.get(RENEWED_ROLES) {
                roles = super::roles::from_session(renewed);
            }
            let session_end = UNIX_EPOCH.checked_add(Duration::from_secs(s["sx"].as_u64().unwrap_or(0))).unwrap_or(self.now);
            // Issued whatever happens next: a refusal for a scope must not lose a rotated token.
            self.issued.borrow_mut().cookies.push(self.new_session(o, &s, &tokens, session_end, &roles));
        }
        if let Some(missing) = required.iter().find(|r| !roles.contains(r)) {
            return Err(AuthError::SessionLacksScope(missing.clone()));
        }
        let mut identity = Identity::default();
        for (name, claim) in [(super::USER, "sub"), ("x-verge-email", "email")] {
            if let Some(v) = s[claim].as_str().and_then(|v| HeaderValue::from_str(v).ok()) {
                identity.headers.push((HeaderName::from_static(name), v));
            }
        }
        if let Some(v) = (!roles.is_empty()).then(|| roles.join(" ")).and_then(|r| HeaderValue::from_str(&r).ok()) {
            identity.headers.push((HeaderName::from_static(super::SCOPES), v));
        }
        Ok(identity)
    }

    /// A renewal's new ID token, when the issuer sent one and roles are configured: verified as
    /// at the callback (signature, `iss`, `aud`, `exp`) and for the same `sub` (OIDC Core
    /// 12.2); its roles go into the token response under [`RENEWED_ROLES`]. One that fails ends
    /// the session (the issuer's JWKS being unreachable is a 503, not an end).
    async fn renewed_roles(&self, o: &ResolvedOidc, tokens: &mut Value, sub: &Value) -> Result<(), AuthError> {
        let Some(id_token) = tokens.as_object_mut().and_then(|m| m.remove("id_token")) else { return Ok(()) };
        let (Some(id_token), Some(_)) = (id_token.as_str(), o.roles_claim.as_ref()) else { return Ok(()) };
        let (_, _, claims, _) = self.verify_token(o.provider, id_token).await.map_err(|e| match e {
            AuthError::Unavailable(why) => AuthError::Unavailable(why),
            _ => AuthError::NoSession("the session has expired"),
        })?;
        if claims["sub"] != *sub {
            return Err(AuthError::NoSession("the session has expired"));
        }
        if let Some(roles) = self.roles(o, &claims) {
            tokens[RENEWED_ROLES] = json!(roles);
        }
        Ok(())
    }

    /// The session's renewal, once per session at a time on this instance: concurrent requests
    /// near expiry wait for the one renewing and reuse its tokens, and so do later requests still
    /// carrying the old cookie, until the new access token needs renewing in turn. Issuers that
    /// rotate refresh tokens refuse the old one after first use, so a second renewal with it
    /// would end the session. (Across instances this cannot be promised: Workers isolates and
    /// Spin instances share no memory; each renews at most once.)
    async fn renew(&self, o: &ResolvedOidc, rt: &str, sub: &Value) -> Result<Value, AuthError> {
        use crate::cache::flight::Joined;
        let key = verge_signing::sha256_hex(rt.as_bytes());
        let reuse = || {
            let mut renewed = lock(&self.state.renewed);
            match renewed.get(&key) {
                // `expires_in` counted from now, so the new cookie's access token expiry is exact.
                Some((tokens, expires)) if *expires > self.now + REFRESH_AHEAD => {
                    let mut tokens = tokens.clone();
                    tokens["expires_in"] = expires.duration_since(self.now).unwrap_or_default().as_secs().into();
                    Some(tokens)
                }
                _ => None,
            }
        };
        if let Some(tokens) = reuse() {
            return Ok(tokens);
        }
        // A renewal already under way for this session is waited for (on this request's own
        // timer, see cache/flight.rs) and its tokens reused; when it failed or took too long,
        // this request renews by itself.
        let _leader = match self.state.renewals.join(&key) {
            Joined::Lead(leader) => Some(leader),
            Joined::Wait(wait) => {
                if wait.finished(self.up, crate::cache::flight::MAX_WAIT).await {
                    if let Some(tokens) = reuse() {
                        return Ok(tokens);
                    }
                }
                None
            }
        };
        let d = self.discovery(o).await.map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let mut tokens = self.token_request(o, &d, &format!("grant_type=refresh_token&refresh_token={}", enc(rt))).await.map_err(
            |status| match status {
                Some(s) if s < 500 => AuthError::NoSession("the session has expired"),
                _ => AuthError::Unavailable("the identity provider is unavailable".into()),
            },
        )?;
        if tokens["refresh_token"].is_null() {
            tokens["refresh_token"] = Value::String(rt.to_owned());
        }
        self.renewed_roles(o, &mut tokens, sub).await?;
        let expires_in = tokens["expires_in"].as_u64().unwrap_or(300);
        if let Some(expires) = self.now.checked_add(Duration::from_secs(expires_in)) {
            lock(&self.state.renewed).insert(key, (tokens.clone(), expires));
        }
        Ok(tokens)
    }

    async fn me(&self, o: &ResolvedOidc, headers: &HeaderMap) -> Response<Bytes> {
        match self.open_session(o, headers) {
            Ok(s) => {
                let scopes = super::roles::from_session(&s["sc"]);
                let body =
                    json!({ "sub": s["sub"], "email": s["email"], "name": s["name"], "scopes": scopes, "session_expires_at": s["sx"] });
                let mut r = Response::new(Bytes::from(body.to_string()));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(e) => crate::problem::EdgeError::Auth(e).into_response(self.request_id),
        }
    }

    /// `POST /auth/logout` from this site's own pages: revokes the refresh token where the issuer
    /// offers revocation (RFC 7009), clears the session, and ends the issuer's session where it
    /// offers `end_session_endpoint`. A GET (a link or an image on any site could make one) is
    /// refused 405, a cross-site POST 403: otherwise any page could sign the user out.
    async fn logout(&self, o: &ResolvedOidc, method: &http::Method, headers: &HeaderMap) -> Result<Response<Bytes>, LoginError> {
        if method != http::Method::POST {
            return Err(LoginError::PostOnly);
        }
        if !same_origin(&Self::public_base(o, headers)?, headers) {
            return Err(LoginError::CrossSite);
        }
        let cookies = vec![clear_cookie(SESSION_COOKIE)];
        let discovery = self.discovery(o).await.ok();
        let revocation = discovery.as_ref().and_then(|d| d.revocation_endpoint.as_deref());
        if let (Some(url), Ok(s)) = (revocation, self.open_session(o, headers)) {
            if let Some(rt) = s["rt"].as_str() {
                // Best effort: the session cookie is cleared whatever the issuer answers.
                let form = format!("token={}&token_type_hint=refresh_token", enc(rt));
                let _ = self.idp_post(o, url, &form).await;
            }
        }
        let location = match discovery.and_then(|d| d.end_session_endpoint) {
            Some(end) => format!("{end}{}client_id={}", if end.contains('?') { '&' } else { '?' }, enc(&o.client_id)),
            None => "/".to_owned(),
        };
        Ok(redirect(&location, cookies))
    }
}

/// Whether `host` (a `Host` header: name or address, optional port) is a loopback host.
fn is_loopback(host: &str) -> bool {
    let port_ok = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((addr, tail)) if tail.is_empty() || tail.strip_prefix(':').is_some_and(port_ok) => {
                addr.parse::<std::net::Ipv6Addr>().is_ok_and(|a| a.is_loopback())
            }
            _ => false,
        };
    }
    let name = match host.split_once(':') {
        Some((name, port)) if port_ok(port) => name,
        Some(_) => return false,
        None => host,
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

/// Whether a state-changing request comes from the site's own pages: `Sec-Fetch-Site:
/// same-origin` where the browser sends it, and an `Origin` equal to the site's where it sends
/// that; at least one of them must be there (every current browser sends `Origin` on a POST).
pub(crate) fn same_origin(base: &str, headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    let origin = headers.get(header::ORIGIN).map(|v| v.as_bytes());
    // The site's origin: scheme and authority of the public base URL, without any path.
    let own = match base.find("://").map(|i| i + 3) {
        Some(start) => &base[..base[start..].find('/').map_or(base.len(), |i| start + i)],
        None => base,
    };
    let site_ok = site.is_none_or(|s| s == b"same-origin");
    let origin_ok = origin.is_none_or(|o| o.eq_ignore_ascii_case(own.as_bytes()));
    (site.is_some() || origin.is_some()) && site_ok && origin_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_exact() {
        for ok in ["127.0.0.1", "127.0.0.1:8080", "localhost", "LOCALHOST:3000", "[::1]", "[::1]:8080", "127.8.9.10:1"] {
            assert!(is_loopback(ok), "{ok}");
        }
        for bad in ["localhost.evil.example", "127.0.0.1.evil.example", "127.0.0.1:80@evil", "[::1].evil", "evil.example", "", "[::2]"] {
            assert!(!is_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn same_origin_needs_a_matching_origin_or_fetch_site() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        let base = "https://verge.example/app";
        assert!(same_origin(base, &h(&[("origin", "https://verge.example")])));
        assert!(same_origin(base, &h(&[("sec-fetch-site", "same-origin"), ("origin", "https://verge.example")])));
        assert!(same_origin(base, &h(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(base, &h(&[("origin", "https://evil.example")])));
        assert!(!same_origin(base, &h(&[("origin", "https://verge.example.evil")])));
        assert!(!same_origin(base, &h(&[("sec-fetch-site", "cross-site"), ("origin", "https://verge.example")])));
        assert!(!same_origin(base, &h(&[("sec-fetch-site", "same-site")])));
        assert!(!same_origin(base, &h(&[("origin", "null")])));
        assert!(!same_origin(base, &h(&[])));
    }

    #[test]
    fn return_to_is_same_origin_only() {
        assert_eq!(safe_return_to(Some("/stats?x=1")), "/stats?x=1");
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "javascript:alert(1)", "/a b"] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return_to(None), "/");
    }

    #[test]
    fn sealed_cookies_only_open_with_their_key_and_kind() {
        let k = [1u8; 32];
        let s = seal(&k, [2; 12], b"{\"at\":\"secret-access-token\"}", b"verge session v1");
        assert!(!s.contains("secret"));
        assert!(open(&k, &s, b"verge session v1").is_some());
        assert!(open(&k, &s, b"verge login v1").is_none(), "a session cannot pass as a login cookie");
        assert!(open(&[3u8; 32], &s, b"verge session v1").is_none());
    }
}
