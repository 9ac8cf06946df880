//! Outbound HTTP over `wasi:http@0.3`, shared by the edge and origin components: whole bodies
//! ([`send`]) or bodies left in the host to relay to the client ([`forward`]).
//!
//! Why not `spin_sdk::http::send`: it converts the request with `http_into_wasi_request`, which
//! drops the request's transmit-result future at once. Under wasmtime 49 that future also keeps
//! the connection's I/O alive, so a response body that arrives after the response head (any
//! server that writes head and body separately, such as moto or S3 under load) is cut to zero
//! bytes. Measured here: every such response arrived empty. This module keeps that future until
//! the response body has been read, writes the request body from a spawned task, and reads the
//! body stream until the host closes it.

use std::time::Duration;

use bytes::Bytes;
use spin_sdk::wasip3::http::client;
use spin_sdk::wasip3::http::types::{ErrorCode, Fields, Method, Request, RequestOptions, Response, Scheme, Trailers};
use spin_sdk::wasip3::wit_bindgen::{FutureReader, FutureWriter, StreamReader, StreamResult};
use spin_sdk::wasip3::{wit_future, wit_stream};

/// Sends `req` (absolute URI) and returns the whole response.
///
/// `timeout` bounds connecting, the first byte and the gaps between bytes.
///
/// # Errors
/// The host's [`ErrorCode`] (connection refused, timeouts, DNS, ...).
pub async fn send(req: http::Request<Bytes>, timeout: Option<Duration>) -> Result<http::Response<Bytes>, ErrorCode> {
    send_with(req, Timeouts { connect: timeout, response: timeout }).await
}

/// wasi:http's request options: `connect` bounds connecting (`connect-timeout`), `response` the
/// first byte and the gaps between bytes. `None` leaves the host's default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub response: Option<Duration>,
}

/// [`send`] with separate connect and response timeouts.
///
/// # Errors
/// The host's [`ErrorCode`] (connection refused, timeouts, DNS, ...).
pub async fn send_with(req: http::Request<Bytes>, timeouts: Timeouts) -> Result<http::Response<Bytes>, ErrorCode> {
    let (parts, body) = forward_with(req, timeouts).await?.into_parts();
    Ok(http::Response::from_parts(parts, body.read().await?))
}

/// Sends `req` like [`send`], but leaves the response body in the host: an [`IncomingBody`] to
/// relay to the client as it arrives ([`IncomingBody::relay`]) or read whole.
///
/// # Errors
/// As [`send`], for the response head.
pub async fn forward(req: http::Request<Bytes>, timeout: Option<Duration>) -> Result<http::Response<IncomingBody>, ErrorCode> {
    forward_with(req, Timeouts { connect: timeout, response: timeout }).await
}

