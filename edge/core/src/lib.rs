//! # verge-edge: the edge core
//!
//! A plain library over `http` crate types. It has no runtime crate in it: time, entropy,
//! outbound HTTP and the platform's signature checks come in through one [`Platform`] trait, so
//! the whole pipeline runs natively in tests with a fake clock and an in-memory origin. The
//! Workers and Spin crates are thin adapters that translate bodies, bindings and secrets.
//!
//! ## The phases
//! [`Edge::serve`] lists the phases in order over one per-request context; each lives in a
//! module under `stages/` named after its concern (pingora's `ProxyHttp` phases, linkerd's
//! stack in one function). A request phase either lets the request go on or answers it; every
//! answer then passes through one finishing step.
//!
//! 1. `request id`: keep the client's `x-request-id` if well-formed, else mint one
//!    ([`request_id`]). First, so every answer, even an error, carries it.
//!    The request's trace ([`trace`]) is chosen with it, from the same entropy.
//! 2. `limits::headers` (431), then `limits::url` (414): before the path is parsed, so oversized
//!    headers or URLs cost nothing more.
//! 3. `routing::normalise` (400, [`path`]): before routing and login, so patterns, object keys
//!    and login routes only ever see the normalised path.
//!    Then `health::answer`: the `[health]` path, answered by the edge itself before routing (the
//!    config refuses a behaviour it would hide).
//! 4. `login::routes`: the edge's own `/auth/*` routes when OIDC login is configured. Before
//!    routing, so no behaviour can shadow them; they carry their own state cookie, so they need
//!    no identity.
//!    Then `caching::purge`: `POST /.verge/purge` when `[purge]` is configured, with its own
//!    auth rule; beside the login routes for the same reason (no behaviour can shadow it).
//! 5. `routing::route`: the first behaviour whose [`pattern`] matches (the last is always `*`).
//!    From here on the matched behaviour is known, to later phases and to the finishing step.
//!    Then `access::check` (403): the behaviour's access rule (IP blocks, countries), right after
//!    routing: a denied client costs nothing more and learns nothing about the behaviour.
//!    Then `cors::preflight`: the behaviour's CORS decision, kept for the finishing step; a
//!    preflight is answered 204 here, before the method check, identity and rate limits (it
//!    carries no credentials by design), with no origin call.
//! 6. `limits::method_and_body` (405 with `Allow`, 413 on the declared `Content-Length` or the
//!    body): cheap refusals, after routing (the behaviour says which methods and its body limit)
//!    and before identity (no key work for a request refused anyway).
//!    Then `ratelimit::gate` (429): a caller who has used up a `count = "failed_identity"` limit is
//!    refused before identity, so guessing tokens or API keys costs no verification and no key
//!    lookup; identity counts its refusals against such limits.
//! 7. `identity::check` (401/403/503): before anything that could answer with the origin's
//!    content, so a protected response never reaches a caller who may not have it.
//!    Then `ratelimit::check` (429 with `Retry-After`; 503 when a global store is down and the limit
//!    fails closed): after identity, because a per-user or per-consumer key and an API key's
//!    plan come from it; before the cache lookup, because a cache hit must count too and a
//!    refused caller must not be served from the cache. The login routes' own limits run in
//!    `ratelimit::login`, just before `login::routes`.
//!    Then `canary::pick` (behaviours with `canary`, see [`canary`]): which origin serves, after
//!    identity and rate limits (a refused request gets no sticky cookie), before the cache lookup,
//!    whose key names the serving origin on such behaviours.
//! 8. `caching::lookup` (behaviours with `cache = "POLICY"`, see [`cache`]): a fresh entry,
//!    or a stale one within `stale-while-revalidate`, answers here; otherwise the request goes
//!    on as the only one at the origin for its key, rewritten for a cache fill (GET for HEAD, no
//!    client validators or `Range`, the entry's validators when revalidating). After identity,
//!    always: a protected answer must never reach a caller who may not have it, and a
//!    `per_user` key is built from the identity that phase checked. (Rate limits, next, go between
//!    the two: a refused caller must not be served from the cache either.)
//! 9. `origin::fetch`: `s3` (signed GET/HEAD, SPA fallback) or `forward` (SigV4-signed
//!    proxy, with what the behaviour's [`origin_request`] policy lets through), and the
//!    behaviour's `failover` origin for a GET, HEAD or OPTIONS the first refused, let time out or
//!    failed with a chosen status (two attempts at most). Last request phase: only a request
//!    every check admitted, and the cache could not answer, costs an origin call; failover
//!    comes before the fill, so `stale-if-error` judges what the secondary said.
//! 10. `caching::fill` (pingora's `response_filter` for the cache): stores what may be stored,
//!     refreshes an entry on a 304, answers stale within `stale-if-error` when the origin fails,
//!     and answers the client's preconditions, HEAD and `Range` from the result. Right after the
//!     origin, before the finishing step, so that what is stored is the origin's answer and never
//!     one with per-request headers (`x-request-id`, a renewed session's `Set-Cookie`) in it.
//!     Then `error_page::custom` (`[[error_responses]]`): an answer, the origin's or an edge
//!     error, whose status has a page is answered with it for a browser. After the fill (the
//!     cache keeps the origin's answer, never the page), before the finishing step (the page
//!     gets the same per-request headers as any answer).
//! 11. `finish::finish`, for every response (origin answers, cache hits, login redirects, edge
//!     errors, and [`boot_failure`] / [`malformed`] answers given before there is an edge): an
//!     error becomes its problem response; identity's `Set-Cookie` on non-error answers;
//!     `Cache-Status` and `Age` on every answer of a cached behaviour, errors included; the CORS
//!     headers (after the cache, so no stored answer carries them) and the behaviour's headers
//!     policy with `Server-Timing` ([`config::headers`], [`config::cors`]); `x-request-id`; the
//!     log line's status, size and duration last, so the log describes the response as sent.
//!
//! A new phase is one module under `stages/` and one line in the phase list (`Edge::phases`,
//! which [`Edge::serve`] runs), placed by the constraints above. Every failure is an
//! [`EdgeError`], turned into a problem response in one place.
//!
//! ## Design choices
//! - Config is parsed and validated once ([`config::EdgeConfig::parse`]); references to the
//!   environment and secrets are resolved once ([`Edge::new`]). A bad config is an error with
//!   line and column at build time, never a panic at request time.
//! - Nothing here reads a clock or calls `Instant::now()` (it traps on wasm32-unknown-unknown):
//!   the time is [`Platform::now`], read once when a request arrives.

