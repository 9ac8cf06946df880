//! The `[auth]` section and each behaviour's `auth` requirement.
//!
//! ```toml
//! [auth.jwt.main]
//! issuer = "https://id.example.com"
//! audiences = ["verge"]
//! jwks_url = { env = "VERGE_JWKS_URL", default = "https://id.example.com/.well-known/jwks.json" }
//! algorithms = ["RS256", "ES256", "EdDSA"]
//!
//! [auth.api_key]
//! origin = "api"            # the http origin that answers /api/keys/lookup
//!
//! [auth.oidc]
//! issuer = "https://id.example.com"
//! client_id = "verge-web"
//! session_secret = { secret = "VERGE_SESSION_SECRET" }
//! roles_claim = "groups"    # the ID token's claim whose values are the session's scopes
//!
//! [[behaviours]]
//! path = "/api/admin/*"
//! origin = "api"
//! auth = { any_of = [{ session = true, scopes = ["admin"] }, { jwt = ["main"], scopes = ["admin"] }] }
//! ```

use std::time::Duration;

use http::HeaderName;

use super::walk::{AsNode, Checker, Fields, Node, SettingKind};
use super::{OriginKind, Reference, Setting};
use crate::auth::jwt::{parse_jwks, Alg};

#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub jwt: Vec<JwtProvider>,
    pub api_key: Option<ApiKeyConfig>,
    pub oidc: Option<OidcConfig>,
    /// Providers and sections that are present but invalid (already reported): behaviours that
    /// use them are not reported again.
    broken: Vec<String>,
}

/// Where a provider's tokens are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`
    Bearer,
    /// Another header, the whole value (or after `Bearer `).
    Header(HeaderName),
    Cookie(String),
}

#[derive(Debug, Clone)]
pub struct JwtProvider {
    pub name: String,
    pub issuer: String,
    /// What `aud` must name (one of); empty only when `client_ids` is set.
    pub audiences: Vec<String>,
    /// Clients whose tokens without `aud` are accepted by their `client_id` (Cognito access
    /// tokens); never matched against `aud` (RFC 8725 3.9).
    pub client_ids: Vec<String>,
    /// The header `typ` tokens must carry (RFC 8725 3.11), e.g. `at+jwt` (RFC 9068); `None`:
    /// not checked.
    pub typ: Option<String>,
    pub jwks_url: Option<Setting>,
    /// A JWK Set given inline (validated at load).
    pub inline_jwks: Option<String>,
    pub hs256_secret: Option<Reference>,
    pub algorithms: Vec<Alg>,
    pub clock_skew: Duration,
    pub token: TokenSource,
    /// Claim name -> header sent to the origin (all `x-verge-*`).
    pub forward_claims: Vec<(String, HeaderName)>,
    pub forward_token: bool,
    pub jwks_min_ttl: Duration,
    pub jwks_max_ttl: Duration,
    /// Least time between two JWKS fetches for this provider (an unknown `kid` refetches at most
    /// this often).
    pub jwks_refetch_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct ApiKeyConfig {
    pub header: HeaderName,
    /// Index of the http origin whose `/api/keys/lookup` answers.
    pub origin: usize,
    pub positive_ttl: Duration,
    pub negative_ttl: Duration,
}

/// OIDC login at the edge (`[auth.oidc]`).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: Setting,
    pub client_id: Setting,
    pub client_secret: Option<Reference>,
    /// The cookies' keys are derived from it (HKDF); at least 32 bytes of key material, checked
    /// when the edge starts (`verge_signing::secret`).
    pub session_secret: Reference,
    pub scopes: Vec<String>,
    pub session_ttl: Duration,
    /// The edge's public base URL, for the redirect URI; without it, taken from `Host`.
    pub public_url: Option<Setting>,
    /// The ID-token claim whose values become the session's scopes (`groups`,
    /// `cognito:groups`); `None`: sessions carry no scopes.
    pub roles_claim: Option<String>,
}