/// [`forward`] with separate connect and response timeouts.
///
/// # Errors
/// As [`send`], for the response head.
pub async fn forward_with(req: http::Request<Bytes>, timeouts: Timeouts) -> Result<http::Response<IncomingBody>, ErrorCode> {
    let (parts, body) = req.into_parts();
    let mut entries: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .filter(|(k, _)| *k != http::header::HOST && *k != http::header::CONTENT_LENGTH)
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    // The body is complete, so say its length: without it the host sends it chunked, which some
    // servers (and AWS services for some operations) do not take.
    if !body.is_empty() || matches!(parts.method, http::Method::POST | http::Method::PUT | http::Method::PATCH) {
        entries.push(("content-length".to_owned(), body.len().to_string().into_bytes()));
    }
    let headers = Fields::from_list(&entries).map_err(|e| ErrorCode::InternalError(Some(format!("headers: {e:?}"))))?;

    let ns = |t: Duration| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
    let options = (timeouts.connect.is_some() || timeouts.response.is_some()).then(|| {
        let o = RequestOptions::new();
        // A host that cannot honour a timeout refuses it; the request still goes out.
        if let Some(t) = timeouts.connect {
            let _ = o.set_connect_timeout(Some(ns(t)));
        }
        if let Some(t) = timeouts.response {
            let _ = o.set_first_byte_timeout(Some(ns(t)));
            let _ = o.set_between_bytes_timeout(Some(ns(t)));
        }
        o
    });

    let (mut body_tx, body_rx) = wit_stream::new::<u8>();
    let (trailers_tx, trailers_rx) = wit_future::new(|| Ok(None));
    let (wreq, transmit) = Request::new(headers, Some(body_rx), trailers_rx, options);
    let invalid = |what: &str| ErrorCode::InternalError(Some(format!("invalid {what}")));
    wreq.set_method(&method(&parts.method)).map_err(|()| invalid("method"))?;
    let scheme = match parts.uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        Some(other) => Scheme::Other(other.to_owned()),
        None => return Err(invalid("URI: no scheme")),
    };
    wreq.set_scheme(Some(&scheme)).map_err(|()| invalid("scheme"))?;
    wreq.set_authority(parts.uri.authority().map(|a| a.as_str())).map_err(|()| invalid("authority"))?;
    wreq.set_path_with_query(parts.uri.path_and_query().map(|p| p.as_str())).map_err(|()| invalid("path"))?;

    spin_sdk::wasip3::spawn(async move {
        if !body.is_empty() {
            body_tx.write_all(body.to_vec()).await;
        }
        drop(body_tx);
        let _ = trailers_tx.write(Ok(None)).await;
    });

    let resp = client::send(wreq).await?;
    let mut builder = http::Response::builder().status(resp.get_status_code());
    for (k, v) in resp.get_headers().copy_all() {
        builder = builder.header(k, v);
    }
    let (done, done_rx) = wit_future::new(|| Ok(()));
    let (stream, trailers) = Response::consume_body(resp, done_rx);
    let body = IncomingBody { stream, trailers, transmit, done };
    builder.body(body).map_err(|e| ErrorCode::InternalError(Some(e.to_string())))
}

/// A response body still in the host, with what keeps its connection going: the request's
/// transmit future (dropping it early loses late body bytes, see the module docs) and the
/// body's completion signal. Relayed, its bytes go from host to host and never enter the
/// component's memory; read, it is read to its end.
pub struct IncomingBody {
    stream: StreamReader<u8>,
    trailers: FutureReader<Result<Option<Trailers>, ErrorCode>>,
    transmit: FutureReader<Result<(), ErrorCode>>,
    done: FutureWriter<Result<(), ErrorCode>>,
}

impl std::fmt::Debug for IncomingBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IncomingBody")
    }
}

impl IncomingBody {
    /// Reads the body to its end.
    ///
    /// # Errors
    /// The host's [`ErrorCode`] when the body fails mid-way.
    pub async fn read(self) -> Result<Bytes, ErrorCode> {
        match self.read_capped(usize::MAX).await? {
            Capped::Whole(b) => Ok(b),
            // No body is longer than usize::MAX bytes.
            Capped::Over(_) => Err(ErrorCode::InternalError(Some("a body longer than memory".into()))),
        }
    }

    /// Reads the body up to `max` bytes: the bytes when it ends by then ([`Capped::Whole`]);
    /// past it, a body that still yields every byte ([`Capped::Over`]): those read so far, then
    /// the rest, copied through this component by a task as the host takes them, so memory holds
    /// at most about `max` plus one chunk whatever the origin sends.
    ///
    /// # Errors
    /// The host's [`ErrorCode`] when the body fails mid-way.
    pub async fn read_capped(self, max: usize) -> Result<Capped, ErrorCode> {
        let IncomingBody { mut stream, trailers, transmit, done } = self;
        let mut body = Vec::new();
        loop {
            let (result, chunk) = stream.read(Vec::with_capacity(16 * 1024)).await;
            body.extend_from_slice(&chunk);
            if body.len() > max {
                let (mut tx, rx) = wit_stream::new::<u8>();
                spin_sdk::wasip3::spawn(async move {
                    // Stops when the client went away (a write returns what it did not take).
                    if !tx.write_all(body).await.is_empty() {
                        return;
                    }
                    loop {
                        let (result, chunk) = stream.read(Vec::with_capacity(16 * 1024)).await;
                        if !chunk.is_empty() && !tx.write_all(chunk).await.is_empty() {
                            return;
                        }
                        if !matches!(result, StreamResult::Complete(_)) {
                            return;
                        }
                    }
                });
                return Ok(Capped::Over(IncomingBody { stream: rx, trailers, transmit, done }));
            }
            match result {
                StreamResult::Complete(_) => {}
                StreamResult::Dropped | StreamResult::Cancelled => break,
            }
        }
        trailers.await?;
        drop(done);
        drop(transmit);
        Ok(Capped::Whole(Bytes::from(body)))
    }