pub mod auth;
pub mod cache;
pub mod canary;
#[cfg(any(feature = "gzip", feature = "brotli"))]
pub mod compress;
pub mod config;
pub mod embed;
pub mod explain;
mod forward;
pub mod log;
pub mod origin_request;
pub mod path;
pub mod pattern;
pub mod platform;
pub mod problem;
pub mod ratelimit;
pub mod request_id;
mod s3;
mod stages;
pub mod target;
pub mod trace;
pub mod upstream;

use bytes::Bytes;
use http::{Request, Response};

pub use config::{ConfigErrors, EdgeConfig};
pub use log::AccessLog;
pub use platform::Platform;
pub use problem::EdgeError;
pub use target::{StartupError, Target};
pub use upstream::{Body, BufferedUpstream, Capped, Clock, ConnectTimeout, OriginTimeout, Upstream, UpstreamError};

use crate::stages::{
    access, caching, canary as canary_stage, cors, error_page, finish, health, identity, limits, login, origin, ratelimit as rate, routing,
    Ctx, Exchange, Stop,
};
use crate::target::ResolvedOrigin;

/// A running edge: validated config, resolved origins and identity providers, and the caches
/// shared by the requests this instance serves.
#[derive(Debug)]
pub struct Edge {
    config: EdgeConfig,
    origins: Vec<ResolvedOrigin>,
    providers: Vec<auth::ResolvedProvider>,
    oidc: Option<auth::oidc::ResolvedOidc>,
    auth_state: auth::AuthState,
    /// The in-instance cache tier and the keys now at the origin.
    cache_memory: cache::MemoryStore,
    flights: cache::flight::Flights,
    /// This instance's copy of the purge list.
    purges: cache::purge::PurgeState,
    /// Counts of `scope = "instance"` rate limits.
    rate_memory: ratelimit::MemoryCounters,
    /// `[rate_limit_store] redis`, resolved.
    rate_store_address: Option<String>,
    /// Custom error pages fetched from their bucket.
    error_pages: stages::error_page::Pages,
    /// What the health route reports of the build.
    build: BuildInfo,
}

/// The build an edge runs, for the health route: the adapters embed it
/// ([`embed::build_script`] exports `VERGE_BUILD_COMMIT` and `VERGE_BUILD_TIME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    /// The commit built (12 hex digits), `unknown` outside a git checkout.
    pub commit: &'static str,
    /// When the build script ran (RFC 3339, UTC).
    pub time: &'static str,
}

impl Default for BuildInfo {
    fn default() -> Self {
        BuildInfo { commit: "unknown", time: "unknown" }
    }
}

/// Why the edge could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BootError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Startup(#[from] StartupError),
}

