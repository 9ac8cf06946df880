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
#[allow(async_fn_in_trait)]
pub trait Upstream {
    /// Sends `req` (absolute URI, body complete) and returns the whole response. Redirects are
    /// not followed. The request carries an [`OriginTimeout`] extension to honour.
    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError>;
}

/// How long to wait for the origin's response headers; set on every origin request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginTimeout(pub Duration);

/// Wall-clock time. On Workers this is `Date.now()`, which only moves across I/O.
pub trait Clock {
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}
