//! The Verge edge on Cloudflare Workers: a thin adapter over `verge-edge`.
//!
//! It translates workerd's `Request`/`Response` to and from `http` types, and implements the
//! core's [`Platform`] with `Date.now()` as the clock, `crypto.getRandomValues` as entropy,
//! `fetch` as the way out, `crypto.subtle` for JWT signatures and the Cache API
//! (`caches.default`) as the cache's shared tier; it writes the access log line with
//! `console.log`.
//! `{ env = "NAME" }` references read wrangler `[vars]`; `{ secret = "NAME" }` reads
//! `wrangler secret` values. workerd gives the worker both as plain strings on `env`, so the
//! distinction is made at build time: `build.rs` fails the build when a name the config reads
//! as a secret is declared in wrangler.toml's `[vars]` (or an `[env.X.vars]`).
//!
//! Every crossing between wasm and JS costs time on a path that runs once per request, so the
//! adapter uses a few JS helpers (`glue.js`) rather than `worker`'s wrappers (which read
//! `request.cf` on every request and read bodies chunk by chunk through a stream reader): header
//! lists cross as one string each way, and a forwarded origin response's body never enters wasm
//! at all. It streams from the origin to the client inside workerd ([`OriginBody`]), which is
//! also what keeps a large S3 object out of the isolate's 128 MB.

mod ratelimit_do;
mod webcrypto;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use js_sys::{Array, Uint8Array};
use verge_edge::auth::jwt::{Alg, Verifier};
use verge_edge::cache::{CacheKey, CacheStore, LocalFuture};
use verge_edge::config::Reference;
use verge_edge::{Body, BodyRefused, BootError, Capped, Edge, OriginTimeout, Platform, UpstreamError};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Env};

const CONFIG: &str = include_str!(env!("VERGE_EDGE_CONFIG_PATH"));
/// What the health route reports (`build.rs` embeds it).
const BUILD: verge_edge::BuildInfo = verge_edge::BuildInfo { commit: env!("VERGE_BUILD_COMMIT"), time: env!("VERGE_BUILD_TIME") };

/// Parsed once per isolate.
static EDGE: OnceLock<Result<Edge, BootError>> = OnceLock::new();

/// 16 bytes from `crypto.getRandomValues`, or `None` if it failed: the request is then refused
/// (500) rather than served with predictable nonces, login states and ids.
fn try_entropy() -> Option<[u8; 16]> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).ok().map(|()| b)
}

std::thread_local! {
    /// The bytes `fetch` drew to check that entropy works, handed to the next [`entropy`] call
    /// instead of drawing again (one crossing to JS fewer per request). Taken at most once, so no
    /// two uses ever share them, whichever request's core takes them.
    static DRAWN: std::cell::Cell<Option<[u8; 16]>> = const { std::cell::Cell::new(None) };
}

/// Entropy for the core, and for answers made before or after a successful [`try_entropy`] in
/// the same request (request ids of early refusals): the refusal itself needs no secret.
fn entropy() -> [u8; 16] {
    DRAWN.with(std::cell::Cell::take).or_else(try_entropy).unwrap_or_default()
}

/// workerd's global scope. It is not an `instanceof WorkerGlobalScope`, so never `dyn_into` it.
pub(crate) fn global() -> web_sys::WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestHead)]
    fn request_head(req: &web_sys::Request) -> String;
    #[wasm_bindgen(js_name = readRequestBody)]
    fn read_request_body(req: &web_sys::Request, limit: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = newResponse, catch)]
    fn new_response(status: u16, header_lines: &str, body: &[u8]) -> Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = relayResponse, catch)]
    fn relay_response(status: u16, header_lines: &str, origin: &web_sys::Response) -> Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = originFetch)]
    fn origin_fetch(url: &str, method: &str, header_lines: &str, body: &[u8], timeout_ms: u32, whole: bool) -> js_sys::Promise;
    fn sleep(ms: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = readBody)]
    fn read_body(resp: &web_sys::Response) -> js_sys::Promise;
    #[wasm_bindgen(js_name = readCapped)]
    fn read_capped(resp: &web_sys::Response, max: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = discardBody)]
    fn discard_body(resp: &web_sys::Response);
    #[wasm_bindgen(js_name = cacheGet)]
    fn cache_get(url: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = cachePut)]
    fn cache_put(url: &str, body: &[u8], keep_secs: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = cacheDelete)]
    fn cache_delete(url: &str) -> js_sys::Promise;
}

