//! In-memory pipeline tests of the response policies: headers policies on every kind of answer,
//! CORS at the edge, request limits, tracing and the health route.
use std::cell::RefCell;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::config::Reference;
use crate::tests::block_on;

const CONFIG: &str = r#"
[edge]
max_header_bytes = 2048
max_header_count = 20

[origins.api]
type = "http"
url = "http://origin.test"
service = "execute-api"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[headers_policies.api]
strict_transport_security = "max-age=63072000; includeSubDomains"
content_type_options = "nosniff"
frame_options = "DENY"
referrer_policy = { value = "no-referrer", override = false }
remove = ["Server", "X-Powered-By"]
server_timing = true

[cors_policies.partners]
allow_origins = ["https://app.example.com", "https://*.partners.example.com"]
allow_methods = ["GET", "POST"]
allow_headers = ["content-type"]
expose_headers = ["x-request-id"]
max_age_s = 600

[cache_policies.short]
max_ttl = 60

[health]
path = "/_verge/health"

[[behaviours]]
path = "/api/cached"
origin = "api"
cache = "short"
headers = "api"
cors = "partners"

[[behaviours]]
path = "/api/small"
origin = "api"
methods = ["GET", "HEAD", "POST"]
max_body_bytes = 10

[[behaviours]]
path = "*"
origin = "api"
methods = ["GET", "HEAD", "POST", "OPTIONS"]
headers = "api"
cors = "partners"
"#;

/// An origin that counts calls and answers like a careless server would: its `Server`, a weak
/// frame option, a referrer policy of its own.
#[derive(Default)]
struct Origin {
    seen: RefCell<Vec<Request<Bytes>>>,
}

impl BufferedUpstream for Origin {
    async fn fetch(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.seen.borrow_mut().push(req.clone());
        let status = if req.uri().path() == "/missing" { 404 } else { 200 };
        Ok(Response::builder()
            .status(status)
            .header("server", "origin/1.0")
            .header("x-powered-by", "php")
            .header("x-frame-options", "ALLOWALL")
            .header("referrer-policy", "origin")
            .header("cache-control", "max-age=60")
            .header("content-type", "application/json")
            .header("content-length", "2")
            .body(Bytes::from_static(b"{}"))
            .unwrap())
    }
}

fn edge() -> Edge {
    let lookup = |r: &Reference| match r.name() {
        "KEY_ID" => Some("AKIDTEST".to_owned()),
        "KEY" => Some("qNRhaI6pT5bLyhBtoBgh16dQcW4GraYgosLEtdXc8kY".to_owned()),
        _ => None,
    };
    Edge::from_toml("edge.toml", CONFIG, &lookup).unwrap().with_build(BuildInfo { commit: "abc123", time: "2026-11-30T00:00:00Z" })
}

fn run(e: &Edge, o: &Origin, req: Request<Bytes>) -> Handled<'static> {
    let clock = || UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    block_on(e.handle(req, o, &clock, [9; 16]))
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Bytes> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::new()).unwrap()
}

