//! The Verge edge as a Spin component (`wasi:http/handler@0.3.0`, built for `wasm32-wasip2`).
//!
//! A thin adapter: it reads the request body (capped), implements the core's [`Platform`] with
//! the wall clock, 16 random bytes per request, `wasi:http` outbound requests (an origin's or the
//! bucket's response body is relayed to the client as the host's stream, never read into the
//! component, unless the cache keeps it) and (feature `key-value`, on by
//! default) Spin's key-value store as the cache's shared tier, and prints the access log line
//! to stdout.
//! Environment variables come from Spin's `environment` (or `wasmtime serve --env`); this
//! runtime has no separate secret store, so `{ secret = "NAME" }` reads the environment too.

use std::sync::OnceLock;
use std::time::SystemTime;

use bytes::Bytes;
use spin_sdk::http::{FullBody, IntoResponse, Request};
use spin_sdk::http_service;
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use verge_edge::config::Reference;
use verge_edge::{Body, BodyRefused, BootError, ConnectTimeout, Edge, OriginTimeout, Platform, UpstreamError};

const CONFIG: &str = include_str!(env!("VERGE_EDGE_CONFIG_PATH"));
/// What the health route reports (`build.rs` embeds it).
const BUILD: verge_edge::BuildInfo = verge_edge::BuildInfo { commit: env!("VERGE_BUILD_COMMIT"), time: env!("VERGE_BUILD_TIME") };

/// Parsed once per instance; a reused instance keeps it.
static EDGE: OnceLock<Result<Edge, BootError>> = OnceLock::new();

/// Parses the config and reads the settings it refers to (Spin variables or environment).
async fn boot() -> Result<Edge, BootError> {
    let config = verge_edge::EdgeConfig::parse("edge.toml", CONFIG)?;
    let values = verge_wasi::settings(config.references()).await;
    Ok(Edge::new(config, &|r: &Reference| values.get(r.name()).cloned())?.with_build(BUILD))
}

/// What a request may use of the component's host. A forwarded response's body stays in the host
/// (`verge_wasi::IncomingBody`) and goes to the client as a stream; what the edge reads itself
/// (`send`, `read`) is read whole. Signatures are checked in Rust (the default). The cache's shared tier is the key-value store labelled `default`.
struct Spin {
    #[cfg(feature = "key-value")]
    kv: Option<kv::Kv>,
    /// Global rate limits' store, when `[rate_limit_store] redis` is set.
    #[cfg(feature = "redis")]
    redis: Option<counters::Redis>,
}

#[cfg(feature = "redis")]
mod counters;

thread_local! {
    /// One platform per instance, opened on its first request and kept: a
    /// `stale-while-revalidate` refresh is spawned with a `'static` borrow of it and may outlive
    /// the request.
    static PLATFORM: std::cell::Cell<Option<&'static Spin>> = const { std::cell::Cell::new(None) };
}

async fn platform() -> &'static Spin {
    if let Some(p) = PLATFORM.with(std::cell::Cell::get) {
        return p;
    }
    #[cfg(feature = "redis")]
    let redis = counters::Redis::new(EDGE.get().and_then(|e| e.as_ref().ok()).and_then(Edge::rate_store_address));
    #[cfg(feature = "key-value")]
    let p = Spin {
        kv: kv::Kv::open().await,
        #[cfg(feature = "redis")]
        redis,
    };
    #[cfg(not(feature = "key-value"))]
    let p = Spin {
        #[cfg(feature = "redis")]
        redis,
    };
    let p: &'static Spin = Box::leak(Box::new(p));
    PLATFORM.with(|c| c.set(Some(p)));
    p
}

/// The shared tier over `spin:key-value@3.0.0`. Spin's default backend is SQLite, shared by
/// every instance of the app on one host (the project's host: one file per process); Fermyon
/// Cloud caps values at 1 MB, so larger entries stay in the instance's memory tier only.
#[cfg(feature = "key-value")]
mod kv {
    use std::time::Duration;