/// Header lines as `glue.js` passes them: `name\nvalue\n` per field.
fn parse_lines(lines: &str, into: &mut HeaderMap) {
    let mut parts = lines.split('\n');
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            into.append(k, v);
        }
    }
}

fn to_lines(headers: &HeaderMap) -> String {
    let mut s = String::with_capacity(headers.len() * 48);
    for (k, v) in headers {
        if let Ok(v) = v.to_str() {
            s.push_str(k.as_str());
            s.push('\n');
            s.push_str(v);
            s.push('\n');
        }
    }
    s
}

fn js_error(e: &JsValue) -> String {
    e.as_string().or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message()))).unwrap_or_else(|| format!("{e:?}"))
}

fn upstream_error(e: &JsValue) -> UpstreamError {
    // DOMException is not an instance of Error in every runtime; its `name` says what happened.
    let name = js_sys::Reflect::get(e, &JsValue::from_str("name")).ok().and_then(|n| n.as_string()).unwrap_or_default();
    match name.as_str() {
        "TimeoutError" | "AbortError" => UpstreamError::Timeout,
        "TypeError" => UpstreamError::Connect(js_error(e)),
        _ => UpstreamError::Other(js_error(e)),
    }
}

fn bytes_of(v: &JsValue) -> Bytes {
    Bytes::from(v.unchecked_ref::<Uint8Array>().to_vec())
}

/// A forwarded origin response: its body stays in workerd until the client reads it. Dropped
/// unread (an S3 miss answered by the SPA fallback), its stream is cancelled.
pub struct OriginBody(Option<web_sys::Response>);

impl OriginBody {
    fn take(mut self) -> Option<web_sys::Response> {
        self.0.take()
    }
}

impl Drop for OriginBody {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            discard_body(&r);
        }
    }
}

/// What a request may use of workerd.
struct Workers;

impl Workers {
    async fn call(req: http::Request<Bytes>, whole: bool) -> Result<(http::response::Parts, JsValue), UpstreamError> {
        let timeout = req.extensions().get::<OriginTimeout>().map_or(Duration::from_secs(30), |t| t.0);
        let timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let (parts, body) = req.into_parts();
        let promise = origin_fetch(&parts.uri.to_string(), parts.method.as_str(), &to_lines(&parts.headers), &body, timeout_ms, whole);
        let answer: Array = JsFuture::from(promise).await.map_err(|e| upstream_error(&e))?.unchecked_into();
        let status = answer.get(0).as_f64().and_then(|s| http::StatusCode::from_u16(s as u16).ok());
        let mut out = http::Response::new(());
        *out.status_mut() = status.ok_or_else(|| UpstreamError::Other("the origin's status is not a number".into()))?;
        parse_lines(&answer.get(1).as_string().unwrap_or_default(), out.headers_mut());
        Ok((out.into_parts().0, answer.get(2)))
    }
}

impl Platform for Workers {
    type Body = OriginBody;

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(js_sys::Date::now() as u64)
    }

    fn entropy(&self) -> [u8; 16] {
        entropy()
    }

    async fn send(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, UpstreamError> {
        let (parts, body) = Self::call(req, true).await?;
        Ok(http::Response::from_parts(parts, bytes_of(&body)))
    }

    async fn forward(&self, req: http::Request<Bytes>) -> Result<http::Response<OriginBody>, UpstreamError> {
        let (parts, resp) = Self::call(req, false).await?;
        Ok(http::Response::from_parts(parts, OriginBody(Some(resp.unchecked_into()))))
    }

    async fn read(&self, body: OriginBody) -> Result<Bytes, UpstreamError> {
        let Some(resp) = body.take() else { return Ok(Bytes::new()) };
        JsFuture::from(read_body(&resp)).await.map(|b| bytes_of(&b)).map_err(|e| upstream_error(&e))
    }

    async fn read_capped(&self, body: OriginBody, max: usize) -> Result<Capped<OriginBody>, UpstreamError> {
        let Some(resp) = body.take() else { return Ok(Capped::Whole(Bytes::new())) };
        let read = JsFuture::from(read_capped(&resp, max as f64)).await.map_err(|e| upstream_error(&e))?;
        Ok(match read.dyn_into::<web_sys::Response>() {
            Ok(rest) => Capped::Over(OriginBody(Some(rest))),
            Err(bytes) => Capped::Whole(bytes_of(&bytes)),
        })
    }

    async fn sleep(&self, d: Duration) -> bool {
        JsFuture::from(sleep(d.as_secs_f64() * 1000.0)).await.is_ok()
    }

    async fn verify(&self, alg: Alg, jwk: &serde_json::Value, input: &[u8], signature: &[u8]) -> Option<bool> {
        webcrypto::WebCrypto.verify(alg, jwk, input, signature).await
    }

    fn verifier_name(&self) -> &'static str {
        webcrypto::WebCrypto.name()
    }

    /// Global rate limits: a Durable Object per key ([`ratelimit_do`]), when the Worker has
    /// the `VERGE_RATE_LIMITER` binding.
    fn counters(&self) -> Option<&dyn verge_edge::ratelimit::Counters> {
        ratelimit_do::bound().then_some(&ratelimit_do::DurableObjects as &dyn verge_edge::ratelimit::Counters)
    }

    fn cache(&self) -> Option<&dyn CacheStore> {
        Some(self)
    }
}