/// What a behaviour requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRule {
    None,
    /// A valid token from any of these providers (indexes into [`AuthConfig::jwt`]) holding every
    /// listed scope.
    Jwt {
        providers: Vec<usize>,
        scopes: Vec<String>,
    },
    ApiKey,
    /// A session from the edge's OIDC login holding every listed scope (from
    /// [`OidcConfig::roles_claim`]).
    Session {
        scopes: Vec<String>,
    },
    AnyOf(Vec<AuthRule>),
    AllOf(Vec<AuthRule>),
}

/// Envoy's default JWKS cache lifetime bounds are 10 minutes; these let the JWKS response's
/// Cache-Control decide within them.
const DEFAULT_JWKS_MIN_TTL: u64 = 60;
const DEFAULT_JWKS_MAX_TTL: u64 = 86_400;
const DEFAULT_REFETCH_INTERVAL: u64 = 30;
/// API Gateway's authorizer cache default.
const DEFAULT_POSITIVE_TTL: u64 = 300;
const DEFAULT_NEGATIVE_TTL: u64 = 30;

fn header_name(ck: &mut Checker<'_>, n: Node<'_, '_>, verge_only: bool) -> Option<HeaderName> {
    let s = ck.string(n)?;
    let lower = s.to_ascii_lowercase();
    match HeaderName::from_bytes(lower.as_bytes()) {
        Ok(h) if !verge_only || lower.starts_with("x-verge-") => Some(h),
        Ok(_) => {
            ck.error(
                n.span,
                format!("header {s:?} must start with x-verge-"),
                "identity headers are x-verge-*, which the edge strips from clients and the origin trusts only when signed",
            );
            None
        }
        Err(_) => {
            ck.error(n.span, format!("{s:?} is not a valid header name"), "use letters, digits and '-'");
            None
        }
    }
}

fn strings(ck: &mut Checker<'_>, n: Node<'_, '_>, what: &str) -> Option<Vec<String>> {
    let items = ck.array(n, what)?;
    let mut out = Vec::new();
    for i in items {
        out.push(ck.string(i.node())?);
    }
    if out.is_empty() {
        ck.error(n.span, format!("{what} is empty"), format!("list at least one {what} value"));
        return None;
    }
    Some(out)
}

fn secs(ck: &mut Checker<'_>, f: &mut Fields<'_, '_>, key: &str, default: u64, max: i64) -> Option<Duration> {
    match f.take(key) {
        None => Some(Duration::from_secs(default)),
        Some(n) => ck.int_in(n, 0, max).map(|v| Duration::from_secs(v as u64)),
    }
}

/// The section as far as it is valid, and whether all of it is.
pub(super) fn parse_auth(ck: &mut Checker<'_>, node: Node<'_, '_>, origins: &super::Origins) -> (AuthConfig, bool) {
    let Some(table) = ck.table(node, "[auth]") else { return (AuthConfig::default(), false) };
    let mut f = Fields::new(ck, table, "[auth]", &["jwt", "api_key", "oidc"]);
    let mut cfg = AuthConfig::default();
    let mut ok = true;
    if let Some(n) = f.take("jwt") {
        let Some(providers) = ck.table(n, "[auth.jwt]") else { return (cfg, false) };
        for (name, value) in super::walk::entries(providers) {
            if !super::walk::is_identifier(name.value) {
                ck.error(name.span, format!("provider name {:?} is not a valid name", name.value), "use letters, digits, '-' and '_' only");
                ok = false;
                continue;
            }
            match parse_provider(ck, name.value, value) {
                Some(p) => cfg.jwt.push(p),
                None => {
                    cfg.broken.push(name.value.to_owned());
                    ok = false;
                }
            }
        }
    }
    if let Some(n) = f.take("api_key") {
        match parse_api_key(ck, n, origins) {
            Some(a) => cfg.api_key = Some(a),
            None => {
                cfg.broken.push("api_key".to_owned());
                ok = false;
            }
        }
    }
    if let Some(n) = f.take("oidc") {
        match parse_oidc(ck, n) {
            Some(o) => cfg.oidc = Some(o),
            None => {
                cfg.broken.push("oidc".to_owned());
                ok = false;
            }
        }
    }
    (cfg, ok)
}

