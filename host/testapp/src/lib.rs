//! A test component for the Spin host (`host/`): each route exercises one thing the host
//! provides, and answers with what the guest saw, so the host's tests can assert on it.
//!
//! - `GET /echo/...`: the URI, the `spin-*` headers and the body length as JSON
//! - `GET /kv/KEY`, `PUT /kv/KEY`, `DELETE /kv/KEY`, `GET /kv-keys`, `GET /kv-open/LABEL`
//! - `GET /var/NAME`: a Spin variable; `GET /env/NAME`: an environment variable
//! - `POST /redis/incr/KEY`, `POST /redis/execute` (JSON `["CMD", "arg", 1, ...]`), `GET /redis/get/KEY`
//! - `GET /fetch?url=URL`: an outbound request; answers its status and body or the error code
//! - `GET /trap`: panics; `GET /oom`: allocates until memory runs out
//! - `GET /instance`: a per-instance counter (to observe instance reuse)
//!
//! With the Spin variable `pass_origin` set, the component is instead a bare pass-through:
//! every request goes to that origin as it came (method, path, headers, body) and the answer
//! comes back as it is. No policy at all: the floor the edge's own added latency is measured
//! against (scripts/bench-host.py).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, IntoResponse, Request};
use spin_sdk::http_service;
use spin_sdk::{key_value, redis, variables};

static SERVED: AtomicU64 = AtomicU64::new(0);
static PASS_ORIGIN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The pass-through origin, read once per instance.
async fn pass_origin() -> Option<&'static str> {
    if PASS_ORIGIN.get().is_none() {
        let _ = PASS_ORIGIN.set(variables::get("pass_origin").await.ok().filter(|v| !v.is_empty()));
    }
    PASS_ORIGIN.get().and_then(|o| o.as_deref())
}