/// The response and the access log line for one request. `B` is the runtime's origin body
/// ([`Platform::Body`]), relayed as it arrives.
pub struct Handled<'e, B = Bytes> {
    pub response: Response<Body<B>>,
    pub log: AccessLog,
    /// Work to run after the response is sent (a `stale-while-revalidate` refresh): Workers
    /// pass it to `ctx.waitUntil`, Spin spawns it; tests await it. Dropping it only means the
    /// entry is refreshed by a later request instead.
    pub background: Option<cache::LocalFuture<'e, ()>>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for Handled<'_, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handled")
            .field("response", &self.response)
            .field("log", &self.log)
            .field("background", &self.background.is_some())
            .finish()
    }
}

impl Edge {
    /// Resolves the config's references with `lookup`.
    ///
    /// # Errors
    /// The first missing environment variable or secret, by name.
    pub fn new(config: EdgeConfig, lookup: target::Lookup<'_>) -> Result<Self, StartupError> {
        let origins = target::resolve(&config, lookup)?;
        let mut providers = auth::resolve(&config.auth, lookup)?;
        let oidc = auth::resolve_oidc(&config.auth, lookup, &mut providers)?;
        let rate_store_address = match &config.rate_limits.redis {
            None => None,
            Some(config::Setting::Literal(v)) => Some(v.clone()),
            Some(config::Setting::Env { name, default }) => lookup(&config::Reference::Env(name.clone())).or_else(|| default.clone()),
        }
        .filter(|a| !a.is_empty());
        let cache_memory = cache::MemoryStore::new(config.limits.cache_memory_bytes, config.limits.cache_max_object_bytes);
        Ok(Edge {
            config,
            origins,
            providers,
            oidc,
            auth_state: auth::AuthState::default(),
            cache_memory,
            flights: cache::flight::Flights::default(),
            purges: cache::purge::PurgeState::default(),
            rate_memory: ratelimit::MemoryCounters::default(),
            rate_store_address,
            error_pages: Default::default(),
            build: BuildInfo::default(),
        })
    }

    /// The build the health route reports.
    pub fn with_build(mut self, build: BuildInfo) -> Self {
        self.build = build;
        self
    }

    /// Parses, validates and resolves in one step (what adapters call at startup).
    ///
    /// # Errors
    /// Config errors with positions, or a missing reference.
    pub fn from_toml(file: &str, src: &str, lookup: target::Lookup<'_>) -> Result<Self, BootError> {
        Ok(Edge::new(EdgeConfig::parse(file, src)?, lookup)?)
    }

    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// The Redis address for global rate limits (`[rate_limit_store] redis`), for the Spin
    /// adapter; `None` when unset or empty.
    pub fn rate_store_address(&self) -> Option<&str> {
        self.rate_store_address.as_deref()
    }

    /// Cache counters (signatures verified, JWKS fetches, key lookups).
    pub fn auth_stats(&self) -> auth::AuthStats {
        *self.auth_state.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Handles one request with what `platform` offers. Never panics on any input; every
    /// failure becomes a problem response.
    ///
    /// This function is the phase list: the order below is the order of the crate docs, and a
    /// new phase is one more line here.
    pub async fn serve<'e, P: Platform>(&'e self, req: Request<Bytes>, platform: &'e P) -> Handled<'e, P::Body> {
        let now = platform.now();
        let entropy = platform.entropy();
        let mut ex = Exchange::begin(&req, entropy, Some(now));
        ex.log_sample_percent = self.config.limits.access_log_sample_percent;
        let mut cx =
            Ctx { edge: self, platform, req, now, entropy, ex, path: None, identity: auth::Identity::default(), cache: None, client: None };
        let outcome = match Self::phases(&mut cx).await {
            Ok(response) => Ok(response),
            Err(Stop::Answer(response)) => Ok(*response),
            Err(Stop::Error(e)) => Err(e),
        };
        let outcome = error_page::custom(&mut cx, outcome).await;
        finish::finish(cx.ex, outcome, Some(platform.now()))
    }

    /// The request phases, in order (see the crate docs for why this order).
    async fn phases<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<Response<Body<P::Body>>, Stop<P::Body>> {
        limits::headers(cx)?;
        limits::url(cx)?;
        routing::normalise(cx)?;
        health::answer(cx)?;
        rate::login(cx).await?;
        login::routes(cx).await?;
        caching::purge(cx).await?;
        routing::route(cx)?;
        access::check(cx)?;
        cors::preflight(cx)?;
        limits::method_and_body(cx)?;
        rate::gate(cx).await?;
        identity::check(cx).await?;
        rate::check(cx).await?;
        canary_stage::pick(cx)?;
        caching::lookup(cx).await?;
        let answer = origin::fetch(cx).await;
        caching::fill(cx, answer).await
    }

    /// [`serve`](Self::serve) with a platform put together from parts: an [`Upstream`], a
    /// [`Clock`] and this request's entropy, with signatures checked in Rust.
    pub async fn handle<U: Upstream, C: Clock>(
        &self,
        req: Request<Bytes>,
        up: &U,
        clock: &C,
        entropy: [u8; 16],
    ) -> Handled<'static, U::Body> {
        self.handle_with(req, up, clock, &auth::jwt::RustOnly, entropy).await
    }