fn parse_oidc(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<OidcConfig> {
    let table = ck.table(node, "[auth.oidc]")?;
    let mut f = Fields::new(
        ck,
        table,
        "[auth.oidc]",
        // `rate_limits` (limits on the login routes) is read by `config::ratelimit`.
        &["issuer", "client_id", "client_secret", "session_secret", "scopes", "session_ttl_s", "public_url", "roles_claim", "rate_limits"],
    );
    let issuer = f.require(ck, "issuer", "issuer = \"https://id.example.com\"").and_then(|n| ck.setting(n, SettingKind::Url));
    let client_id = f.require(ck, "client_id", "client_id = \"verge-web\"").and_then(|n| ck.setting(n, SettingKind::Text));
    let client_secret = match f.take("client_secret") {
        Some(n) => Some(ck.reference(n)?),
        None => None,
    };
    let session_secret =
        f.require(ck, "session_secret", "session_secret = { secret = \"VERGE_SESSION_SECRET\" }").and_then(|n| ck.reference(n));
    let scopes = match f.take("scopes") {
        Some(n) => {
            let s = strings(ck, n, "scopes")?;
            if !s.iter().any(|x| x == "openid") {
                ck.error(n.span, "scopes must include openid", "add \"openid\" (and \"offline_access\" for refresh tokens)");
                return None;
            }
            Some(s)
        }
        None => Some(vec!["openid".into(), "email".into(), "profile".into(), "offline_access".into()]),
    };
    let session_ttl = secs(ck, &mut f, "session_ttl_s", 8 * 3600, 30 * 86_400);
    let public_url = match f.take("public_url") {
        Some(n) => Some(ck.setting(n, SettingKind::Url)?),
        None => None,
    };
    let roles_claim = match f.take("roles_claim") {
        Some(n) => {
            let c = ck.string(n)?;
            if c.is_empty() || c.len() > 128 || !c.bytes().all(|b| b.is_ascii_graphic()) {
                ck.error(
                    n.span,
                    format!("roles_claim {c:?} is not a claim name"),
                    "name the ID token's claim, e.g. \"groups\" or \"cognito:groups\"",
                );
                return None;
            }
            Some(c)
        }
        None => None,
    };
    Some(OidcConfig {
        issuer: issuer?,
        client_id: client_id?,
        client_secret,
        session_secret: session_secret?,
        scopes: scopes?,
        session_ttl: session_ttl?,
        public_url,
        roles_claim,
    })
}

fn parse_provider(ck: &mut Checker<'_>, name: &str, node: Node<'_, '_>) -> Option<JwtProvider> {
    let what = format!("[auth.jwt.{name}]");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(
        ck,
        table,
        &what,
        &[
            "issuer",
            "audiences",
            "client_ids",
            "typ",
            "jwks_url",
            "keys",
            "hs256_secret",
            "algorithms",
            "clock_skew_s",
            "token",
            "forward_claims",
            "forward_token",
            "jwks_min_ttl_s",
            "jwks_max_ttl_s",
            "jwks_refetch_interval_s",
        ],
    );
    let issuer = f.require(ck, "issuer", "issuer = \"https://id.example.com\"").and_then(|n| ck.string(n));
    let audiences = match f.take("audiences") {
        Some(n) => strings(ck, n, "audiences"),
        None => Some(Vec::new()),
    };
    let client_ids = match f.take("client_ids") {
        Some(n) => strings(ck, n, "client_ids"),
        None => Some(Vec::new()),
    };
    if audiences.as_ref().is_some_and(Vec::is_empty) && client_ids.as_ref().is_some_and(Vec::is_empty) {
        ck.error(
            table.span,
            format!("{what} needs audiences (what `aud` must name) or client_ids (tokens without `aud`, by `client_id`)"),
            "add audiences = [\"verge\"]; for Cognito access tokens, which have no aud, client_ids = [\"APP_CLIENT_ID\"]",
        );
    }
    let typ = match f.take("typ") {
        Some(n) => {
            let t = ck.string(n)?;
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
                ck.error(n.span, format!("typ {t:?} is not a media type"), "write typ = \"at+jwt\" (RFC 9068 access tokens)");
                return None;
            }
            Some(t)
        }
        None => None,
    };
    let jwks_url = match f.take("jwks_url") {
        Some(n) => Some(ck.setting(n, SettingKind::Url)?),
        None => None,
    };
    let inline_jwks = match f.take("keys") {
        Some(n) => {
            let s = ck.string(n)?;
            if let Err(why) = parse_jwks(s.as_bytes()) {
                ck.error(n.span, format!("keys is not a usable JWK Set: {why}"), "paste the issuer's JWKS JSON: {\"keys\": [...]}");
                return None;
            }
            Some(s)
        }
        None => None,
    };
    let hs256_secret = match f.take("hs256_secret") {
        Some(n) => Some(ck.reference(n)?),
        None => None,
    };
    let alg_node = f.take("algorithms");
    let algorithms = match alg_node {
        None => Some(vec![Alg::Rs256, Alg::Es256, Alg::EdDsa]),
        Some(n) => {
            let items = ck.array(n, "algorithms")?;
            let mut out = Vec::new();
            for i in items {
                let s = ck.string(i.node())?;
                match Alg::parse(&s) {
                    Some(a) => out.push(a),
                    None => {
                        ck.error(i.node().span, format!("unknown algorithm {s:?}"), "use RS256, ES256, EdDSA or HS256 (never none)");
                        return None;
                    }
                }
            }
            Some(out)
        }
    };
    let clock_skew = secs(ck, &mut f, "clock_skew_s", 60, 600);
    let token = match f.take("token") {
        None => Some(TokenSource::Bearer),
        Some(n) => {
            let t = ck.table(n, "token")?;
            let mut tf = Fields::new(ck, t, "token", &["header", "cookie"]);
            match (tf.take("header"), tf.take("cookie")) {
                (Some(h), None) => {
                    let h = header_name(ck, h, false)?;
                    Some(if h == http::header::AUTHORIZATION { TokenSource::Bearer } else { TokenSource::Header(h) })
                }
                (None, Some(c)) => ck.string(c).map(TokenSource::Cookie),
                _ => {
                    ck.error(
                        n.span,
                        "token needs exactly one of header or cookie",
                        "write token = { header = \"authorization\" } or token = { cookie = \"NAME\" }",
                    );
                    None
                }
            }
        }
    };
    let forward_claims = match f.take("forward_claims") {
        None => Some(Vec::new()),
        Some(n) => {
            let t = ck.table(n, "forward_claims")?;
            let mut out = Vec::new();
            for (claim, header) in super::walk::entries(t) {
                out.push((claim.value.to_owned(), header_name(ck, header, true)?));
            }
            Some(out)
        }
    };
    let forward_token = match f.take("forward_token") {
        Some(n) => ck.boolean(n),
        None => Some(false),
    };
    let min_ttl = secs(ck, &mut f, "jwks_min_ttl_s", DEFAULT_JWKS_MIN_TTL, 86_400);
    let max_ttl = secs(ck, &mut f, "jwks_max_ttl_s", DEFAULT_JWKS_MAX_TTL, 604_800);
    let refetch = secs(ck, &mut f, "jwks_refetch_interval_s", DEFAULT_REFETCH_INTERVAL, 3_600);

    let algorithms = algorithms?;
    let has_hs = algorithms.contains(&Alg::Hs256);
    if has_hs && hs256_secret.is_none() {
        ck.error(
            table.span,
            format!("{what} allows HS256 without hs256_secret"),
            "add hs256_secret = { secret = \"NAME\" }, or remove HS256",
        );
        return None;
    }
    if !has_hs && hs256_secret.is_some() {
        ck.error(
            table.span,
            format!("{what} has hs256_secret but does not allow HS256"),
            "add \"HS256\" to algorithms, or remove hs256_secret",
        );
        return None;
    }
    if jwks_url.is_none() && inline_jwks.is_none() && !has_hs {
        ck.error(table.span, format!("{what} has no keys"), "add jwks_url = \"https://.../jwks.json\" or keys = '{\"keys\": [...]}'");
        return None;
    }
    if let (Some(lo), Some(hi)) = (min_ttl, max_ttl) {
        if lo > hi {
            ck.error(table.span, "jwks_min_ttl_s is above jwks_max_ttl_s", "make the minimum at most the maximum");
            return None;
        }
    }
    Some(JwtProvider {
        name: name.to_owned(),
        issuer: issuer?,
        audiences: audiences?,
        client_ids: client_ids?,
        typ,
        jwks_url,
        inline_jwks,
        hs256_secret,
        algorithms,
        clock_skew: clock_skew?,
        token: token?,
        forward_claims: forward_claims?,
        forward_token: forward_token?,
        jwks_min_ttl: min_ttl?,
        jwks_max_ttl: max_ttl?,
        jwks_refetch_interval: refetch?,
    })
}