fn reply(status: u16, body: impl Into<Bytes>) -> http::Response<FullBody<Bytes>> {
    let mut r = http::Response::new(FullBody::new(body.into()));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// The Redis to use: the component's `redis_address` variable.
async fn redis_address() -> String {
    variables::get("redis_address").await.unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = req.into_parts();
    if let Some(origin) = pass_origin().await {
        return pass(origin, parts, body.bytes().await.unwrap_or_default()).await;
    }
    // Route on what Spin says is below the matched route (as Spin apps do), or on the whole path
    // for an exact route.
    let path = match parts.headers.get("spin-path-info").and_then(|v| v.to_str().ok()) {
        Some(info) if !info.is_empty() => info.to_owned(),
        _ => parts.uri.path().to_owned(),
    };
    let segs: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    match (parts.method.as_str(), segs.as_slice()) {
        (_, ["echo", ..]) => {
            let len = match body.bytes().await {
                Ok(b) => b.len().to_string(),
                Err(e) => format!("\"error: {e}\""),
            };
            let spin: serde_json::Map<String, serde_json::Value> = parts
                .headers
                .iter()
                .filter(|(k, _)| k.as_str().starts_with("spin-"))
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_str().unwrap_or("").to_owned())))
                .collect();
            let out = serde_json::json!({ "uri": parts.uri.to_string(), "spin": spin, "body_len": len });
            reply(200, out.to_string())
        }
        ("GET", ["instance"]) => reply(200, served.to_string()),
        ("GET", ["kv-open", label]) => match key_value::Store::open(label).await {
            Ok(_) => reply(200, "opened"),
            Err(e) => reply(500, format!("{e:?}")),
        },
        ("GET", ["kv-keys"]) => match key_value::Store::open_default().await {
            Ok(s) => match s.get_keys().await.collect().await {
                Ok(keys) => reply(200, keys.join(",")),
                Err(e) => reply(500, format!("{e:?}")),
            },
            Err(e) => reply(500, format!("{e:?}")),
        },
        (m, ["kv", key]) => {
            let store = match key_value::Store::open_default().await {
                Ok(s) => s,
                Err(e) => return reply(500, format!("{e:?}")),
            };
            let out = match m {
                "GET" => store.get(key).await.map(|v| v.map_or_else(|| reply(404, "no such key"), |v| reply(200, v))),
                "PUT" => {
                    let value = body.bytes().await.unwrap_or_default();
                    store.set(key, &value).await.map(|()| reply(200, "stored"))
                }
                "DELETE" => store.delete(key).await.map(|()| reply(200, "deleted")),
                _ => Ok(reply(405, "method")),
            };
            out.unwrap_or_else(|e| reply(500, format!("{e:?}")))
        }
        ("GET", ["var", name]) => match variables::get(name).await {
            Ok(v) => reply(200, v),
            Err(e) => reply(404, format!("{e:?}")),
        },
        ("GET", ["env", name]) => std::env::var(name).map_or_else(|_| reply(404, "unset"), |v| reply(200, v)),
        (_, ["redis", op, rest @ ..]) => {
            let conn = match redis::Connection::open(redis_address().await).await {
                Ok(c) => c,
                Err(e) => return reply(502, format!("{e:?}")),
            };
            let key = rest.first().copied().unwrap_or("");
            let out = match *op {
                "incr" => conn.incr(key).await.map(|n| n.to_string()),
                "get" => conn.get(key).await.map(|v| v.map_or_else(|| "(nil)".to_owned(), |v| String::from_utf8_lossy(&v).into_owned())),
                "execute" => {
                    let raw = body.bytes().await.unwrap_or_default();
                    let args: Vec<serde_json::Value> = serde_json::from_slice(&raw).unwrap_or_default();
                    let cmd = args.first().and_then(|v| v.as_str()).unwrap_or("PING").to_owned();
                    let params: Vec<redis::RedisParameter> = args
                        .get(1..)
                        .unwrap_or_default()
                        .iter()
                        .map(|a| match a {
                            serde_json::Value::Number(n) => redis::RedisParameter::Int64(n.as_i64().unwrap_or(0)),
                            other => redis::RedisParameter::Binary(other.as_str().unwrap_or("").as_bytes().to_vec()),
                        })
                        .collect();
                    conn.execute(cmd, params).await.map(|rs| {
                        let v: Vec<serde_json::Value> = rs
                            .into_iter()
                            .map(|r| match r {
                                redis::RedisResult::Nil => serde_json::Value::Null,
                                redis::RedisResult::Status(s) => serde_json::json!({ "status": s }),
                                redis::RedisResult::Int64(i) => serde_json::json!(i),
                                redis::RedisResult::Binary(b) => serde_json::json!(String::from_utf8_lossy(&b)),
                            })
                            .collect();
                        serde_json::Value::Array(v).to_string()
                    })
                }
                _ => return reply(404, "unknown op"),
            };
            out.map_or_else(|e| reply(502, format!("{e:?}")), |s| reply(200, s))
        }
        ("GET", ["fetch"]) => {
            let url = parts.uri.query().and_then(|q| q.strip_prefix("url=")).unwrap_or("");
            let Ok(req) = http::Request::get(url).body(Bytes::new()) else {
                return reply(400, "bad url");
            };
            match verge_wasi::send(req, Some(std::time::Duration::from_secs(5))).await {
                Ok(resp) => reply(200, format!("{} {}", resp.status().as_u16(), String::from_utf8_lossy(resp.body()))),
                Err(e) => reply(502, format!("{e:?}")),
            }
        }
        ("GET", ["trap"]) => panic!("the test asked for a trap"),
        ("GET", ["oom"]) => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 * 1024 * 1024]);
                if hoard.len() > 1 << 20 {
                    break reply(200, "never");
                }
            }
        }
        _ => reply(404, "no such test route"),
    }
}

/// Forwards the request to `origin` unchanged and relays the answer.
async fn pass(origin: &str, parts: http::request::Parts, body: Bytes) -> http::Response<FullBody<Bytes>> {
    let target = format!("{origin}{}", parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    let mut req = http::Request::new(body);
    *req.method_mut() = parts.method;
    *req.headers_mut() = parts.headers;
    req.headers_mut().remove(http::header::HOST);
    let Ok(uri) = target.parse() else { return reply(400, "bad target") };
    *req.uri_mut() = uri;
    match verge_wasi::send(req, Some(std::time::Duration::from_secs(10))).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            http::Response::from_parts(parts, FullBody::new(body))
        }
        Err(e) => reply(502, format!("{e:?}")),
    }
}