    use bytes::Bytes;
    use spin_sdk::key_value::Store;
    use std::cell::Cell;
    use std::time::SystemTime;

    use verge_edge::cache::expiry::{self, Read};
    use verge_edge::cache::{CacheKey, CacheStore, LocalFuture};

    /// Fermyon Cloud's value limit (1 MB); also the largest SQLite value Spin's default
    /// backend is configured for in the clouds.
    const MAX_VALUE: usize = 1_000_000;

    pub struct Kv(Store);

    impl Kv {
        /// The store labelled `default`; `None` when the component may not use it (the
        /// manifest lacks `key_value_stores = ["default"]`): memory tier only.
        pub async fn open() -> Option<Kv> {
            match Store::open("default").await {
                Ok(s) => Some(Kv(s)),
                Err(e) => {
                    eprintln!("edge cache: no shared tier (key-value store \"default\": {e:?})");
                    None
                }
            }
        }

        fn name(key: &CacheKey) -> String {
            format!("verge-cache/{}", key.hash())
        }

        /// Deletes what is past its time, after a request that stored something, at most once a
        /// minute per instance and across instances (see [`expiry`]); run after the answer.
        pub async fn sweep_if_due(&self) {
            let now = now();
            let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if CHECKED.get().saturating_add(expiry::SWEEP_EVERY.as_secs()) > secs {
                return;
            }
            CHECKED.set(secs);
            let last = self.0.get(expiry::LAST_SWEEP_KEY).await.ok().flatten();
            if !expiry::sweep_due(last.as_deref(), now) {
                return;
            }
            let _ = self.0.set(expiry::LAST_SWEEP_KEY, expiry::sweep_record(now)).await;
            let mut keys = self.0.get_keys().await;
            let mut due = Vec::new();
            while let Some(k) = keys.next().await {
                if let Some(name) = expiry::due(&k, now) {
                    due.push((name.to_owned(), k));
                    if due.len() >= expiry::SWEEP_MAX {
                        break;
                    }
                }
            }
            drop(keys);
            for (name, marker) in due {
                // A later write may have given the value longer (and a marker of its own).
                if let Ok(Some(raw)) = self.0.get(&name).await {
                    if expiry::unframe(Bytes::from(raw), now) == Read::Due {
                        let _ = self.0.delete(&name).await;
                    }
                }
                let _ = self.0.delete(&marker).await;
            }
        }
    }

    thread_local! {
        /// Whether this instance stored something since the last sweep check.
        static FILLED: Cell<bool> = const { Cell::new(false) };
        /// When this instance last checked whether a sweep was due (seconds).
        static CHECKED: Cell<u64> = const { Cell::new(0) };
    }

    /// Whether a request stored something (and so a sweep may be due); resets the flag.
    pub fn take_filled() -> bool {
        FILLED.replace(false)
    }

    fn now() -> SystemTime {
        #[allow(clippy::disallowed_methods)] // the adapter owns the clock
        SystemTime::now()
    }

    impl CacheStore for Kv {
        fn max_value_bytes(&self) -> usize {
            MAX_VALUE
        }

        /// A value past its time (see [`expiry`]) is a miss, and deleted.
        fn get<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, Option<Bytes>> {
            Box::pin(async move {
                let name = Self::name(key);
                let raw = self.0.get(&name).await.ok().flatten()?;
                match expiry::unframe(Bytes::from(raw), now()) {
                    Read::Live(value) => Some(value),
                    Read::Due => {
                        let _ = self.0.delete(&name).await;
                        None
                    }
                }
            })
        }

        /// Spin's store has no expiry of its own: the value is framed with its time and a marker
        /// key written beside it for the sweeps ([`Kv::sweep_if_due`]).
        fn put<'a>(&'a self, key: &'a CacheKey, value: Bytes, keep: Duration) -> LocalFuture<'a, ()> {
            Box::pin(async move {
                let name = Self::name(key);
                let until = now() + keep.min(Duration::from_secs(10 * 365 * 86_400));
                if let Err(e) = self.0.set(&name, expiry::frame(&value, until)).await {
                    eprintln!("edge cache: key-value set failed: {e:?}");
                    return;
                }
                let _ = self.0.set(expiry::marker(&name, until), b"").await;
                FILLED.set(true);
            })
        }

