//! The edge's only way out: sending one request to an origin. Each runtime implements
//! [`Upstream`] (workerd `fetch`, wasi:http `send`); tests implement it in memory.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};

/// Why an origin request produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Other(String),
}

/// Sends requests to origins. Futures need not be `Send`: Workers' JS-backed types are not.
///
/// Two ways out, because the edge reads some answers and only relays others: [`send`](Self::send)
/// returns the whole body (a JWKS, a token response, a key lookup), [`forward`](Self::forward)
/// returns the body as the runtime holds it, so that an object or an API answer goes to the
/// client as it arrives, without passing through the edge's memory.
#[allow(async_fn_in_trait)]
pub trait Upstream {
    /// A forwarded response's body as this runtime holds it (a workerd `ReadableStream`, a
    /// wasi:http stream on Spin; bytes where the runtime has nothing better).
    type Body;

    /// Sends `req` (absolute URI, body complete) and returns the whole response. Redirects are
    /// not followed. The request carries an [`OriginTimeout`] extension to honour.
    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError>;

    /// Like [`send`](Self::send), but the body is left unread for the client; the timeout covers
    /// the response head.
    async fn forward(&self, req: Request<Bytes>) -> Result<Response<Self::Body>, UpstreamError>;

    /// Reads a forwarded body whole, when the edge must look inside after all (an S3 error).
    async fn read(&self, body: Self::Body) -> Result<Bytes, UpstreamError>;

    /// Reads a forwarded body of unknown length up to `max` bytes (the cache's object limit):
    /// [`Capped::Whole`] when it ends by then; past it, [`Capped::Over`] with a body that still
    /// yields every byte (those read so far, then the rest as it arrives), so a large answer is
    /// relayed, not held. The default reads whole (for runtimes whose bodies are in memory
    /// anyway); the adapters of streaming runtimes override it.
    async fn read_capped(&self, body: Self::Body, max: usize) -> Result<Capped<Self::Body>, UpstreamError> {
        let _ = max;
        self.read(body).await.map(Capped::Whole)
    }
}

/// A body read up to a limit: see [`Upstream::read_capped`].
#[derive(Debug)]
pub enum Capped<B> {
    /// The whole body, at most the limit.
    Whole(Bytes),
    /// Longer than the limit: the body to relay, from its first byte.
    Over(B),
}

/// An [`Upstream`] for runtimes (and tests) whose responses are always read whole: implement
/// `fetch`, and `forward` and `read` follow.
#[allow(async_fn_in_trait)]
pub trait BufferedUpstream {
    /// Sends `req` and returns the whole response, as [`Upstream::send`] describes.
    async fn fetch(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError>;
}

impl<T: BufferedUpstream> Upstream for T {
    type Body = Bytes;

    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.fetch(req).await
    }

    async fn forward(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.fetch(req).await
    }

    async fn read(&self, body: Bytes) -> Result<Bytes, UpstreamError> {
        Ok(body)
    }

    async fn read_capped(&self, body: Bytes, max: usize) -> Result<Capped<Bytes>, UpstreamError> {
        Ok(if body.len() > max { Capped::Over(body) } else { Capped::Whole(body) })
    }
}

/// A response body: made by the edge, or an origin's, relayed untouched.
#[derive(Debug)]
pub enum Body<S> {
    Full(Bytes),
    Origin(S),
}

impl<S> From<Bytes> for Body<S> {
    fn from(b: Bytes) -> Self {
        Body::Full(b)
    }
}

/// Where the runtime's origin bodies are bytes already (tests and `BufferedUpstream`s).
impl Body<Bytes> {
    pub fn into_bytes(self) -> Bytes {
        match self {
            Body::Full(b) | Body::Origin(b) => b,
        }
    }
}

impl AsRef<[u8]> for Body<Bytes> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Body::Full(b) | Body::Origin(b) => b,
        }
    }
}

/// How long to wait for the origin's response head; set on every origin request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginTimeout(pub Duration);

/// How long to wait for the connection, within [`OriginTimeout`]; set on requests to origins
/// (`connect_timeout_ms`). A runtime that cannot tell connecting from waiting (workerd's `fetch`)
/// honours the [`OriginTimeout`] alone; wasi:http has `connect-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectTimeout(pub Duration);

/// Wall-clock time. On Workers this is `Date.now()`, which only moves across I/O.
pub trait Clock {
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}
