//! The request's phases, one module each, over one per-request [`Ctx`]. The order is stated once,
//! in [`crate::Edge::serve`]; the `//!` docs of the crate say why each comes where it does.
//!
//! A request phase takes the context and either lets the request go on (`Ok(())`) or stops it
//! with an answer ([`Stop`]): an [`EdgeError`] or a ready response (a login redirect, later a
//! cache hit). Every response, whichever phase produced it, then passes through
//! [`finish::finish`].

pub(crate) mod access;
pub(crate) mod caching;
pub(crate) mod canary;
pub(crate) mod cors;
pub(crate) mod error_page;
pub(crate) mod finish;
pub(crate) mod health;
pub(crate) mod identity;
pub(crate) mod limits;
pub(crate) mod login;
pub(crate) mod origin;
pub(crate) mod ratelimit;
pub(crate) mod routing;

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};

use crate::config::Behaviour;
use crate::log::AccessLog;
use crate::path::NormalPath;
use crate::platform::Platform;
use crate::problem::EdgeError;
use crate::target::ResolvedOrigin;
use crate::upstream::Body;
use crate::Edge;

/// Why a request phase stopped the request: an error, or an answer made at the edge.
pub(crate) enum Stop<B> {
    Error(EdgeError),
    /// Boxed: a response is large, and `Err` travels through every phase's `?`.
    Answer(Box<Response<Body<B>>>),
}

impl<B> From<EdgeError> for Stop<B> {
    fn from(e: EdgeError) -> Self {
        Stop::Error(e)
    }
}

/// The behaviour a request matched and its origin.
#[derive(Clone, Copy)]
pub(crate) struct Route<'e> {
    pub behaviour: &'e Behaviour,
    pub origin: &'e ResolvedOrigin,
    /// The behaviour's headers policy, applied in the finishing step.
    pub headers: Option<&'e crate::config::headers::HeadersPolicy>,
    /// The behaviour's CORS policy.
    pub cors: Option<&'e crate::config::cors::CorsPolicy>,
}

/// What the finishing step needs to know about a request, whether or not the edge could start:
/// who asked, what matched, what earlier phases left for the response.
pub(crate) struct Exchange<'e> {
    pub request_id: String,
    pub log: AccessLog,
    /// When the request arrived, where there is a clock to say (not for a failed boot).
    pub started: Option<SystemTime>,
    /// The matched behaviour, so per-behaviour response policies reach error answers too.
    pub route: Option<Route<'e>>,
    /// `Set-Cookie` values from identity (a renewed session), for every answer.
    pub set_cookies: Vec<HeaderValue>,
    /// What the cache did (`Cache-Status`) and the answer's age, on cached behaviours.
    pub cache: Option<(crate::cache::status::CacheStatus, std::time::Duration)>,
    /// Work to run after the answer (a `stale-while-revalidate` refresh).
    pub background: Option<crate::cache::LocalFuture<'e, ()>>,
    /// The rate limits' policies and states (`RateLimit-Policy`, `RateLimit`) and who refused.
    pub ratelimit: crate::ratelimit::Report,
    /// The request's trace and the edge's span in it.
    pub trace: crate::trace::TraceContext,
    /// What the behaviour's CORS policy says about this request, for the finishing step.
    pub cors: Option<crate::config::cors::CorsResult>,
    /// How long the phases `Server-Timing` names took.
    pub timings: Timings,
    /// The share of ordinary requests whose log line is written (`[edge]
    /// access_log_sample_percent`; 100 until the config says otherwise).
    pub log_sample_percent: u8,
    /// This request's draw for that, 0 to 99, from its entropy.
    pub log_draw: u8,
}

/// Phase durations for `Server-Timing` and the log: `None` for a phase that did not run.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timings {
    pub identity: Option<std::time::Duration>,
    pub cache: Option<std::time::Duration>,
    pub origin: Option<std::time::Duration>,
}

/// The time from `start` to the platform's clock now (zero if the clock went back).
pub(crate) fn since<P: Platform>(platform: &P, start: SystemTime) -> std::time::Duration {
    platform.now().duration_since(start).unwrap_or_default()
}

impl<'e> Exchange<'e> {
    /// The exchange for a request as it arrives (the request id is chosen here, first, so that
    /// every answer carries it).
    pub fn begin<B>(req: &Request<B>, entropy: [u8; 16], started: Option<SystemTime>) -> Self {
        let request_id = crate::request_id::choose(req.headers().get(crate::request_id::HEADER), entropy);
        let mut log = AccessLog::begin(&request_id, req);
        let trace = crate::trace::TraceContext::begin(req.headers(), entropy);
        log.trace_id = trace.trace_id_hex();
        Exchange {
            request_id,
            log,
            started,
            route: None,
            set_cookies: Vec::new(),
            cache: None,
            background: None,
            ratelimit: crate::ratelimit::Report::default(),
            trace,
            cors: None,
            timings: Timings::default(),
            log_sample_percent: 100,
            log_draw: (u16::from_le_bytes([entropy[14], entropy[15]]) % 100) as u8,
        }
    }
}

/// One request on its way through the phases.
pub(crate) struct Ctx<'e, P: Platform> {
    pub edge: &'e Edge,
    pub platform: &'e P,
    pub req: Request<Bytes>,
    /// The time the request arrived; phases use this one reading.
    pub now: SystemTime,
    pub entropy: [u8; 16],
    pub ex: Exchange<'e>,
    /// The normalised path, once [`routing::normalise`] has run.
    pub path: Option<NormalPath>,
    /// Who the edge says is calling, once [`identity::check`] has run.
    pub identity: crate::auth::Identity,
    /// What the cache lookup left for the fill, on cached behaviours.
    pub cache: Option<caching::Pending<'e>>,
    /// The client's address and country, once a phase asked ([`ratelimit::client`]).
    pub client: Option<crate::ratelimit::client::Client>,
}

impl<'e, P: Platform> Ctx<'e, P> {
    /// The normalised path; a phase that asks before normalisation is a bug, answered 500.
    pub fn path(&self) -> Result<&NormalPath, EdgeError> {
        self.path.as_ref().ok_or(EdgeError::Misconfigured)
    }

    /// The matched behaviour; asked before routing, a bug answered 500.
    pub fn route(&self) -> Result<Route<'e>, EdgeError> {
        self.ex.route.ok_or(EdgeError::Misconfigured)
    }

    /// What identity left for the answer whatever its outcome: a renewed session's cookie, and
    /// notes for the log line.
    pub fn absorb(&mut self, issued: crate::auth::Issued) {
        self.ex.set_cookies.extend(issued.cookies);
        if !issued.notes.is_empty() {
            self.ex.log.auth_note = Some(issued.notes.join("; "));
        }
    }

    /// The identity module's view of the request and the platform.
    pub fn authenticator<'a>(
        &'a self,
        out: &'a crate::platform::Out<'a, P>,
    ) -> crate::auth::Authenticator<'a, crate::platform::Out<'a, P>, crate::platform::Out<'a, P>> {
        let edge = self.edge;
        crate::auth::Authenticator {
            verifier: out,
            oidc: edge.oidc.as_ref(),
            entropy: self.entropy,
            providers: &edge.providers,
            api_key: edge.config.auth.api_key.as_ref(),
            origins: &edge.origins,
            state: &edge.auth_state,
            up: out,
            now: self.now,
            request_id: &self.ex.request_id,
            method: self.req.method(),
            issued: Default::default(),
        }
    }
}
