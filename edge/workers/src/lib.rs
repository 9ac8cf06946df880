//! The Verge edge on Cloudflare Workers: a thin adapter over `verge-edge`.
//!
//! It translates `worker::Request`/`Response` to and from `http` types, gives the core
//! `Date.now()` as its clock, `crypto.getRandomValues` as entropy, `fetch` as its [`Upstream`]
//! and `crypto.subtle` for JWT signatures, and writes the access log line with `console.log`. `{ env = "NAME" }`
//! references read wrangler `[vars]`; `{ secret = "NAME" }` reads `wrangler secret` values.

mod webcrypto;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::{select, Either};
use verge_edge::config::Reference;
use verge_edge::{BootError, Edge, OriginTimeout, Upstream, UpstreamError};
use worker::{
    console_log, event, AbortController, Context, Delay, Env, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response,
};

const CONFIG: &str = include_str!(env!("VERGE_EDGE_CONFIG_PATH"));

/// Parsed once per isolate.
static EDGE: OnceLock<Result<Edge, BootError>> = OnceLock::new();

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(worker::Date::now().as_millis())
}

fn entropy() -> [u8; 16] {
    let mut b = [0u8; 16];
    // crypto.getRandomValues cannot fail for 16 bytes; zeros would still give a valid id.
    let _ = getrandom::getrandom(&mut b);
    b
}

struct WorkersUpstream;

impl Upstream for WorkersUpstream {
    async fn send(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, UpstreamError> {
        let timeout = req.extensions().get::<OriginTimeout>().map_or(Duration::from_secs(30), |t| t.0);
        let (parts, body) = req.into_parts();
        let headers = Headers::new();
        for (k, v) in &parts.headers {
            let v = v.to_str().map_err(|_| UpstreamError::Other(format!("header {k} is not ASCII")))?;
            headers.append(k.as_str(), v).map_err(|e| UpstreamError::Other(e.to_string()))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(parts.method.to_string())).with_headers(headers).with_redirect(RequestRedirect::Manual);
        if !body.is_empty() {
            init.with_body(Some(js_sys_bytes(&body)));
        }
        let request = Request::new_with_init(&parts.uri.to_string(), &init).map_err(|e| UpstreamError::Other(e.to_string()))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(request);
        let sending = Box::pin(fetch.send_with_signal(&signal));
        let mut resp = match select(sending, Delay::from(timeout)).await {
            Either::Left((r, _)) => r.map_err(|e| UpstreamError::Connect(e.to_string()))?,
            Either::Right(_) => {
                controller.abort();
                return Err(UpstreamError::Timeout);
            }
        };
        let mut builder = http::Response::builder().status(resp.status_code());
        for (k, v) in resp.headers() {
            builder = builder.header(k, v);
        }
        let bytes = resp.bytes().await.map_err(|e| UpstreamError::Other(e.to_string()))?;
        builder.body(Bytes::from(bytes)).map_err(|e| UpstreamError::Other(e.to_string()))
    }
}

fn js_sys_bytes(b: &[u8]) -> worker::wasm_bindgen::JsValue {
    worker::js_sys::Uint8Array::from(b).into()
}

async fn to_http(mut req: Request) -> worker::Result<http::Request<Bytes>> {
    let url = req.url()?;
    let mut pq = url.path().to_owned();
    if let Some(q) = url.query() {
        pq.push('?');
        pq.push_str(q);
    }
    let mut builder = http::Request::builder().method(req.method().as_ref()).uri(pq);
    for (k, v) in req.headers() {
        builder = builder.header(k, v);
    }
    let body = match req.method() {
        Method::Get | Method::Head => Bytes::new(),
        _ => Bytes::from(req.bytes().await?),
    };
    builder.body(body).map_err(|e| worker::Error::RustError(e.to_string()))
}

fn from_http(resp: http::Response<Bytes>) -> worker::Result<Response> {
    let (parts, body) = resp.into_parts();
    let headers = Headers::new();
    for (k, v) in &parts.headers {
        if let Ok(v) = v.to_str() {
            headers.append(k.as_str(), v)?;
        }
    }
    let resp = if body.is_empty() { Response::empty()? } else { Response::from_bytes(body.to_vec())? };
    Ok(resp.with_status(parts.status.as_u16()).with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let req = match to_http(req).await {
        Ok(r) => r,
        // A request line workerd accepted but `http` does not (rare): refuse it plainly.
        Err(_) => return Response::error("bad request", 400),
    };
    let lookup = |r: &Reference| -> Option<String> {
        match r {
            Reference::Env(n) => env.var(n).ok().map(|v| v.to_string()),
            Reference::Secret(n) => env.secret(n).ok().map(|v| v.to_string()).or_else(|| env.var(n).ok().map(|v| v.to_string())),
        }
        .filter(|v| !v.is_empty())
    };
    let handled = match EDGE.get_or_init(|| Edge::from_toml("edge.toml", CONFIG, &lookup)) {
        Ok(edge) => edge.handle_with(req, &WorkersUpstream, &now, &webcrypto::WebCrypto, entropy()).await,
        Err(err) => verge_edge::boot_failure(err, &req, entropy()),
    };
    console_log!("{}", handled.log.to_json());
    from_http(handled.response)
}
