//! The operators' edge config file: TOML parsed once into validated types.
//!
//! `&str` -> spanned TOML tree -> [`EdgeConfig`] (every check done, every problem collected with
//! its line and column) -> [`crate::Edge`] (references to environment and secrets resolved).
//! Request handling only ever sees the validated types.
//!
//! ```
//! let cfg = verge_edge::config::EdgeConfig::parse("edge.toml", r#"
//! [origins.web]
//! type = "s3"
//! bucket = "site"
//! region = "us-east-1"
//! credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }
//!
//! [[behaviours]]
//! path = "*"
//! origin = "web"
//! methods = ["GET", "HEAD"]
//! spa_fallback = true
//! "#).unwrap();
//! assert_eq!(cfg.behaviours.len(), 1);
//! ```
//!
//! The file format is documented in `docs/edge-config.md`.

pub mod auth;
pub mod cache;
pub mod cors;
mod diagnostic;
pub mod error_pages;
pub mod headers;
pub mod health;
pub mod origin_group;
pub mod ratelimit;
pub mod token_kinds;
mod walk;

use std::time::Duration;

use http::Method;

pub use diagnostic::{ConfigErrors, Diagnostic};
pub use walk::check_base_url;

use crate::pattern::PathPattern;
use walk::{AsNode, Checker, Fields, Node};

/// Largest URL the edge accepts (CloudFront's limit); longer ones answer 414.
pub const DEFAULT_MAX_URL_BYTES: usize = 8_192;
/// Largest request body the edge forwards; larger ones answer 413. Spin Cloud's body limit is 10 MB;
/// the origin API needs far less, so the default keeps memory per request small.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// How long the edge waits for an origin's response headers before answering 504.
pub const DEFAULT_ORIGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the edge waits for a connection to an origin (CloudFront's default and maximum; its
/// minimum is 1 s).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The in-instance cache's size: Workers isolates have 128 MB for everything, so a small share.
pub const DEFAULT_CACHE_MEMORY_BYTES: usize = 16 << 20;
/// The largest object the cache keeps; larger ones pass uncached. 1 MB is the value limit of
/// Spin's key-value store on Fermyon Cloud, so every tier can hold what the memory tier holds.
pub const DEFAULT_CACHE_MAX_OBJECT_BYTES: usize = 1 << 20;
/// CloudFront's limit on a request's header fields, counted as name + value + 4 bytes each
/// (`": "` and CRLF); more answers 431.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 20_480;
/// Most header fields a request may carry (Envoy's and nginx's order of magnitude); more answers 431.
pub const DEFAULT_MAX_HEADER_COUNT: usize = 100;
/// CloudFront allows 25 behaviours by default and 75 at most.
pub const MAX_BEHAVIOURS: usize = 75;

/// A validated edge config.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub limits: Limits,
    pub origins: Vec<Origin>,
    pub auth: auth::AuthConfig,
    pub cache_policies: Vec<cache::CachePolicy>,
    pub origin_request_policies: Vec<cache::OriginRequestPolicy>,
    /// `[purge]`: who may purge the cache through `POST /.verge/purge`; `None`: nobody.
    pub purge: Option<cache::PurgeConfig>,
    /// `[client]`, `[rate_limits.NAME]`, `[access_rules.NAME]`, `[rate_limit_store]`.
    pub rate_limits: ratelimit::RateLimitConfig,
    /// In file order; the first match wins and the last is always the catch-all `*`.
    pub behaviours: Vec<Behaviour>,
    /// `[[error_responses]]`: custom error pages per status.
    pub error_responses: Vec<error_pages::ErrorResponse>,
    /// `[headers_policies.NAME]`, named by behaviours' `headers = "NAME"`.
    pub headers_policies: Vec<headers::HeadersPolicy>,
    /// `[cors_policies.NAME]`, named by behaviours' `cors = "NAME"`.
    pub cors_policies: Vec<cors::CorsPolicy>,
    /// `[health]`: the path the edge answers itself; `None`: no health route.
    pub health: Option<health::HealthConfig>,
    /// The config's version: the first 16 hex digits of the SHA-256 of its source, as the health
    /// route reports it.
    pub version: String,
    /// What is probably a mistake but does not make the file invalid, positioned like errors;
    /// `verge check` prints them.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_url_bytes: usize,
    pub max_body_bytes: usize,
    /// Bytes the in-instance cache may hold (entries are evicted least recently used first).
    pub cache_memory_bytes: usize,
    /// Objects larger than this are not cached.
    pub cache_max_object_bytes: usize,
    /// Compress text answers for clients that accept gzip or br, where the runtime does not
    /// (Spin; Workers compresses itself).
    pub compress: bool,
    /// The request's header fields, as name + value + 4 bytes each; more answers 431.
    pub max_header_bytes: usize,
    /// The request's number of header fields; more answers 431.
    pub max_header_count: usize,
    /// Of requests answered without a failure, the percentage whose access log line is written
    /// (every 5xx and edge failure always is). 100 by default.
    pub access_log_sample_percent: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_url_bytes: DEFAULT_MAX_URL_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            cache_memory_bytes: DEFAULT_CACHE_MEMORY_BYTES,
            cache_max_object_bytes: DEFAULT_CACHE_MAX_OBJECT_BYTES,
            compress: true,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_header_count: DEFAULT_MAX_HEADER_COUNT,
            access_log_sample_percent: 100,
        }
    }
}