    /// The client's response: `head`'s status and headers with this body as its contents,
    /// handed to the host as the stream it is. A task keeps the upstream connection's futures
    /// until the host has sent the whole body on (or the client went away).
    ///
    /// # Errors
    /// A header the host refuses.
    pub fn relay(self, head: &http::response::Parts) -> Result<Response, ErrorCode> {
        let IncomingBody { stream, trailers, transmit, done } = self;
        let headers = fields(&head.headers)?;
        let (resp, sent) = Response::new(headers, Some(stream), trailers);
        resp.set_status_code(head.status.as_u16()).map_err(|()| ErrorCode::InternalError(Some("invalid status".into())))?;
        spin_sdk::wasip3::spawn(async move {
            let outcome = sent.await;
            let _ = done.write(outcome).await;
            drop(transmit);
        });
        Ok(resp)
    }
}

/// A body read up to a limit: see [`IncomingBody::read_capped`].
#[derive(Debug)]
pub enum Capped {
    Whole(Bytes),
    Over(IncomingBody),
}

/// A header map as wasi:http fields.
///
/// # Errors
/// A name or value the host refuses.
pub fn fields(headers: &http::HeaderMap) -> Result<Fields, ErrorCode> {
    let entries: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec())).collect();
    Fields::from_list(&entries).map_err(|e| ErrorCode::InternalError(Some(format!("headers: {e:?}"))))
}

fn method(m: &http::Method) -> Method {
    match *m {
        http::Method::GET => Method::Get,
        http::Method::HEAD => Method::Head,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::DELETE => Method::Delete,
        http::Method::PATCH => Method::Patch,
        http::Method::OPTIONS => Method::Options,
        http::Method::CONNECT => Method::Connect,
        http::Method::TRACE => Method::Trace,
        ref other => Method::Other(other.as_str().to_owned()),
    }
}

/// Why a request body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit: said by `Content-Length` (nothing was read) or found while reading
    /// (reading stopped at the limit).
    TooLarge { limit: usize },
    /// The body failed mid-way (the client went away, the host cut it off).
    Read(String),
}

/// Reads a request body of at most `limit` bytes: a `Content-Length` over the limit is refused
/// before any byte is read, and a body without one (chunked) is read only up to the limit, so
/// memory stays bounded whatever a client sends.
///
/// # Errors
/// [`BodyError::TooLarge`] past the limit, [`BodyError::Read`] when the body fails.
pub async fn read_body<B>(headers: &http::HeaderMap, body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// 16 bytes from `wasi:random`.
pub fn random16() -> [u8; 16] {
    let b = spin_sdk::wasip3::random::random::get_random_bytes(16);
    let mut out = [0u8; 16];
    out.copy_from_slice(&b[..16]);
    out
}

/// Waits `d` on the monotonic clock.
pub async fn sleep(d: Duration) {
    spin_sdk::wasip3::clocks::monotonic_clock::wait_for(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).await;
}

/// A setting by its environment-variable name: the Spin variable of the same name in lower case
/// (`VERGE_ORIGIN_URL` -> `verge_origin_url`, declared in the component's section of spin.toml),
/// else the environment (Spin's `environment`). Empty values count as unset, so a manifest can
/// declare a setting with `default = ""` and leave the component's own default in force.
pub async fn setting(name: &str) -> Option<String> {
    #[cfg(feature = "spin-variables")]
    if let Ok(v) = spin_sdk::variables::get(name.to_ascii_lowercase()).await {
        if !v.is_empty() {
            return Some(v);
        }
    }
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Reads every named setting once, for a synchronous lookup at startup.
pub async fn settings<'a>(names: impl IntoIterator<Item = &'a str>) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for name in names {
        if let Some(v) = setting(name).await {
            out.insert(name.to_owned(), v);
        }
    }
    out
}
