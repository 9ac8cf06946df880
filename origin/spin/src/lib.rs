//! The Verge origin as a Spin component (`wasi:http/handler@0.3.0`, `wasm32-wasip2`): a thin
//! adapter giving [`verge_origin::Origin`] the clock, randomness, sleep and outbound HTTP of
//! WASI, and printing one JSON log line per request.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use spin_sdk::http::{FullBody, IntoResponse, Request};
use spin_sdk::http_service;
use verge_origin::{ApiError, ConfigError, Origin, OriginConfig, Platform};

/// For requests that carry no [`verge_origin::Timeout`]: a stalled call fails instead of hanging.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

static ORIGIN: OnceLock<Result<Origin, ConfigError>> = OnceLock::new();

struct Wasi;

impl Platform for Wasi {
    #[allow(clippy::disallowed_methods)] // the adapter owns the clock
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn random(&self) -> [u8; 16] {
        verge_wasi::random16()
    }

    async fn sleep(&self, d: Duration) {
        verge_wasi::sleep(d).await;
    }

    async fn send(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, String> {
        let timeout = req.extensions().get::<verge_origin::Timeout>().map_or(DEFAULT_TIMEOUT, |t| t.0);
        verge_wasi::send(req, Some(timeout)).await.map_err(|e| format!("{e:?}"))
    }
}

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let (parts, body) = req.into_parts();
    // At most MAX_BODY_BYTES are ever held: a larger Content-Length is refused unread, a longer
    // chunked body is cut off at the limit; the signature is checked only on a body read whole.
    let body = match verge_wasi::read_body(&parts.headers, body, verge_origin::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let err = match e {
                verge_wasi::BodyError::TooLarge { limit } => ApiError::TooLarge { limit },
                verge_wasi::BodyError::Read(why) => ApiError::invalid("body", format!("the request body could not be read: {why}")),
            };
            let (resp, log) = Origin::refuse(&http::Request::from_parts(parts, ()), err);
            println!("{}", serde_json::to_string(&log).unwrap_or_default());
            let (parts, body) = resp.into_parts();
            return http::Response::from_parts(parts, FullBody::new(body));
        }
    };
    let req = http::Request::from_parts(parts, body);
    if ORIGIN.get().is_none() {
        let values = verge_wasi::settings(verge_origin::config::VARIABLES).await;
        let _ = ORIGIN.set(OriginConfig::from_env(&|k| values.get(k).cloned()).map(Origin::new));
    }
    let (resp, log) = match ORIGIN.get().expect("set above") {
        Ok(origin) => origin.handle(req, &Wasi).await,
        Err(e) => {
            let resp = ApiError::Internal(String::new()).into_response("");
            let log = verge_origin::AccessLog {
                request_id: String::new(),
                trace_id: verge_origin::trace_id(req.headers()),
                method: req.method().to_string(),
                path: req.uri().path().to_owned(),
                status: 500,
                error: Some(format!("origin misconfigured: {e}")),
            };
            (resp, log)
        }
    };
    println!("{}", serde_json::to_string(&log).unwrap_or_default());
    let (parts, body) = resp.into_parts();
    http::Response::from_parts(parts, FullBody::new(body))
}