/// The shared tier: the Cache API (`caches.default`) of the data centre serving the request.
/// A request makes at most a handful of cache calls (the purge list every few seconds, one or
/// two lookups, a store, a delete), far below the 50 (Free) / 1,000 (Paid) allowed.
impl CacheStore for Workers {
    fn get<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, Option<Bytes>> {
        Box::pin(async move {
            let v = JsFuture::from(cache_get(&key.url())).await.ok()?;
            (!v.is_null() && !v.is_undefined()).then(|| bytes_of(&v))
        })
    }

    fn put<'a>(&'a self, key: &'a CacheKey, value: Bytes, keep: Duration) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            let _ = JsFuture::from(cache_put(&key.url(), &value, keep.as_secs() as f64)).await;
        })
    }

    fn delete<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            let _ = JsFuture::from(cache_delete(&key.url())).await;
        })
    }

    fn reach(&self) -> &'static str {
        "this Cloudflare data centre (the Cache API; it stores nothing on *.workers.dev)"
    }
}

/// `https://host/p?q` -> `/p?q`: workerd hands over the URL already WHATWG-serialised.
fn path_and_query(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..].find('/').map_or("/", |i| &url[after_scheme + i..])
}

/// `with_country`: read `request.cf.country` too (only when an access rule names countries:
/// workerd builds `request.cf` anew on every read, a cost the other requests need not pay).
fn to_http(req: &web_sys::Request, with_country: bool) -> Result<http::Request<Bytes>, JsValue> {
    let head = request_head(req);
    let (method, rest) = head.split_once('\n').ok_or("request head")?;
    let (url, lines) = rest.split_once('\n').ok_or("request head")?;
    let mut out = http::Request::new(Bytes::new());
    *out.method_mut() = http::Method::from_bytes(method.as_bytes()).map_err(|e| JsValue::from_str(&e.to_string()))?;
    *out.uri_mut() = path_and_query(url).parse().map_err(|e: http::uri::InvalidUri| JsValue::from_str(&e.to_string()))?;
    parse_lines(lines, out.headers_mut());
    // The client as Cloudflare says: `CF-Connecting-IP` (set by Cloudflare, never a client's) and
    // `request.cf.country`.
    let country = if with_country {
        let cf = js_sys::Reflect::get(req.as_ref(), &JsValue::from_str("cf")).ok().filter(JsValue::is_object);
        cf.and_then(|cf| js_sys::Reflect::get(&cf, &JsValue::from_str("country")).ok()).and_then(|c| c.as_string())
    } else {
        None
    };
    let peer = verge_edge::ratelimit::Peer::from_header(out.headers(), "cf-connecting-ip").with_country(country);
    out.extensions_mut().insert(peer);
    Ok(out)
}

/// Whether to read a request's body: always, except for a GET or HEAD without `Content-Length`
/// or `Transfer-Encoding` (no body in HTTP/1.1; content in a GET has no meaning, RFC 9110 9.3.1,
/// and CloudFront refuses it), where reading would only cost a round trip through JS.
fn may_have_body(req: &http::Request<Bytes>) -> bool {
    let h = req.headers();
    !matches!(*req.method(), http::Method::GET | http::Method::HEAD)
        || h.contains_key(http::header::CONTENT_LENGTH)
        || h.contains_key(http::header::TRANSFER_ENCODING)
}

/// Writes the access log line, if the request was sampled.
fn log_line(log: &verge_edge::AccessLog) {
    if let Some(line) = log.line() {
        web_sys::console::log_1(&JsValue::from_str(&line));
    }
}

