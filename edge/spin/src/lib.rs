//! The Verge edge as a Spin component (`wasi:http/handler@0.3.0`, built for `wasm32-wasip2`).
//!
//! A thin adapter: it reads the body, implements the core's [`Platform`] with the wall clock,
//! 16 random bytes per request and `wasi:http` outbound requests, and prints the access log line
//! to stdout.
//! Environment variables come from Spin's `environment` (or `wasmtime serve --env`); this
//! runtime has no separate secret store, so `{ secret = "NAME" }` reads the environment too.

use std::sync::OnceLock;
use std::time::SystemTime;

use bytes::Bytes;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, IntoResponse, Request};
use spin_sdk::http_service;
use spin_sdk::wasip3::http::types::ErrorCode;
use verge_edge::config::Reference;
use verge_edge::{BootError, Edge, OriginTimeout, Platform, UpstreamError};

const CONFIG: &str = include_str!(env!("VERGE_EDGE_CONFIG_PATH"));

/// Parsed once per instance; a reused instance keeps it.
static EDGE: OnceLock<Result<Edge, BootError>> = OnceLock::new();

/// Parses the config and reads the settings it refers to (Spin variables or environment).
async fn boot() -> Result<Edge, BootError> {
    let config = verge_edge::EdgeConfig::parse("edge.toml", CONFIG)?;
    let values = verge_wasi::settings(config.references()).await;
    Ok(Edge::new(config, &|r: &Reference| values.get(r.name()).cloned())?)
}

/// What a request may use of the component's host. Responses are read whole:
/// `verge_wasi::send` reads the body inside the call (see there why). Signatures are checked in
/// Rust (the default).
struct Spin;

impl Platform for Spin {
    type Body = Bytes;

    fn now(&self) -> SystemTime {
        #[allow(clippy::disallowed_methods)] // the adapter owns the clock
        SystemTime::now()
    }

    fn entropy(&self) -> [u8; 16] {
        verge_wasi::random16()
    }

    async fn send(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, UpstreamError> {
        let timeout = req.extensions().get::<OriginTimeout>().map(|t| t.0);
        verge_wasi::send(req, timeout).await.map_err(classify)
    }

    async fn forward(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, UpstreamError> {
        self.send(req).await
    }

    async fn read(&self, body: Bytes) -> Result<Bytes, UpstreamError> {
        Ok(body)
    }
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
async fn handle(req: Request) -> impl IntoResponse {
    let (parts, body) = req.into_parts();
    // The edge refuses bodies over its limit anyway; reading first keeps the adapter simple.
    let body = body.bytes().await.unwrap_or_default();
    let req = http::Request::from_parts(parts, body);
    if EDGE.get().is_none() {
        let booted = boot().await;
        let _ = EDGE.set(booted);
    }
    let mut handled = match EDGE.get().expect("set above") {
        Ok(edge) => edge.serve(req, &Spin).await,
        Err(err) => verge_edge::boot_failure(err, &req, verge_wasi::random16()),
    };
    // A stale-while-revalidate refresh runs after the answer, as a task that may outlive it.
    if let Some(work) = handled.background.take() {
        spin_sdk::wasip3::spawn(work);
    }
    println!("{}", handled.log.to_json());
    let (parts, body) = handled.response.into_parts();
    http::Response::from_parts(parts, FullBody::new(body.into_bytes()))
}
