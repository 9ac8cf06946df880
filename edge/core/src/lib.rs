//! # verge-edge: the edge core
//!
//! A plain library over `http` crate types. It has no runtime crate in it: time, entropy and
//! outbound HTTP come in through [`Clock`], a `[u8; 16]` and [`Upstream`], so the whole
//! pipeline runs natively in tests with a fake clock and an in-memory origin. The Workers and
//! Spin crates are thin adapters that translate bodies, bindings and secrets.
//!
//! ## The pipeline
//! [`Edge::handle`] states the order of the stages; each lives in a module named after it:
//!
//! 1. [`request_id`]: keep the client's `x-request-id` if well-formed, else mint one. First, so
//!    every answer, even an error, carries it.
//! 2. URL length (414), then [`path`] normalisation (400): before routing, so patterns and
//!    object keys only ever see the normalised path.
//! 3. Routing: the first behaviour whose [`pattern`] matches (the last is always `*`).
//! 4. Method (405 with `Allow`), then body size (413): cheap refusals before any origin work.
//! 5. The origin: [`s3`] (signed GET/HEAD, SPA fallback) or [`forward`] (SigV4-signed proxy).
//! 6. `x-request-id` on the response and one [`log::AccessLog`] line.
//!
//! Every failure is an [`EdgeError`], turned into a problem response in one place.
//!
//! ## Design choices
//! - Config is parsed and validated once ([`config::EdgeConfig::parse`]); references to the
//!   environment and secrets are resolved once ([`Edge::new`]). A bad config is an error with
//!   line and column at build time, never a panic at request time.
//! - Nothing here reads a clock or calls `Instant::now()` (it traps on wasm32-unknown-unknown).

pub mod auth;
pub mod config;
pub mod embed;
mod forward;
pub mod log;
pub mod path;
pub mod pattern;
pub mod problem;
pub mod request_id;
mod s3;
pub mod target;
pub mod upstream;

use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response};

pub use config::{ConfigErrors, EdgeConfig};
pub use log::AccessLog;
pub use problem::EdgeError;
pub use target::{StartupError, Target};
pub use upstream::{Body, BufferedUpstream, Clock, OriginTimeout, Upstream, UpstreamError};

use crate::path::NormalPath;
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
}

/// Why the edge could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BootError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Startup(#[from] StartupError),
}

/// What one request may use of the platform.
struct Io<'a, U, C, V> {
    up: &'a U,
    clock: &'a C,
    verifier: &'a V,
    entropy: [u8; 16],
}

/// The response and the access log line for one request. `B` is the runtime's origin body
/// ([`Upstream::Body`]), relayed as it arrives.
#[derive(Debug)]
pub struct Handled<B = Bytes> {
    pub response: Response<Body<B>>,
    pub log: AccessLog,
}

