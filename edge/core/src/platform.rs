//! What a request may use of the platform, in one trait: the clock, entropy, the way out to
//! origins, the platform's signature verifier and (with defaults) whatever else a runtime has.
//!
//! An adapter implements [`Platform`] once; a capability it lacks keeps its default (Rust
//! signature checks, no shared cache), so adding a capability to the edge means one more default
//! method here, not one more generic parameter on every entry point. Futures need not be `Send`:
//! Workers' JS-backed types are not.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use verge_edge::{Platform, UpstreamError};
//!
//! /// A test platform: a fixed clock, fixed entropy, an origin that always says 204.
//! struct Fixed;
//!
//! impl Platform for Fixed {
//!     type Body = Bytes;
//!     fn now(&self) -> SystemTime { UNIX_EPOCH + Duration::from_secs(1_800_000_000) }
//!     fn entropy(&self) -> [u8; 16] { [7; 16] }
//!     async fn send(&self, _req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
//!         Ok(Response::builder().status(204).body(Bytes::new()).unwrap())
//!     }
//!     async fn forward(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
//!         self.send(req).await
//!     }
//!     async fn read(&self, body: Bytes) -> Result<Bytes, UpstreamError> { Ok(body) }
//! }
//! ```

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use serde_json::Value;

use crate::auth::jwt::{Alg, Verifier};
use crate::cache::CacheStore;
use crate::ratelimit::Counters;
use crate::upstream::{Capped, Clock, Upstream, UpstreamError};

/// Everything one request may use of the runtime. Required: time, entropy and the way out;
/// the rest has defaults.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// A forwarded response's body as this runtime holds it (a workerd `ReadableStream`; bytes
    /// where the runtime has nothing better). See [`Upstream::Body`].
    type Body;

    /// Wall-clock time. Read once per request (and once more for the log's duration): on
    /// Workers `Date.now()` only moves across I/O anyway.
    fn now(&self) -> SystemTime;

    /// 16 fresh random bytes; asked once per request (request ids, login state).
    fn entropy(&self) -> [u8; 16];

    /// Sends a request and reads the whole response, as [`Upstream::send`] describes.
    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError>;

    /// Sends a request and leaves the body as the runtime holds it, as [`Upstream::forward`].
    async fn forward(&self, req: Request<Bytes>) -> Result<Response<Self::Body>, UpstreamError>;

    /// Reads a forwarded body whole, as [`Upstream::read`].
    async fn read(&self, body: Self::Body) -> Result<Bytes, UpstreamError>;

    /// Reads a forwarded body up to `max` bytes, as [`Upstream::read_capped`]; the default reads
    /// it whole.
    async fn read_capped(&self, body: Self::Body, max: usize) -> Result<Capped<Self::Body>, UpstreamError> {
        let _ = max;
        self.read(body).await.map(Capped::Whole)
    }

    /// Verifies a JWT signature with the platform's crypto (WebCrypto on Workers). `None`, the
    /// default, means "not here": the core verifies in Rust. See [`Verifier`].
    async fn verify(&self, _alg: Alg, _jwk: &Value, _input: &[u8], _signature: &[u8]) -> Option<bool> {
        None
    }

    /// How the access log names [`verify`](Self::verify) when it answered.
    fn verifier_name(&self) -> &'static str {
        "rust"
    }

    /// A cache tier shared beyond this instance (the Workers Cache API, Spin key-value), if the
    /// runtime has one. The in-instance memory tier is the edge's own and always there.
    fn cache(&self) -> Option<&dyn CacheStore> {
        None
    }

    /// Waits `d` on a timer of this request's own (`setTimeout` on Workers, the monotonic clock on
    /// Spin) and says `true`; `false`, the default, means "no timer here", and the caller does
    /// not wait. A request waiting for another (a cache key or a session renewal another request
    /// is fetching) polls on this: neither runtime lets one request's task wake another's.
    async fn sleep(&self, _d: Duration) -> bool {
        false
    }

    /// The store for `scope = "global"` rate limits (a Durable Object per key on Workers,
    /// Redis on Spin), if the runtime has one. Without it a global limit fails open or closed
    /// as its config says; `scope = "instance"` limits need nothing from the platform.
    fn counters(&self) -> Option<&dyn Counters> {
        None
    }
}

/// The platform seen as an [`Upstream`] and a [`Verifier`], for code written against those
/// (identity, the OIDC login).
pub(crate) struct Out<'a, P>(pub &'a P);

impl<P: Platform> Upstream for Out<'_, P> {
    type Body = P::Body;

    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.0.send(req).await
    }

    async fn forward(&self, req: Request<Bytes>) -> Result<Response<P::Body>, UpstreamError> {
        self.0.forward(req).await
    }

    async fn read(&self, body: P::Body) -> Result<Bytes, UpstreamError> {
        self.0.read(body).await
    }

    async fn read_capped(&self, body: P::Body, max: usize) -> Result<Capped<P::Body>, UpstreamError> {
        self.0.read_capped(body, max).await
    }
}

impl<P: Platform> crate::cache::flight::Pause for Out<'_, P> {
    async fn sleep(&self, d: Duration) -> bool {
        self.0.sleep(d).await
    }
}

impl<P: Platform> Verifier for Out<'_, P> {
    async fn verify(&self, alg: Alg, jwk: &Value, input: &[u8], signature: &[u8]) -> Option<bool> {
        self.0.verify(alg, jwk, input, signature).await
    }

    fn name(&self) -> &'static str {
        self.0.verifier_name()
    }
}

/// A platform put together from separate parts, behind [`crate::Edge::handle`] and
/// [`crate::Edge::handle_with`].
pub(crate) struct Parts<'a, U, C, V> {
    pub up: &'a U,
    pub clock: &'a C,
    pub verifier: &'a V,
    pub entropy: [u8; 16],
}

impl<U: Upstream, C: Clock, V: Verifier> Platform for Parts<'_, U, C, V> {
    type Body = U::Body;

    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn entropy(&self) -> [u8; 16] {
        self.entropy
    }

    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.up.send(req).await
    }

    async fn forward(&self, req: Request<Bytes>) -> Result<Response<U::Body>, UpstreamError> {
        self.up.forward(req).await
    }

    async fn read(&self, body: U::Body) -> Result<Bytes, UpstreamError> {
        self.up.read(body).await
    }

    async fn read_capped(&self, body: U::Body, max: usize) -> Result<Capped<U::Body>, UpstreamError> {
        self.up.read_capped(body, max).await
    }

    async fn verify(&self, alg: Alg, jwk: &Value, input: &[u8], signature: &[u8]) -> Option<bool> {
        self.verifier.verify(alg, jwk, input, signature).await
    }

    fn verifier_name(&self) -> &'static str {
        self.verifier.name()
    }
}