fn parse_api_key(ck: &mut Checker<'_>, node: Node<'_, '_>, origins: &super::Origins) -> Option<ApiKeyConfig> {
    let table = ck.table(node, "[auth.api_key]")?;
    let mut f = Fields::new(ck, table, "[auth.api_key]", &["header", "origin", "positive_ttl_s", "negative_ttl_s"]);
    let header = match f.take("header") {
        Some(n) => header_name(ck, n, false),
        None => Some(HeaderName::from_static("x-api-key")),
    };
    let origin = f.require(ck, "origin", "origin = \"api\" (the http origin that answers /api/keys/lookup)").and_then(|n| {
        let s = ck.string(n)?;
        match origins.find(&s) {
            Ok(i) if matches!(origins.valid[i].kind, OriginKind::Http { .. }) => Some(i),
            Ok(_) => {
                ck.error(n.span, format!("origin {s:?} is not an http origin"), "API keys are looked up at an http origin");
                None
            }
            Err(report) => {
                if report {
                    ck.error(n.span, format!("origin {s:?} is not defined"), "name an [origins.NAME] with type = \"http\"");
                }
                None
            }
        }
    });
    let positive = secs(ck, &mut f, "positive_ttl_s", DEFAULT_POSITIVE_TTL, 3_600);
    let negative = secs(ck, &mut f, "negative_ttl_s", DEFAULT_NEGATIVE_TTL, 3_600);
    Some(ApiKeyConfig { header: header?, origin: origin?, positive_ttl: positive?, negative_ttl: negative? })
}