    /// [`handle`](Self::handle) with a platform signature [`Verifier`](auth::jwt::Verifier).
    pub async fn handle_with<U: Upstream, C: Clock, V: auth::jwt::Verifier>(
        &self,
        req: Request<Bytes>,
        up: &U,
        clock: &C,
        verifier: &V,
        entropy: [u8; 16],
    ) -> Handled<'static, U::Body> {
        // Background work borrows the platform, which ends here; run it before returning.
        let parts = platform::Parts { up, clock, verifier, entropy };
        let Handled { response, log, background } = self.serve(req, &parts).await;
        if let Some(work) = background {
            work.await;
        }
        Handled { response, log, background: None }
    }
}

/// The answer when the edge could not start (bad config or a missing secret): 500 with a problem
/// body, and a log line naming the cause for operators.
pub fn boot_failure<B>(err: &BootError, req: &Request<Bytes>, entropy: [u8; 16]) -> Handled<'static, B> {
    let mut ex = Exchange::begin(req, entropy, None);
    ex.log.error = Some(err.to_string());
    finish::finish(ex, Err(EdgeError::Misconfigured), None)
}

/// Why an adapter did not read a request body whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRefused {
    /// Longer than `[edge] max_body_bytes` (`len`: the declared length, or at least the limit + 1
    /// when found while reading a chunked body).
    TooLarge { len: usize },
    /// The body failed mid-way (the client went away, the runtime cut it off).
    Unreadable(String),
}

impl Edge {
    /// The largest request body the edge reads (`[edge] max_body_bytes`): adapters read at most
    /// this much and answer with [`body_refused`] past it, so memory stays bounded whatever a
    /// client sends.
    pub fn max_body_bytes(&self) -> usize {
        self.config.limits.max_body_bytes
    }

    /// Whether any access rule allows or denies countries: only then need an adapter find the
    /// client's country (on Workers `request.cf`, which workerd builds anew on every read).
    pub fn reads_country(&self) -> bool {
        self.config.rate_limits.access_rules.iter().any(|r| !r.allow_countries.is_empty() || !r.deny_countries.is_empty())
    }
}

/// The answer when the adapter refused to read a body (see [`BodyRefused`]): 413 or 400 with a
/// problem body and a log line, through the finishing step like every answer.
pub fn body_refused<B>(edge: &Edge, req: &Request<()>, why: BodyRefused, entropy: [u8; 16]) -> Handled<'static, B> {
    let ex = Exchange::begin(req, entropy, None);
    let err = match why {
        BodyRefused::TooLarge { len } => EdgeError::BodyTooLarge { len, limit: edge.max_body_bytes() },
        BodyRefused::Unreadable(why) => EdgeError::Malformed(log::clip(&format!("the request body could not be read: {why}"), 200)),
    };
    finish::finish(ex, Err(err), None)
}

/// The answer when the runtime's random number generator failed (`entropy` is then whatever the
/// adapter has; it only names this answer): 500 with a problem body, and a log line, before any
/// stage that needs a nonce, a login state or a fresh key could run on predictable bytes.
pub fn entropy_failure<B>(req: &Request<()>, entropy: [u8; 16]) -> Handled<'static, B> {
    let mut ex = Exchange::begin(req, entropy, None);
    ex.log.error = Some("the runtime's random number generator failed".to_owned());
    finish::finish(ex, Err(EdgeError::EntropyUnavailable), None)
}

/// The answer to a request the runtime accepted but could not be turned into an `http` request
/// (`why` says what): 400 with a problem body, and a log line.
pub fn malformed<B>(why: &str, entropy: [u8; 16]) -> Handled<'static, B> {
    let mut ex = Exchange::begin(&Request::new(()), entropy, None);
    ex.log.method = String::new();
    ex.log.path = String::new();
    // The request has no id of its own (there is no request), so the id is a fresh one.
    finish::finish(ex, Err(EdgeError::Malformed(log::clip(why, 200))), None)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod delivery_tests;
#[cfg(test)]
mod policy_tests;