struct Routed<'a> {
    behaviour: &'a config::Behaviour,
    origin: &'a ResolvedOrigin,
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
        Ok(Edge { config, origins, providers, oidc, auth_state: auth::AuthState::default() })
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

    /// Cache counters (signatures verified, JWKS fetches, key lookups).
    pub fn auth_stats(&self) -> auth::AuthStats {
        *self.auth_state.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Handles one request. Never panics on any input; every failure becomes a problem response.
    pub async fn handle<U: Upstream, C: Clock>(&self, req: Request<Bytes>, up: &U, clock: &C, entropy: [u8; 16]) -> Handled<U::Body> {
        self.handle_with(req, up, clock, &auth::jwt::RustOnly, entropy).await
    }

    /// [`handle`](Self::handle) with the platform's signature verification (WebCrypto on Workers).
    pub async fn handle_with<U: Upstream, C: Clock, V: auth::jwt::Verifier>(
        &self,
        req: Request<Bytes>,
        up: &U,
        clock: &C,
        verifier: &V,
        entropy: [u8; 16],
    ) -> Handled<U::Body> {
        let started = clock.now();
        let request_id = request_id::choose(req.headers().get(request_id::HEADER), entropy);
        let mut log = AccessLog::begin(&request_id, &req);
        let io = Io { up, clock, verifier, entropy };
        let result = self.pipeline(req, &io, &request_id, &mut log).await;
        let mut response = result.unwrap_or_else(|e| {
            log.error = Some(e.to_string());
            e.into_response(&request_id).map(Body::Full)
        });
        request_id::stamp(&mut response, &request_id);
        log.status = response.status().as_u16();
        log.duration_ms = clock.now().duration_since(started).unwrap_or(Duration::ZERO).as_millis() as u64;
        Handled { response, log }
    }

    fn authenticator<'a, U: Upstream, C: Clock, V: auth::jwt::Verifier>(
        &'a self,
        io: &'a Io<'a, U, C, V>,
        request_id: &'a str,
    ) -> auth::Authenticator<'a, U, V> {
        auth::Authenticator {
            verifier: io.verifier,
            oidc: self.oidc.as_ref(),
            entropy: io.entropy,
            providers: &self.providers,
            api_key: self.config.auth.api_key.as_ref(),
            origins: &self.origins,
            state: &self.auth_state,
            up: io.up,
            now: io.clock.now(),
            request_id,
        }
    }

    async fn pipeline<U: Upstream, C: Clock, V: auth::jwt::Verifier>(
        &self,
        req: Request<Bytes>,
        io: &Io<'_, U, C, V>,
        request_id: &str,
        log: &mut AccessLog,
    ) -> Result<Response<Body<U::Body>>, EdgeError> {
        let up = io.up;
        let limits = self.config.limits;
        let url_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
        if url_len > limits.max_url_bytes {
            return Err(EdgeError::UriTooLong { len: url_len, limit: limits.max_url_bytes });
        }
        let path = NormalPath::parse(req.uri().path())?;
        log.path = path.as_str().to_owned();

        // The edge's own login routes, when OIDC login is configured.
        if self.oidc.is_some() && path.as_str().starts_with("/auth/") {
            let a = self.authenticator(io, request_id);
            if let Some(r) = a.login_route(path.as_str(), req.uri().query(), req.headers()).await {
                log.behaviour = Some("/auth/*".to_owned());
                return r.map(|r| r.map(Body::Full)).map_err(EdgeError::Login);
            }
        }

        let Routed { behaviour, origin } = self.route(&path);
        log.behaviour = Some(behaviour.pattern.to_string());
        log.origin = Some(origin.name.clone());

        if !behaviour.methods.contains(req.method()) {
            return Err(EdgeError::MethodNotAllowed { method: req.method().to_string(), allow: behaviour.methods.allow_header() });
        }
        if req.body().len() > limits.max_body_bytes {
            return Err(EdgeError::BodyTooLarge { len: req.body().len(), limit: limits.max_body_bytes });
        }

        let now = io.clock.now();
        // Identity after the cheap refusals and before any origin work. A CORS preflight carries
        // no credentials by design, so behaviours may let it through.
        let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut identity = if behaviour.allow_preflight && preflight {
            auth::Identity::default()
        } else {
            self.authenticator(io, request_id).evaluate(&behaviour.auth, req.headers()).await.map_err(EdgeError::Auth)?
        };
        log.auth = identity.via.take();
        log.signature = identity.signature;
        let (parts, body) = req.into_parts();
        let mut response = match &origin.target {
            Target::S3 { base, bucket, path_style } => {
                let bucket = s3::Bucket { origin, base, bucket, path_style: *path_style };
                bucket.serve(&parts.method, &path, &parts.headers, behaviour.spa_fallback, up, now).await
            }
            Target::Http { base } => {
                let call = forward::Call {
                    method: &parts.method,
                    path: &path,
                    query: parts.uri.query(),
                    client: &parts.headers,
                    identity: &identity,
                    request_id,
                };
                forward::forward(origin, base, call, body, up, now).await
            }
        }?
        .map(Body::Origin);
        for c in &identity.set_cookies {
            response.headers_mut().append(header::SET_COOKIE, c.clone());
        }
        Ok(response)
    }

    fn route(&self, path: &NormalPath) -> Routed<'_> {
        let behaviours = &self.config.behaviours;
        // Validation guarantees a final catch-all, so the fallback is that behaviour.
        let behaviour = behaviours.iter().find(|b| b.pattern.matches(path.as_str())).unwrap_or(&behaviours[behaviours.len() - 1]);
        Routed { behaviour, origin: &self.origins[behaviour.origin] }
    }
}

/// The answer when the edge could not start (bad config or a missing secret): 500 with a problem
/// body, and a log line naming the cause for operators.
pub fn boot_failure<B>(err: &BootError, req: &Request<Bytes>, entropy: [u8; 16]) -> Handled<B> {
    let request_id = request_id::choose(req.headers().get(request_id::HEADER), entropy);
    let log = AccessLog { error: Some(err.to_string()), ..AccessLog::begin(&request_id, req) };
    answer_before_pipeline(EdgeError::Misconfigured, &request_id, log)
}

/// The answer to a request the runtime accepted but could not be turned into an `http` request
/// (`why` says what): 400 with a problem body, and a log line.
pub fn malformed<B>(why: &str, entropy: [u8; 16]) -> Handled<B> {
    let request_id = request_id::choose(None, entropy);
    let err = EdgeError::Malformed(log::clip(why, 200));
    let log = AccessLog {
        method: String::new(),
        path: String::new(),
        error: Some(err.to_string()),
        ..AccessLog::begin(&request_id, &Request::new(()))
    };
    answer_before_pipeline(err, &request_id, log)
}

fn answer_before_pipeline<B>(err: EdgeError, request_id: &str, log: AccessLog) -> Handled<B> {
    let mut response = err.into_response(request_id).map(Body::Full);
    request_id::stamp(&mut response, request_id);
    Handled { log: AccessLog { status: response.status().as_u16(), ..log }, response }
}

#[cfg(test)]
mod tests;