        fn delete<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, ()> {
            Box::pin(async move {
                let _ = self.0.delete(Self::name(key)).await;
            })
        }

        fn reach(&self) -> &'static str {
            "this Spin app's key-value store (on one host: every instance of the process; Spin clouds: the app)"
        }
    }
}

impl Platform for Spin {
    type Body = verge_wasi::IncomingBody;

    fn now(&self) -> SystemTime {
        #[allow(clippy::disallowed_methods)] // the adapter owns the clock
        SystemTime::now()
    }

    fn entropy(&self) -> [u8; 16] {
        verge_wasi::random16()
    }

    async fn send(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, UpstreamError> {
        let timeouts = timeouts(&req);
        verge_wasi::send_with(req, timeouts).await.map_err(classify)
    }

    async fn forward(&self, req: http::Request<Bytes>) -> Result<http::Response<Self::Body>, UpstreamError> {
        let timeouts = timeouts(&req);
        verge_wasi::forward_with(req, timeouts).await.map_err(classify)
    }

    async fn read(&self, body: Self::Body) -> Result<Bytes, UpstreamError> {
        body.read().await.map_err(classify)
    }

    async fn read_capped(&self, body: Self::Body, max: usize) -> Result<verge_edge::Capped<Self::Body>, UpstreamError> {
        Ok(match body.read_capped(max).await.map_err(classify)? {
            verge_wasi::Capped::Whole(b) => verge_edge::Capped::Whole(b),
            verge_wasi::Capped::Over(rest) => verge_edge::Capped::Over(rest),
        })
    }

    async fn sleep(&self, d: std::time::Duration) -> bool {
        verge_wasi::sleep(d).await;
        true
    }

    #[cfg(feature = "key-value")]
    fn cache(&self) -> Option<&dyn verge_edge::cache::CacheStore> {
        self.kv.as_ref().map(|k| k as &dyn verge_edge::cache::CacheStore)
    }

    #[cfg(feature = "redis")]
    fn counters(&self) -> Option<&dyn verge_edge::ratelimit::Counters> {
        self.redis.as_ref().map(|r| r as &dyn verge_edge::ratelimit::Counters)
    }
}

/// The request's timeouts as wasi:http request options: the response's (`timeout_ms`) and the
/// connection's own bound within it (`connect_timeout_ms`).
fn timeouts<B>(req: &http::Request<B>) -> verge_wasi::Timeouts {
    let response = req.extensions().get::<OriginTimeout>().map(|t| t.0);
    let connect = req.extensions().get::<ConnectTimeout>().map(|t| t.0).or(response);
    verge_wasi::Timeouts { connect, response }
}

fn classify(e: ErrorCode) -> UpstreamError {
    match e {
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout | ErrorCode::DnsTimeout => {
            UpstreamError::Timeout
        }
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DnsError(_) => UpstreamError::Connect(format!("{e:?}")),
        other => UpstreamError::Other(format!("{other:?}")),
    }
}

#[http_service]
async fn handle(req: Request) -> Result<Response, ErrorCode> {
    let (parts, body) = req.into_parts();
    // What compression needs of the request, kept before the request moves into the edge.
    let method = parts.method.clone();
    let mut accept = http::HeaderMap::new();
    for v in parts.headers.get_all(http::header::ACCEPT_ENCODING) {
        accept.append(http::header::ACCEPT_ENCODING, v.clone());
    }
    if EDGE.get().is_none() {
        let booted = boot().await;
        let _ = EDGE.set(booted);
    }
    let mut handled = match EDGE.get().expect("set above") {
        Ok(edge) => {
            // At most max_body_bytes are ever held: a larger Content-Length is refused unread,
            // a longer chunked body is cut off at the limit.
            match verge_wasi::read_body(&parts.headers, body, edge.max_body_bytes()).await {
                Ok(body) => {
                    let mut req = http::Request::from_parts(parts, body);
                    // The client's address as Spin gives it (`IP:port`; Spin replaces a client's own value).
                    let peer = verge_edge::ratelimit::Peer::from_header(req.headers(), "spin-client-addr");
                    req.extensions_mut().insert(peer);
                    edge.serve(req, platform().await).await
                }
                Err(e) => {
                    let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
                    let why = match e {
                        verge_wasi::BodyError::TooLarge { limit } => BodyRefused::TooLarge { len: declared.unwrap_or(limit + 1) },
                        verge_wasi::BodyError::Read(why) => BodyRefused::Unreadable(why),
                    };
                    verge_edge::body_refused(edge, &http::Request::from_parts(parts, ()), why, verge_wasi::random16())
                }
            }
        }
        Err(err) => verge_edge::boot_failure(err, &http::Request::from_parts(parts, Bytes::new()), verge_wasi::random16()),
    };
    // A stale-while-revalidate refresh runs after the answer, as a task that may outlive it.
    if let Some(work) = handled.background.take() {
        spin_sdk::wasip3::spawn(work);
    }
    // The key-value store has no expiry: after a request that stored something, a sweep.
    #[cfg(feature = "key-value")]
    if kv::take_filled() {
        if let Some(kv) = platform().await.kv.as_ref() {
            spin_sdk::wasip3::spawn(kv.sweep_if_due());
        }
    }
    let (parts, body) = handled.response.into_parts();
    // The log's size: whole bytes are counted here; a streamed body by its Content-Length.
    if let Body::Full(bytes) = &body {
        handled.log.bytes.get_or_insert(bytes.len() as u64);
    }
    if let Some(line) = handled.log.line() {
        println!("{line}");
    }
    match body {
        Body::Full(bytes) => compressed(http::Response::from_parts(parts, bytes), &method, &accept).map(FullBody::new).into_response(),
        // A body to compress is read (at most compress::MAX_BYTES, by its declared length);
        // anything else streams through from host to host.
        Body::Origin(incoming) if to_compress(&parts, &method, &accept) => {
            let bytes = incoming.read().await?;
            compressed(http::Response::from_parts(parts, bytes), &method, &accept).map(FullBody::new).into_response()
        }
        Body::Origin(incoming) => incoming.relay(&parts),
    }
}

#[cfg(any(feature = "gzip", feature = "brotli"))]
fn compressing() -> bool {
    EDGE.get().and_then(|e| e.as_ref().ok()).is_some_and(|e| e.config().limits.compress)
}

/// Spin does not compress: the edge does, for text and clients that accept it ([edge] compress).
#[cfg(any(feature = "gzip", feature = "brotli"))]
fn compressed(mut response: http::Response<Bytes>, method: &http::Method, accept: &http::HeaderMap) -> http::Response<Bytes> {
    if compressing() {
        verge_edge::compress::compress(method, accept, &mut response);
    }
    response
}

/// Whether a streamed answer is one to compress: its declared length within the bounds.
#[cfg(any(feature = "gzip", feature = "brotli"))]
fn to_compress(parts: &http::response::Parts, method: &http::Method, accept: &http::HeaderMap) -> bool {
    let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    compressing()
        && verge_edge::compress::choose(accept).is_some()
        && declared.is_some_and(|n| verge_edge::compress::eligible(method, parts.status, &parts.headers, n))
}

/// Built without a compressor: answers go as they are.
#[cfg(not(any(feature = "gzip", feature = "brotli")))]
fn compressed(response: http::Response<Bytes>, _: &http::Method, _: &http::HeaderMap) -> http::Response<Bytes> {
    response
}

#[cfg(not(any(feature = "gzip", feature = "brotli")))]
fn to_compress(_: &http::response::Parts, _: &http::Method, _: &http::HeaderMap) -> bool {
    false
}