fn assert_policy(h: &Handled<'_>, what: &str) {
    let hs = h.response.headers();
    assert_eq!(hs["strict-transport-security"], "max-age=63072000; includeSubDomains", "{what}");
    assert_eq!(hs["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(hs["x-frame-options"], "DENY", "{what}: an origin cannot weaken it");
    assert!(hs.get("server").is_none() && hs.get("x-powered-by").is_none(), "{what}: removed");
    assert!(hs["server-timing"].to_str().unwrap().starts_with("edge;dur="), "{what}");
}

#[test]
fn every_answer_carries_the_policy_origin_edge_error_and_cache_hit() {
    let (e, o) = (edge(), Origin::default());
    let ok = run(&e, &o, get("/x", &[]));
    assert_eq!(ok.response.status(), 200);
    assert_policy(&ok, "origin answer");
    assert_eq!(ok.response.headers()["referrer-policy"], "origin", "override = false keeps the origin's");
    let timing = ok.response.headers()["server-timing"].to_str().unwrap();
    assert!(timing.contains("identity;dur=") && timing.contains("origin;dur=") && !timing.contains("cache;"), "{timing}");

    let refused = run(&e, &o, Request::delete("/x").body(Bytes::new()).unwrap());
    assert_eq!(refused.response.status(), 405);
    assert_policy(&refused, "edge error");
    assert_eq!(refused.response.headers()["referrer-policy"], "no-referrer");

    let miss = run(&e, &o, get("/api/cached", &[]));
    let hit = run(&e, &o, get("/api/cached", &[]));
    assert!(miss.response.headers()["cache-status"].to_str().unwrap().contains("fwd=uri-miss"));
    assert!(hit.response.headers()["cache-status"].to_str().unwrap().contains("hit"), "{:?}", hit.response.headers());
    assert_policy(&hit, "cache hit");
    assert!(hit.response.headers()["server-timing"].to_str().unwrap().contains("cache;dur="));
    assert_eq!(o.seen.borrow().len(), 2);
}

#[test]
fn preflights_are_answered_at_the_edge_and_cors_never_leaks_through_the_cache() {
    let (e, o) = (edge(), Origin::default());
    let pre = [("origin", "https://a.partners.example.com"), ("access-control-request-method", "POST")];
    let h = run(&e, &o, Request::options("/x").header(pre[0].0, pre[0].1).header(pre[1].0, pre[1].1).body(Bytes::new()).unwrap());
    assert_eq!(h.response.status(), 204);
    let hs = h.response.headers();
    assert_eq!(hs["access-control-allow-origin"], "https://a.partners.example.com");
    assert_eq!(hs["access-control-allow-methods"], "GET, POST");
    assert_eq!(hs["access-control-max-age"], "600");
    assert_eq!(hs["vary"], "origin");
    assert_eq!(hs["x-content-type-options"], "nosniff");
    let evil = run(
        &e,
        &o,
        Request::options("/x")
            .header("origin", "https://partners.example.com.evil.test")
            .header(pre[1].0, "POST")
            .body(Bytes::new())
            .unwrap(),
    );
    assert_eq!(evil.response.status(), 204);
    assert!(evil.response.headers().keys().all(|k| !k.as_str().starts_with("access-control-")));
    assert!(o.seen.borrow().is_empty(), "no preflight reached the origin");

    let first = run(&e, &o, get("/api/cached", &[("origin", "https://app.example.com")]));
    assert_eq!(first.response.headers()["access-control-allow-origin"], "https://app.example.com");
    let other = run(&e, &o, get("/api/cached", &[("origin", "https://b.partners.example.com")]));
    assert!(other.response.headers()["cache-status"].to_str().unwrap().contains("hit"));
    assert_eq!(other.response.headers()["access-control-allow-origin"], "https://b.partners.example.com");
    assert_eq!(other.response.headers()["access-control-expose-headers"], "x-request-id");
    let stranger = run(&e, &o, get("/api/cached", &[("origin", "https://evil.test")]));
    assert!(stranger.response.headers().get("access-control-allow-origin").is_none());
    assert_eq!(stranger.response.headers().get_all("vary").iter().filter(|v| v.to_str().unwrap().contains("origin")).count(), 1);
}

#[test]
fn oversized_headers_answer_431_and_a_declared_body_413() {
    let (e, o) = (edge(), Origin::default());
    let big = "x".repeat(2100);
    let h = run(&e, &o, get("/x", &[("x-big", &big)]));
    assert_eq!(h.response.status(), 431);
    assert_eq!(h.response.headers()["content-type"], "application/problem+json");
    // What Spin adds (the URL, twice) is not the client's: not counted.
    let url = "x".repeat(1500);
    let spin = [("spin-full-url", url.as_str()), ("spin-path-info", url.as_str()), ("spin-client-addr", "127.0.0.1:1")];
    assert_eq!(run(&e, &o, get("/x", &spin)).response.status(), 200);
    let many: Vec<(String, String)> = (0..21).map(|i| (format!("x-h{i}"), "1".into())).collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(run(&e, &o, get("/x", &refs)).response.status(), 431);
    let declared = Request::post("/api/small").header("content-length", "11").body(Bytes::new()).unwrap();
    assert_eq!(run(&e, &o, declared).response.status(), 413, "refused on the declared length");
    let fits = Request::post("/api/small").header("content-length", "10").body(Bytes::from_static(b"0123456789")).unwrap();
    assert_eq!(run(&e, &o, fits).response.status(), 200);
    assert_eq!(o.seen.borrow().len(), 2, "only the two requests within the limits reached the origin");
}

#[test]
fn the_trace_reaches_the_origin_and_the_log() {
    let (e, o) = (edge(), Origin::default());
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let h = run(&e, &o, get("/x", &[("traceparent", tp), ("tracestate", "congo=t61rcWkgMzE")]));
    assert_eq!(h.log.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(h.log.origin_ms.is_some() && h.log.bytes == Some(2));
    let seen = o.seen.borrow();
    let fwd = seen[0].headers();
    let sent = fwd["traceparent"].to_str().unwrap();
    assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && !sent.contains("00f067aa0ba902b7"), "{sent}");
    assert_eq!(fwd["tracestate"], "congo=t61rcWkgMzE");
    assert!(fwd["x-amzn-trace-id"].to_str().unwrap().starts_with("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;"));
    let line: serde_json::Value = serde_json::from_str(&h.log.to_json()).unwrap();
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[test]
fn the_health_route_answers_without_an_origin() {
    let (e, o) = (edge(), Origin::default());
    let h = run(&e, &o, get("/_verge/health", &[]));
    assert_eq!(h.response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&h.response.into_body().into_bytes()).unwrap();
    assert_eq!(body["build"]["commit"], "abc123");
    assert_eq!(body["config"]["version"].as_str().unwrap().len(), 16);
    assert_eq!(body["config"]["version"], e.config().version.as_str());
    assert_eq!(run(&e, &o, Request::post("/_verge/health").body(Bytes::new()).unwrap()).response.status(), 405);
    assert!(o.seen.borrow().is_empty());
}