/// Reads the request body into `out`, at most `limit` bytes (see `readRequestBody` in glue.js).
async fn read_into(req: &web_sys::Request, out: &mut http::Request<Bytes>, limit: usize) -> Result<(), BodyRefused> {
    match JsFuture::from(read_request_body(req, limit as f64)).await {
        Ok(buf) => {
            *out.body_mut() = Bytes::from(Uint8Array::new(&buf).to_vec());
            Ok(())
        }
        Err(e) => {
            let name = js_sys::Reflect::get(&e, &JsValue::from_str("name")).ok().and_then(|n| n.as_string());
            if name.as_deref() == Some("TooLarge") {
                let declared = js_sys::Reflect::get(&e, &JsValue::from_str("message")).ok().and_then(|m| m.as_string());
                Err(BodyRefused::TooLarge { len: declared.and_then(|d| d.parse().ok()).unwrap_or(limit + 1) })
            } else {
                Err(BodyRefused::Unreadable(js_error(&e)))
            }
        }
    }
}

fn from_http(resp: http::Response<Body<OriginBody>>) -> Result<web_sys::Response, JsValue> {
    let (parts, body) = resp.into_parts();
    let (status, lines) = (parts.status.as_u16(), to_lines(&parts.headers));
    match body {
        Body::Full(bytes) => new_response(status, &lines, &bytes),
        Body::Origin(origin) => match origin.take() {
            Some(resp) => relay_response(status, &lines, &resp),
            None => new_response(status, &lines, &[]),
        },
    }
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    ratelimit_do::bind(&env);
    let lookup = |r: &Reference| -> Option<String> {
        match r {
            Reference::Env(n) => env.var(n).ok().map(|v| v.to_string()),
            // workerd hands secrets and [vars] over alike (strings on `env`); the build refuses a
            // secret declared in wrangler.toml's [vars] (build.rs), so this is a secret binding.
            Reference::Secret(n) => env.secret(n).ok().map(|v| v.to_string()),
        }
        .filter(|v| !v.is_empty())
    };
    let edge = EDGE.get_or_init(|| Edge::from_toml("edge.toml", CONFIG, &lookup).map(|e| e.with_build(BUILD)));
    let mut head = match to_http(&req, edge.as_ref().is_ok_and(Edge::reads_country)) {
        Ok(r) => r,
        // A request workerd accepted but `http` does not (rare).
        Err(e) => {
            let handled: verge_edge::Handled<OriginBody> = verge_edge::malformed(&js_error(&e), entropy());
            log_line(&handled.log);
            return Ok(from_http(handled.response)?);
        }
    };
    let Some(drawn) = try_entropy() else {
        let (parts, _) = head.into_parts();
        let handled: verge_edge::Handled<OriginBody> = verge_edge::entropy_failure(&http::Request::from_parts(parts, ()), [0; 16]);
        log_line(&handled.log);
        return Ok(from_http(handled.response)?);
    };
    DRAWN.with(|d| d.set(Some(drawn)));
    let mut handled = match edge {
        // The body is read only now, capped at the edge's limit: never whole into wasm memory
        // past max_body_bytes.
        Ok(edge) => match if may_have_body(&head) { read_into(&req, &mut head, edge.max_body_bytes()).await } else { Ok(()) } {
            Ok(()) => edge.serve(head, &Workers).await,
            Err(why) => {
                let (parts, _) = head.into_parts();
                verge_edge::body_refused(edge, &http::Request::from_parts(parts, ()), why, entropy())
            }
        },
        Err(err) => verge_edge::boot_failure(err, &head, entropy()),
    };
    // A stale-while-revalidate refresh runs after the answer, kept alive by waitUntil.
    if let Some(work) = handled.background.take() {
        ctx.wait_until(work);
    }
    log_line(&handled.log);
    Ok(from_http(handled.response)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_round_trip_with_repeated_fields() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=1; Path=/"));
        h.append("set-cookie", HeaderValue::from_static("b=2"));
        h.insert("x-request-id", HeaderValue::from_static("r-1"));
        h.insert("x-empty", HeaderValue::from_static(""));
        let mut back = HeaderMap::new();
        parse_lines(&to_lines(&h), &mut back);
        assert_eq!(back, h);
    }

    #[test]
    fn header_lines_skip_what_http_refuses() {
        let mut h = HeaderMap::new();
        parse_lines("good\nyes\nbad name\nx\ntrailing", &mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["good"], "yes");
    }

    #[test]
    fn path_and_query_from_a_serialised_url() {
        assert_eq!(path_and_query("https://edge.example/a/b?c=d"), "/a/b?c=d");
        assert_eq!(path_and_query("http://127.0.0.1:8787/"), "/");
        assert_eq!(path_and_query("https://edge.example"), "/");
        assert_eq!(path_and_query("https://edge.example/x%2F..?q=a://b/c"), "/x%2F..?q=a://b/c");
    }
}