/// A behaviour's `auth`: `"none"`, `"api_key"`, `{ jwt = [...], scopes = [...] }`,
/// `{ any_of = [...] }` or `{ all_of = [...] }`.
pub(super) fn parse_rule(ck: &mut Checker<'_>, n: Node<'_, '_>, auth: &AuthConfig) -> Option<AuthRule> {
    match n.value {
        toml::de::DeValue::String(s) => match s.as_ref() {
            "none" => Some(AuthRule::None),
            "api_key" if auth.api_key.is_some() => Some(AuthRule::ApiKey),
            "api_key" if auth.broken.iter().any(|b| b == "api_key") => None,
            "session" => session_rule(ck, n, auth, None),
            "api_key" => {
                ck.error(n.span, "auth = \"api_key\" but there is no [auth.api_key]", "add [auth.api_key] with origin = \"NAME\"");
                None
            }
            other => {
                ck.error(
                    n.span,
                    format!("unknown auth {other:?}"),
                    "use \"none\", \"api_key\", \"session\", { jwt = [\"NAME\"] }, { session = true }, { any_of = [...] } or { all_of = [...] }",
                );
                None
            }
        },
        toml::de::DeValue::Table(_) => {
            let t = ck.table(n, "auth")?;
            let mut f = Fields::new(ck, t, "auth", &["jwt", "session", "scopes", "any_of", "all_of"]);
            let (jwt, session, scopes) = (f.take("jwt"), f.take("session"), f.take("scopes"));
            let (any, all) = (f.take("any_of"), f.take("all_of"));
            match (jwt, session, any, all) {
                (None, Some(s), None, None) => {
                    if !ck.boolean(s)? {
                        ck.error(s.span, "session = false admits nobody", "write session = true, or leave this requirement out");
                        return None;
                    }
                    session_rule(ck, s, auth, scopes)
                }
                (Some(j), None, None, None) => {
                    let names = strings(ck, j, "jwt")?;
                    let mut providers = Vec::new();
                    for name in names {
                        match auth.jwt.iter().position(|p| p.name == name) {
                            Some(i) => providers.push(i),
                            None if auth.broken.contains(&name) => return None,
                            None => {
                                let known = auth
                                    .jwt
                                    .iter()
                                    .map(|p| p.name.as_str())
                                    .chain(auth.broken.iter().map(String::as_str).filter(|b| *b != "api_key"))
                                    .collect::<Vec<_>>()
                                    .join(", ");
                                ck.error(
                                    j.span,
                                    format!("JWT provider {name:?} is not defined"),
                                    format!("define [auth.jwt.{name}] or use one of: {known}"),
                                );
                                return None;
                            }
                        }
                    }
                    let scopes = match scopes {
                        Some(s) => strings(ck, s, "scopes")?,
                        None => Vec::new(),
                    };
                    Some(AuthRule::Jwt { providers, scopes })
                }
                (None, None, Some(list), None) | (None, None, None, Some(list)) if scopes.is_none() => {
                    let items = ck.array(list, "any_of")?;
                    let mut rules = Vec::new();
                    for i in items {
                        rules.push(parse_rule(ck, i.node(), auth)?);
                    }
                    if rules.is_empty() {
                        ck.error(list.span, "an empty list of requirements", "list at least one requirement");
                        return None;
                    }
                    Some(if any.is_some() { AuthRule::AnyOf(rules) } else { AuthRule::AllOf(rules) })
                }
                _ => {
                    ck.error(
                        n.span,
                        "auth takes one of jwt or session (each with optional scopes), any_of or all_of",
                        "write auth = { jwt = [\"NAME\"], scopes = [\"read\"] } or auth = { session = true, scopes = [\"admin\"] }",
                    );
                    None
                }
            }
        }
        _ => {
            ck.error(n.span, "auth must be a string or a table", "write auth = \"none\" or auth = { jwt = [\"NAME\"] }");
            None
        }
    }
}

/// `"session"` or `{ session = true, scopes = [...] }`: needs `[auth.oidc]`, and scopes need its
/// `roles_claim` (without it no session has any, and the requirement would admit nobody).
fn session_rule(ck: &mut Checker<'_>, n: Node<'_, '_>, auth: &AuthConfig, scopes: Option<Node<'_, '_>>) -> Option<AuthRule> {
    let Some(oidc) = &auth.oidc else {
        if !auth.broken.iter().any(|b| b == "oidc") {
            ck.error(
                n.span,
                "auth requires a session but there is no [auth.oidc]",
                "add [auth.oidc] with issuer, client_id and session_secret",
            );
        }
        return None;
    };
    let scopes = match scopes {
        None => Vec::new(),
        Some(s) => {
            let list = strings(ck, s, "scopes")?;
            if oidc.roles_claim.is_none() {
                ck.error(
                    s.span,
                    "session scopes come from [auth.oidc] roles_claim, which is not set: no session would have them",
                    "add roles_claim = \"groups\" (the ID token's claim listing the user's roles) to [auth.oidc]",
                );
                return None;
            }
            list
        }
    };
    Some(AuthRule::Session { scopes })
}