/// A value written literally or taken from the environment at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Literal(String),
    Env { name: String, default: Option<String> },
}

/// Where a credential comes from. There is deliberately no inline form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// An environment variable (Spin `environment`, wrangler `[vars]`, `wasmtime serve --env`).
    Env(String),
    /// A platform secret (`wrangler secret put`, Spin variables marked `secret`); where the
    /// platform has no separate secret store the adapter reads the environment.
    Secret(String),
}

impl Reference {
    pub fn name(&self) -> &str {
        match self {
            Reference::Env(n) | Reference::Secret(n) => n,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRefs {
    pub access_key_id: Reference,
    pub secret_access_key: Reference,
    pub session_token: Option<Reference>,
}

#[derive(Debug, Clone)]
pub struct Origin {
    pub name: String,
    pub kind: OriginKind,
    pub credentials: CredentialRefs,
    pub timeout: Duration,
    /// How long to wait for a connection (`connect_timeout_ms`).
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum OriginKind {
    /// A private bucket read with signed GET/HEAD, like CloudFront's origin access control.
    /// Without `endpoint`, the AWS virtual-hosted endpoint for the region is used; with one
    /// (a local S3 server), requests are path-style: `{endpoint}/{bucket}/{key}`.
    S3 { bucket: String, region: String, endpoint: Option<Setting> },
    /// An HTTP API; requests are forwarded with a SigV4 signature for `service` in `region`.
    Http { url: Setting, service: String, region: String },
}

/// Which methods a behaviour lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSet(Vec<Method>);

impl MethodSet {
    pub fn contains(&self, m: &Method) -> bool {
        self.0.contains(m)
    }

    /// The value of an `Allow` header.
    pub fn allow_header(&self) -> String {
        self.0.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, Clone)]
pub struct Behaviour {
    pub pattern: PathPattern,
    /// Index into [`EdgeConfig::origins`].
    pub origin: usize,
    pub methods: MethodSet,
    /// Answer `/index.html` with 200 when S3 has no object for a path without a file extension.
    pub spa_fallback: bool,
    pub auth: auth::AuthRule,
    /// Let CORS preflights (OPTIONS with Access-Control-Request-Method) through without auth.
    pub allow_preflight: bool,
    /// Index into [`EdgeConfig::cache_policies`]; `None`: nothing is cached.
    pub cache: Option<usize>,
    /// Index into [`EdgeConfig::origin_request_policies`]; `None`: the default policy.
    pub origin_request: Option<usize>,
    /// The rate limits and access rule it names.
    pub limits: ratelimit::BehaviourLimits,
    /// A secondary origin tried when the primary fails (`failover`).
    pub failover: Option<origin_group::Failover>,
    /// A share of clients sent to another origin (`canary`).
    pub canary: Option<origin_group::Canary>,
    /// Index into [`EdgeConfig::headers_policies`]; `None`: answers pass as they are.
    pub headers: Option<usize>,
    /// Index into [`EdgeConfig::cors_policies`]; `None`: no CORS headers, preflights go on like
    /// any request (see `allow_preflight`).
    pub cors: Option<usize>,
    /// This behaviour's body limit, at most `[edge] max_body_bytes`; `None`: that one.
    pub max_body_bytes: Option<usize>,
}

pub(crate) const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl EdgeConfig {
    /// Every environment variable and secret name the config refers to, for adapters that must
    /// fetch settings before startup (Spin variables are read asynchronously).
    pub fn references(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for o in &self.origins {
            let c = &o.credentials;
            out.extend([c.access_key_id.name(), c.secret_access_key.name()]);
            out.extend(c.session_token.as_ref().map(Reference::name));
            match &o.kind {
                OriginKind::S3 { endpoint: Some(Setting::Env { name, .. }), .. }
                | OriginKind::Http { url: Setting::Env { name, .. }, .. } => out.push(name),
                _ => {}
            }
        }
        for p in &self.auth.jwt {
            if let Some(Setting::Env { name, .. }) = &p.jwks_url {
                out.push(name);
            }
            out.extend(p.hs256_secret.as_ref().map(Reference::name));
        }
        if let Some(o) = &self.auth.oidc {
            for setting in [Some(&o.issuer), Some(&o.client_id), o.public_url.as_ref()].into_iter().flatten() {
                if let Setting::Env { name, .. } = setting {
                    out.push(name);
                }
            }
            out.push(o.session_secret.name());
            out.extend(o.client_secret.as_ref().map(Reference::name));
        }
        out.extend(self.rate_limits.references());
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The names the config reads as platform secrets (`{ secret = "NAME" }`), for adapters that
    /// keep secrets apart from plain variables (the Workers build refuses one declared in
    /// wrangler's `[vars]`, see [`crate::embed::secrets_declared_as_vars`]).
    pub fn secrets(&self) -> Vec<&str> {
        fn secret(r: &Reference) -> Option<&str> {
            match r {
                Reference::Secret(n) => Some(n.as_str()),
                Reference::Env(_) => None,
            }
        }
        let mut refs: Vec<&Reference> = Vec::new();
        for o in &self.origins {
            let c = &o.credentials;
            refs.extend([&c.access_key_id, &c.secret_access_key]);
            refs.extend(c.session_token.as_ref());
        }
        refs.extend(self.auth.jwt.iter().filter_map(|p| p.hs256_secret.as_ref()));
        if let Some(o) = &self.auth.oidc {
            refs.push(&o.session_secret);
            refs.extend(o.client_secret.as_ref());
        }
        let mut out: Vec<&str> = refs.into_iter().filter_map(secret).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Parses and validates a config file. `file` is only used in messages.
    ///
    /// # Errors
    /// Every problem found, each with line, column and a hint.
    pub fn parse(file: &str, src: &str) -> Result<EdgeConfig, ConfigErrors> {
        let mut ck = Checker::new(src);
        let cfg = parse_document(&mut ck).map(|mut c| {
            c.version = verge_signing::sha256_hex(src.as_bytes())[..16].to_owned();
            c
        });
        let warnings = ck.take_warnings();
        let cfg = cfg.map(|c| EdgeConfig { warnings, ..c });
        ck.finish(file, cfg)
    }
}

fn parse_document(ck: &mut Checker<'_>) -> Option<EdgeConfig> {
    let root = ck.parse_root()?;
    let root = walk::TableRef { span: root.span().into(), table: root.get_ref() };
    let mut top = Fields::new(
        ck,
        root,
        "the config file",
        &[
            "edge",
            "origins",
            "auth",
            "cache_policies",
            "origin_request_policies",
            "purge",
            "behaviours",
            "client",
            "rate_limits",
            "access_rules",
            "rate_limit_store",
            "error_responses",
            "headers_policies",
            "cors_policies",
            "health",
        ],
    );

    let limits = match top.take("edge") {
        Some(n) => parse_limits(ck, n),
        None => Some(Limits::default()),
    };
    let cache_policies = top.take("cache_policies").map_or(Some(Vec::new()), |n| cache::parse_cache_policies(ck, n));
    let origin_policies = top.take("origin_request_policies").map_or(Some(Vec::new()), |n| cache::parse_origin_request_policies(ck, n));
    let rate_limits = ratelimit::parse(ck, &mut top, root);
    let headers_policies = top.take("headers_policies").map_or(Some(Vec::new()), |n| headers::parse(ck, n));
    let cors_policies = top.take("cors_policies").map_or(Some(Vec::new()), |n| cors::parse(ck, n));
    let health = top.take("health").map_or(Some(None), |n| health::parse(ck, n).map(Some));

    // Origins with errors do not stop the rest of the file from being checked: auth and the
    // behaviours are checked against the valid origins, and a reference to a broken one is not
    // also reported as undefined.
    let origins = match top.take("origins") {
        Some(n) => parse_origins(ck, n),
        None => {
            ck.error_at_start("no origins are defined", "add an [origins.NAME] table with type = \"s3\" or \"http\"");
            Origins { valid: Vec::new(), broken: None }
        }
    };
    let (auth, auth_ok) = match top.take("auth") {
        Some(n) => {
            let (auth, ok) = auth::parse_auth(ck, n, &origins);
            token_kinds::check(ck, n, &auth);
            (auth, ok)
        }
        None => (auth::AuthConfig::default(), true),
    };
    let purge = top.take("purge").map_or(Some(None), |n| cache::parse_purge(ck, n, &auth).map(Some));
    let behaviours = match top.take("behaviours") {
        // Checked even when [auth] has errors, against the providers that are valid.
        Some(n) => {
            let policies = Policies {
                cache: cache_policies.as_deref().unwrap_or_default(),
                origin: origin_policies.as_deref().unwrap_or_default(),
                complete: cache_policies.is_some() && origin_policies.is_some(),
            };
            let response = headers::ResponsePolicies {
                headers: headers_policies.as_deref(),
                cors: cors_policies.as_deref(),
                max_body_bytes: limits.map_or(DEFAULT_MAX_BODY_BYTES, |l| l.max_body_bytes),
            };
            let behaviours = parse_behaviours(ck, n, &origins, &auth, &policies, rate_limits.as_ref(), &response);
            if let (Some(b), Some(Some((h, span)))) = (&behaviours, &health) {
                health::check_shadowing(ck, h, *span, &b.iter().map(|b| b.pattern.clone()).collect::<Vec<_>>());
            }
            behaviours
        }
        None => {
            ck.error_at_start("no behaviours are defined", "add [[behaviours]] tables; the last one must have path = \"*\"");
            None
        }
    };
    let error_responses = top.take("error_responses").map_or(Some(Vec::new()), |n| error_pages::parse(ck, n, &origins));
    let auth = auth_ok.then_some(auth);
    let origins = origins.complete().then_some(origins.valid);
    Some(EdgeConfig {
        limits: limits?,
        origins: origins?,
        auth: auth?,
        cache_policies: cache_policies?,
        origin_request_policies: origin_policies?,
        purge: purge?,
        rate_limits: rate_limits?,
        behaviours: behaviours?,
        error_responses: error_responses?,
        headers_policies: headers_policies?,
        cors_policies: cors_policies?,
        health: health?.map(|(h, _)| h),
        version: String::new(),
        warnings: Vec::new(),
    })
}

fn parse_limits(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Limits> {
    let table = ck.table(node, "[edge]")?;
    let keys = [
        "max_url_bytes",
        "max_body_bytes",
        "cache_memory_bytes",
        "cache_max_object_bytes",
        "max_header_bytes",
        "max_header_count",
        "compress",
        "access_log_sample_percent",
    ];
    let mut f = Fields::new(ck, table, "[edge]", &keys);
    let url = f.take("max_url_bytes").and_then(|n| ck.int_in(n, 256, 65_536)).unwrap_or(DEFAULT_MAX_URL_BYTES as i64);
    let body = f.take("max_body_bytes").and_then(|n| ck.int_in(n, 0, 100 * 1024 * 1024)).unwrap_or(DEFAULT_MAX_BODY_BYTES as i64);
    let memory = f.take("cache_memory_bytes").and_then(|n| ck.int_in(n, 0, 64 * 1024 * 1024)).unwrap_or(DEFAULT_CACHE_MEMORY_BYTES as i64);
    let object =
        f.take("cache_max_object_bytes").and_then(|n| ck.int_in(n, 0, 16 * 1024 * 1024)).unwrap_or(DEFAULT_CACHE_MAX_OBJECT_BYTES as i64);
    let compress = f.take("compress").and_then(|n| ck.boolean(n)).unwrap_or(true);
    let header_bytes = f.take("max_header_bytes").and_then(|n| ck.int_in(n, 1024, 256 * 1024)).unwrap_or(DEFAULT_MAX_HEADER_BYTES as i64);
    let header_count = f.take("max_header_count").and_then(|n| ck.int_in(n, 16, 1000)).unwrap_or(DEFAULT_MAX_HEADER_COUNT as i64);
    let log_sample = f.take("access_log_sample_percent").and_then(|n| ck.int_in(n, 0, 100)).unwrap_or(100);
    Some(Limits {
        access_log_sample_percent: log_sample as u8,
        max_header_bytes: header_bytes as usize,
        max_header_count: header_count as usize,
        max_url_bytes: url as usize,
        max_body_bytes: body as usize,
        cache_memory_bytes: memory as usize,
        cache_max_object_bytes: object as usize,
        compress,
    })
}

/// The origins as far as they are valid. `broken` names those with errors, so that a reference
/// to one is not also reported as undefined; `None` when the `[origins]` table itself is missing
/// or malformed, so that no reference can be judged.
pub(crate) struct Origins {
    pub valid: Vec<Origin>,
    pub broken: Option<Vec<String>>,
}

impl Origins {
    /// Whether every origin is valid.
    fn complete(&self) -> bool {
        self.broken.as_ref().is_some_and(Vec::is_empty)
    }

    /// The index of origin `name` among the valid ones; otherwise whether the reference should be
    /// reported as undefined (`false` when it names a broken origin, already reported).
    pub(crate) fn find(&self, name: &str) -> Result<usize, bool> {
        match self.valid.iter().position(|o| o.name == name) {
            Some(i) => Ok(i),
            None => Err(self.broken.as_ref().is_some_and(|b| !b.iter().any(|n| n == name))),
        }
    }

    /// The valid origins' names, for hints.
    pub(crate) fn known(&self) -> String {
        self.valid.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The origin a string value `n` of `what` names, or an error there when it names none.
    pub(crate) fn reference(&self, ck: &mut Checker<'_>, n: Node<'_, '_>, what: &str) -> Option<usize> {
        let s = ck.string(n)?;
        match self.find(&s) {
            Ok(i) => Some(i),
            Err(report) => {
                if report {
                    ck.error(
                        n.span,
                        format!("{what} uses origin {s:?}, which is not defined"),
                        format!("define [origins.{s}] or use one of: {}", self.known()),
                    );
                }
                None
            }
        }
    }
}

fn parse_origins(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Origins {
    let Some(table) = ck.table(node, "[origins]") else { return Origins { valid: Vec::new(), broken: None } };
    let mut valid = Vec::new();
    let mut broken = Vec::new();
    for (name, value) in walk::entries(table) {
        if !walk::is_identifier(name.value) {
            ck.error(name.span, format!("origin name {:?} is not a valid name", name.value), "use letters, digits, '-' and '_' only");
            broken.push(name.value.to_owned());
            continue;
        }
        match parse_origin(ck, name.value, value) {
            Some(o) => valid.push(o),
            None => broken.push(name.value.to_owned()),
        }
    }
    if valid.is_empty() && broken.is_empty() {
        ck.error(node.span, "no origins are defined", "add an [origins.NAME] table with type = \"s3\" or \"http\"");
        return Origins { valid, broken: None };
    }
    Origins { valid, broken: Some(broken) }
}

fn parse_origin(ck: &mut Checker<'_>, name: &str, node: Node<'_, '_>) -> Option<Origin> {
    let what = format!("[origins.{name}]");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(
        ck,
        table,
        &what,
        &["type", "bucket", "region", "endpoint", "url", "service", "credentials", "timeout_ms", "connect_timeout_ms"],
    );
    let ty = f.require(ck, "type", "type = \"s3\" or type = \"http\"").and_then(|n| ck.string(n).map(|s| (s, n.span)));
    let credentials = f
        .require(ck, "credentials", "credentials = { access_key_id = { env = \"NAME\" }, secret_access_key = { secret = \"NAME\" } }")
        .and_then(|n| parse_credentials(ck, n, &what));
    let timeout =
        f.take("timeout_ms").and_then(|n| ck.int_in(n, 1, 300_000)).map_or(DEFAULT_ORIGIN_TIMEOUT, |ms| Duration::from_millis(ms as u64));
    let connect_timeout = f
        .take("connect_timeout_ms")
        .and_then(|n| ck.int_in(n, 1, 10_000))
        .map_or(DEFAULT_CONNECT_TIMEOUT, |ms| Duration::from_millis(ms as u64));

    let kind = match ty {
        Some((t, _)) if t == "s3" => {
            f.forbid(ck, &["url", "service"], "s3 origins take bucket, region and endpoint");
            let bucket = f.require(ck, "bucket", "bucket = \"my-bucket\"").and_then(|n| ck.bucket_name(n));
            let region = f.require(ck, "region", "region = \"us-east-1\"").and_then(|n| ck.region(n));
            let endpoint = match f.take("endpoint") {
                Some(n) => Some(ck.setting(n, walk::SettingKind::Url)?),
                None => None,
            };
            Some(OriginKind::S3 { bucket: bucket?, region: region?, endpoint })
        }
        Some((t, _)) if t == "http" => {
            f.forbid(ck, &["bucket", "endpoint"], "http origins take url, service and region");
            let url = f.require(ck, "url", "url = \"https://api.example.com\"").and_then(|n| ck.setting(n, walk::SettingKind::Url));
            let service = f.require(ck, "service", "service = \"execute-api\" (the SigV4 service name)").and_then(|n| ck.service_name(n));
            let region = f.require(ck, "region", "region = \"us-east-1\"").and_then(|n| ck.region(n));
            Some(OriginKind::Http { url: url?, service: service?, region: region? })
        }
        Some((t, span)) => {
            ck.error(span, format!("unknown origin type {t:?}"), "use type = \"s3\" or type = \"http\"");
            None
        }
        None => None,
    };
    Some(Origin { name: name.to_owned(), kind: kind?, credentials: credentials?, timeout, connect_timeout })
}

fn parse_credentials(ck: &mut Checker<'_>, node: Node<'_, '_>, origin: &str) -> Option<CredentialRefs> {
    let what = format!("credentials of {origin}");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(ck, table, &what, &["access_key_id", "secret_access_key", "session_token"]);
    let id = f.require(ck, "access_key_id", "access_key_id = { env = \"NAME\" }").and_then(|n| ck.reference(n));
    let secret = f.require(ck, "secret_access_key", "secret_access_key = { secret = \"NAME\" }").and_then(|n| ck.reference(n));
    let token = match f.take("session_token") {
        Some(n) => Some(ck.reference(n)?),
        None => None,
    };
    Some(CredentialRefs { access_key_id: id?, secret_access_key: secret?, session_token: token })
}

/// The policies behaviours may name; `complete` is false when some failed to parse, so that a
/// reference to a broken policy is not reported as undefined as well.
struct Policies<'a> {
    cache: &'a [cache::CachePolicy],
    origin: &'a [cache::OriginRequestPolicy],
    complete: bool,
}

const BEHAVIOUR_KEYS: [&str; 15] = [
    "path",
    "origin",
    "methods",
    "spa_fallback",
    "auth",
    "allow_preflight",
    "cache",
    "origin_request",
    "rate_limits",
    "access",
    "failover",
    "canary",
    "headers",
    "cors",
    "max_body_bytes",
];

fn parse_behaviours(
    ck: &mut Checker<'_>,
    node: Node<'_, '_>,
    origins: &Origins,
    auth_cfg: &auth::AuthConfig,
    policies: &Policies<'_>,
    rate_limits: Option<&ratelimit::RateLimitConfig>,
    response: &headers::ResponsePolicies<'_>,
) -> Option<Vec<Behaviour>> {
    let items = ck.array_of_tables(node, "behaviours")?;
    if items.len() > MAX_BEHAVIOURS {
        ck.error(
            node.span,
            format!("{} behaviours; at most {MAX_BEHAVIOURS} are allowed", items.len()),
            "merge behaviours with wider patterns",
        );
    }
    let mut out: Vec<Behaviour> = Vec::new();
    // Every pattern that parsed, with its behaviour's number, and the last behaviour's pattern:
    // shadowing and the catch-all are checked on these, so a behaviour with other errors (an
    // unknown key, a broken origin) still counts for them.
    let mut patterns: Vec<(PathPattern, usize)> = Vec::new();
    let mut last: Option<(bool, walk::Span)> = None;
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let what = format!("behaviour {}", i + 1);
        last = None;
        let Some(table) = ck.table(item.node(), &what) else {
            ok = false;
            continue;
        };
        let mut f = Fields::new(ck, table, &what, &BEHAVIOUR_KEYS);
        let path = f.require(ck, "path", "path = \"/api/*\"");
        let pattern = path.and_then(|n| {
            let s = ck.string(n)?;
            PathPattern::parse(&s)
                .map_err(|e| {
                    ck.error(
                        n.span,
                        format!("malformed path pattern {s:?}: {e}"),
                        "patterns are paths with * (any characters) and ? (one character), e.g. \"/api/*\"",
                    )
                })
                .ok()
                .map(|p| (p, n.span))
        });
        let origin = f.require(ck, "origin", "origin = \"NAME\" of an [origins.NAME] table").and_then(|n| origins.reference(ck, n, &what));
        if let Some((p, span)) = &pattern {
            last = Some((p.is_catch_all(), *span));
            if let Some((earlier, n)) = patterns.iter().find(|(b, _)| b.covers(p)) {
                ck.error(
                    *span,
                    format!(
                        "{what} (path {:?}) can never match: behaviour {n} (path {:?}) before it matches every such path",
                        p.as_str(),
                        earlier.as_str()
                    ),
                    "move the more specific behaviour above the general one, or remove it",
                );
                ok = false;
            }
            patterns.push((p.clone(), i + 1));
        }
        let methods = match f.take("methods") {
            Some(n) => parse_methods(ck, n),
            None => Some(MethodSet(vec![Method::GET, Method::HEAD])),
        };
        let spa = match f.take("spa_fallback") {
            Some(n) => ck.boolean(n),
            None => Some(false),
        };
        let rule = match f.take("auth") {
            Some(n) => auth::parse_rule(ck, n, auth_cfg),
            None => Some(auth::AuthRule::None),
        };
        let has_auth = rule.as_ref().map(|r| *r != auth::AuthRule::None);
        let limits = ratelimit::parse_behaviour(ck, &mut f, &what, rate_limits, has_auth);
        let second = origin_group::parse_behaviour(ck, &mut f, &what, origins, origin);
        let allow_preflight = match f.take("allow_preflight") {
            Some(n) => ck.boolean(n),
            None => Some(false),
        };
        let cache_names: Vec<&str> = policies.cache.iter().map(|p| p.name.as_str()).collect();
        let cache = match f.take("cache") {
            Some(n) if !policies.complete => ck.string(n).and(None),
            Some(n) => cache::policy_ref(ck, n, &cache_names, "cache policy", "cache_policies").map(|i| Some((i, n.span))),
            None => Some(None),
        };
        let origin_names: Vec<&str> = policies.origin.iter().map(|p| p.name.as_str()).collect();
        let origin_request = match f.take("origin_request") {
            Some(n) if !policies.complete => ck.string(n).and(None),
            Some(n) => cache::policy_ref(ck, n, &origin_names, "origin request policy", "origin_request_policies").map(Some),
            None => Some(None),
        };
        let refs = headers::parse_behaviour_refs(ck, &mut f, response);
        let (
            Some((pattern, span)),
            Some(origin),
            Some(methods),
            Some(spa_fallback),
            Some(auth),
            Some(allow_preflight),
            Some(cache),
            Some(origin_request),
        ) = (pattern, origin, methods, spa, rule, allow_preflight, cache, origin_request)
        else {
            ok = false;
            continue;
        };
        let (Some(limits), Some((failover, canary)), Some(refs)) = (limits, second, refs) else {
            ok = false;
            continue;
        };
        if let Some((i, cache_span)) = cache {
            let p = &policies.cache[i];
            if !methods.contains(&Method::GET) {
                ck.error(
                    cache_span,
                    format!("{what} caches with {:?} but does not allow GET", p.name),
                    "only GET and HEAD answers are cached; allow GET and HEAD or remove cache",
                );
                ok = false;
            }
            if p.per_user && auth == auth::AuthRule::None {
                ck.error(
                    cache_span,
                    format!("{what} uses cache policy {:?} with per_user = true, but has no auth rule", p.name),
                    "every caller would be the same anonymous user: add auth = ... or use a policy without per_user",
                );
                ok = false;
            }
        }
        let cache = cache.map(|(i, _)| i);
        // Meaning checks that need the origin.
        if let OriginKind::S3 { .. } = origins.valid[origin].kind {
            if let Some(m) = methods.0.iter().find(|m| !matches!(**m, Method::GET | Method::HEAD | Method::OPTIONS)) {
                ck.error(
                    span,
                    format!("{what} sends {m} to S3 origin {:?}, which only serves GET and HEAD", origins.valid[origin].name),
                    "use methods = [\"GET\", \"HEAD\"] for S3 origins",
                );
                ok = false;
            }
        } else if spa_fallback {
            ck.error(span, format!("{what} has spa_fallback on an http origin"), "spa_fallback only applies to s3 origins; remove it");
            ok = false;
        }
        let headers::BehaviourRefs { headers, cors, max_body_bytes } = refs;
        out.push(Behaviour {
            pattern,
            origin,
            methods,
            spa_fallback,
            auth,
            allow_preflight,
            cache,
            origin_request,
            limits,
            failover,
            canary,
            headers,
            cors,
            max_body_bytes,
        });
    }
    match last {
        Some((false, span)) => {
            ck.error(
                span,
                "the last behaviour must be the default, with path = \"*\"",
                "add a final [[behaviours]] with path = \"*\" (CloudFront's default behaviour)",
            );
            ok = false;
        }
        None if ok && items.is_empty() => {
            ck.error(node.span, "no behaviours are defined", "add [[behaviours]] tables; the last one must have path = \"*\"");
            ok = false;
        }
        _ => {}
    }
    ok.then_some(out)
}

fn parse_methods(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<MethodSet> {
    let items = ck.array(node, "methods")?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let n = item.node();
        let Some(s) = ck.string(n) else {
            ok = false;
            continue;
        };
        if !METHODS.contains(&s.as_str()) {
            ck.error(n.span, format!("unknown method {s:?}"), format!("use any of {}", METHODS.join(", ")));
            ok = false;
            continue;
        }
        let m: Method = s.parse().ok()?;
        if out.contains(&m) {
            ck.error(n.span, format!("method {s} is listed twice"), "list each method once");
            ok = false;
        } else {
            out.push(m);
        }
    }
    if ok && out.is_empty() {
        ck.error(node.span, "methods is empty, so the behaviour would refuse every request", "list at least GET and HEAD");
        return None;
    }
    if ok && out.contains(&Method::GET) != out.contains(&Method::HEAD) {
        ck.error(node.span, "GET and HEAD must be allowed together", "add the missing one of GET and HEAD");
        return None;
    }
    ok.then_some(MethodSet(out))
}

#[cfg(test)]
mod tests;
