//! In-memory pipeline tests: a fake clock and a fake origin, no sockets.
use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;

use super::*;
use crate::config::Reference;

const CONFIG: &str = r#"
[edge]
max_body_bytes = 64

[origins.web]
type = "s3"
bucket = "site"
region = "us-east-1"
endpoint = { env = "S3_ENDPOINT" }
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[origins.api]
type = "http"
url = "http://origin.test/prefix"
service = "execute-api"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[[behaviours]]
path = "/api/*"
origin = "api"
methods = ["GET", "HEAD", "POST", "OPTIONS"]

[[behaviours]]
path = "*"
origin = "web"
spa_fallback = true
"#;

/// An origin that records requests and serves a fixed bucket.
#[derive(Default)]
struct FakeOrigin {
    seen: RefCell<Vec<Request<Bytes>>>,
    fail: Option<UpstreamError>,
}

impl BufferedUpstream for FakeOrigin {
    async fn fetch(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.seen.borrow_mut().push(req.clone());
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        let path = req.uri().path().to_owned();
        let resp = |status: u16, body: &str, ct: &str| {
            Response::builder()
                .status(status)
                .header("content-type", ct)
                .header("x-amz-request-id", "abc")
                .body(Bytes::from(body.to_owned()))
                .unwrap()
        };
        Ok(match path.as_str() {
            "/site/index.html" => resp(200, "<html>app</html>", "text/html"),
            "/site/app.js" => resp(200, "console.log(1)", "text/javascript"),
            "/site/broken.js" => resp(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml"),
            p if p.starts_with("/site/") => resp(404, "<Error><Code>NoSuchKey</Code></Error>", "application/xml"),
            p if p.starts_with("/prefix/api/") => resp(200, "{\"ok\":true}", "application/json"),
            _ => resp(500, "", "text/plain"),
        })
    }
}

/// The edge -> origin secret: 32 bytes, base64url (weaker ones are refused at startup).
const SECRET: &str = "qNRhaI6pT5bLyhBtoBgh16dQcW4GraYgosLEtdXc8kY";

fn edge() -> Edge {
    edge_from(CONFIG)
}

fn edge_from(config: &str) -> Edge {
    let lookup = |r: &Reference| match r.name() {
        "S3_ENDPOINT" => Some("http://s3.test".to_owned()),
        "KEY_ID" => Some("AKIDTEST".to_owned()),
        "KEY" => Some(SECRET.to_owned()),
        _ => None,
    };
    Edge::from_toml("edge.toml", config, &lookup).unwrap()
}

fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn run(edge: &Edge, origin: &FakeOrigin, req: Request<Bytes>) -> Handled<'static> {
    block_on(edge.handle(req, origin, &clock, [7; 16]))
}

/// A minimal executor: every future here completes without real I/O.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Pending once, then ready: lets other tasks run meanwhile (a request "at" its origin, or a timer).
pub(crate) struct YieldOnce(pub bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Polls futures in turn until all are ready, on one thread like the runtimes.
pub(crate) fn run_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::{Context, Poll, Waker};
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    while out.iter().any(Option::is_none) {
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                    *o = Some(v);
                }
            }
        }
    }
    out.into_iter().map(Option::unwrap).collect()
}

fn get(uri: &str) -> Request<Bytes> {
    Request::get(uri).body(Bytes::new()).unwrap()
}

#[test]
fn serves_the_page_from_the_private_bucket_signed() {
    let (e, o) = (edge(), FakeOrigin::default());
    let h = run(&e, &o, get("/"));
    assert_eq!(h.response.status(), 200);
    assert_eq!(h.response.body().as_ref(), b"<html>app</html>");
    assert!(h.response.headers().get("x-amz-request-id").is_none(), "S3 headers stay at the edge");
    let seen = o.seen.borrow();
    assert_eq!(seen[0].uri().to_string(), "http://s3.test/site/index.html");
    let auth = seen[0].headers()["authorization"].to_str().unwrap();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/20270115/us-east-1/s3/aws4_request"), "{auth}");
    assert_eq!(seen[0].headers()["x-amz-content-sha256"], verge_signing::sha256_hex(b""));
    assert_eq!(h.log.behaviour.as_deref(), Some("*"));
    assert_eq!(h.log.origin.as_deref(), Some("web"));
}

#[test]
fn deep_links_fall_back_to_the_app_and_missing_assets_are_404() {
    let (e, o) = (edge(), FakeOrigin::default());
    let h = run(&e, &o, get("/stats/2026/11"));
    assert_eq!(h.response.status(), 200);
    assert_eq!(h.response.body().as_ref(), b"<html>app</html>");

    let h = run(&e, &o, get("/missing.js"));
    assert_eq!(h.response.status(), 404);
    assert_eq!(h.response.headers()["content-type"], "application/problem+json");
    assert!(!String::from_utf8_lossy(h.response.body().as_ref()).contains("NoSuchKey"));

    let h = run(&e, &o, get("/broken.js"));
    assert_eq!(h.response.status(), 502, "a signature failure is the origin failing, not a missing object");
}

#[test]
fn api_calls_are_forwarded_signed_with_only_allowed_headers() {
    let (e, o) = (edge(), FakeOrigin::default());
    let req = Request::post("/api/numbers?x=1")
        .header("content-type", "application/json")
        .header("authorization", "Bearer client-token")
        .header("cookie", "a=b")
        .header("x-verge-user", "admin")
        .header("x-request-id", "req-1")
        .body(Bytes::from_static(b"{\"value\":1}"))
        .unwrap();
    let h = run(&e, &o, req);
    assert_eq!(h.response.status(), 200);
    assert_eq!(h.response.headers()["x-request-id"], "req-1");
    let seen = o.seen.borrow();
    let fwd = &seen[0];
    assert_eq!(fwd.uri().to_string(), "http://origin.test/prefix/api/numbers?x=1");
    assert!(fwd.headers().get("cookie").is_none());
    assert!(fwd.headers().get("x-verge-user").is_none());
    assert_eq!(fwd.headers()["x-request-id"], "req-1");
    assert_eq!(fwd.headers()["x-amz-content-sha256"], verge_signing::sha256_hex(b"{\"value\":1}"));
    let auth = fwd.headers()["authorization"].to_str().unwrap();
    assert!(auth.contains("/execute-api/aws4_request"), "the client's Authorization is replaced: {auth}");
    assert!(auth.contains("content-type;host;traceparent;x-amz-content-sha256;x-amz-date;x-request-id"), "{auth}");
    assert!(fwd.headers()["x-amzn-trace-id"].to_str().unwrap().starts_with("Root=1-"));
    // And the origin's verifier accepts exactly this request.
    let creds = verge_signing::Credentials::new("AKIDTEST", SECRET, None);
    let scope = verge_signing::Scope { region: "us-east-1".into(), service: "execute-api".into() };
    verge_signing::verify(
        fwd.method(),
        "origin.test",
        "/prefix/api/numbers?x=1",
        fwd.headers(),
        fwd.body(),
        &|_| Some(creds.clone()),
        &scope,
        clock(),
    )
    .unwrap();
}

#[test]
fn traversal_never_reaches_another_key() {
    let (e, o) = (edge(), FakeOrigin::default());
    for bad in ["/../secret", "/%2e%2e/secret", "/a/..%2fsecret", "/a\\..\\secret", "/%252e%252e/secret", "/a/%5c../x"] {
        let h = run(&e, &o, get(bad));
        assert_eq!(h.response.status(), 400, "{bad}");
    }
    assert!(o.seen.borrow().is_empty(), "no refused path reached the bucket");
    let h = run(&e, &o, get("/assets/%2e%2e/app.js"));
    assert_eq!(h.response.status(), 200);
    assert_eq!(o.seen.borrow()[0].uri().path(), "/site/app.js");
}

#[test]
fn long_urls_wrong_methods_and_big_bodies() {
    let (e, o) = (edge(), FakeOrigin::default());
    let h = run(&e, &o, get(&format!("/{}", "a".repeat(8192))));
    assert_eq!(h.response.status(), StatusCode::URI_TOO_LONG);

    let h = run(&e, &o, Request::delete("/api/numbers").body(Bytes::new()).unwrap());
    assert_eq!(h.response.status(), 405);
    assert_eq!(h.response.headers()["allow"], "GET, HEAD, POST, OPTIONS");

    let h = run(&e, &o, Request::post("/index.html").body(Bytes::new()).unwrap());
    assert_eq!(h.response.status(), 405);
    assert_eq!(h.response.headers()["allow"], "GET, HEAD");

    let h = run(&e, &o, Request::post("/api/numbers").body(Bytes::from(vec![b'1'; 65])).unwrap());
    assert_eq!(h.response.status(), 413);
    assert!(o.seen.borrow().is_empty());
}

#[test]
fn origin_failures_map_to_502_and_504() {
    let e = edge();
    let o = FakeOrigin { fail: Some(UpstreamError::Timeout), ..Default::default() };
    assert_eq!(run(&e, &o, get("/api/stats/daily")).response.status(), 504);
    let o = FakeOrigin { fail: Some(UpstreamError::Connect("refused".into())), ..Default::default() };
    let h = run(&e, &o, get("/api/stats/daily"));
    assert_eq!(h.response.status(), 502);
    assert_eq!(h.response.headers()["content-type"], "application/problem+json");
}

#[test]
fn every_response_has_a_request_id_and_one_log_line() {
    let (e, o) = (edge(), FakeOrigin::default());
    let h = run(&e, &o, Request::get("/x").header("x-request-id", "bad id\"").body(Bytes::new()).unwrap());
    let id = h.response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let line: serde_json::Value = serde_json::from_str(&h.log.to_json()).unwrap();
    assert_eq!(line["request_id"], id.as_str());
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/x");
    assert_eq!(line["status"], 200);
    assert!(line["duration_ms"].is_u64());
}

#[test]
fn access_log_lines_are_sampled_and_failures_always_written() {
    let sampled = |percent: u32, fail: Option<UpstreamError>| {
        let e = edge_from(&CONFIG.replacen("[edge]\n", &format!("[edge]\naccess_log_sample_percent = {percent}\n"), 1));
        let o = FakeOrigin { fail, ..Default::default() };
        (0..1000u16)
            .filter(|i| {
                let mut entropy = [7; 16];
                entropy[14..].copy_from_slice(&i.to_le_bytes());
                let h = block_on(e.handle(get("/api/stats/daily"), &o, &clock, entropy));
                assert_eq!(h.log.line().is_some(), h.log.sampled);
                h.log.sampled
            })
            .count()
    };
    assert_eq!(sampled(100, None), 1000);
    assert_eq!(sampled(25, None), 250);
    assert_eq!(sampled(0, None), 0);
    // A 502 (the origin refused the connection) is written whatever the rate.
    assert_eq!(sampled(0, Some(UpstreamError::Connect("refused".into()))), 1000);
}

#[test]
fn missing_references_are_named_at_startup() {
    let lookup = |r: &Reference| matches!(r.name(), "KEY_ID" | "KEY").then(|| if r.name() == "KEY" { SECRET } else { "id" }.to_owned());
    let err = Edge::from_toml("edge.toml", CONFIG, &lookup).unwrap_err();
    assert_eq!(err.to_string(), "origin web: environment variable S3_ENDPOINT is not set");
    let h: Handled = boot_failure(&err, &get("/"), [1; 16]);
    assert_eq!(h.response.status(), 500);
    assert!(h.log.error.unwrap().contains("S3_ENDPOINT"));
}

#[test]
fn a_request_the_runtime_could_not_hand_over_is_a_400_problem() {
    let h: Handled = malformed("invalid uri character", [2; 16]);
    assert_eq!(h.response.status(), 400);
    assert_eq!(h.response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = serde_json::from_slice(h.response.body().as_ref()).unwrap();
    assert_eq!(body["type"], "https://verge.dev/problems/malformed-request");
    assert_eq!(body["request_id"], h.response.headers()["x-request-id"].to_str().unwrap());
    assert_eq!((h.log.status, h.log.method.as_str()), (400, ""));
    assert!(h.log.error.unwrap().contains("invalid uri character"));
}

#[test]
fn a_failed_random_number_generator_refuses_the_request_with_a_500_problem() {
    let req = Request::get("/auth/login").body(()).unwrap();
    let h: Handled = crate::entropy_failure(&req, [0; 16]);
    assert_eq!(h.response.status(), 500);
    let body: serde_json::Value = serde_json::from_slice(h.response.body().as_ref()).unwrap();
    assert_eq!(body["type"], "https://verge.dev/problems/entropy-unavailable");
    assert_eq!((h.log.status, h.log.path.as_str()), (500, "/auth/login"));
    assert!(h.log.error.unwrap().contains("random number generator"));
}

#[test]
fn a_body_the_adapter_refused_is_a_413_or_400_problem() {
    let e = edge();
    let req = Request::post("/api/numbers").body(()).unwrap();
    let h: Handled = crate::body_refused(&e, &req, crate::BodyRefused::TooLarge { len: 1 << 20 }, [1; 16]);
    assert_eq!(h.response.status(), 413);
    let body: serde_json::Value = serde_json::from_slice(h.response.body().as_ref()).unwrap();
    assert_eq!(body["type"], "https://verge.dev/problems/body-too-large");
    let h: Handled = crate::body_refused(&e, &req, crate::BodyRefused::Unreadable("reset".into()), [1; 16]);
    assert_eq!(h.response.status(), 400);
    assert!(h.log.error.unwrap().contains("could not be read"));
}

/// xorshift64*: a deterministic stream of pseudo-random numbers, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn no_config_edit_makes_parsing_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pieces = ["\"", "[", "]", "{", "}", "=", "*", "?", "\n", "#", "%2f", "..", "é", "\\", "[[behaviours]]", "0x", "-1", "\u{0}"];
    for _ in 0..3000 {
        let mut src = CONFIG.to_owned();
        for _ in 0..(rng.next() % 4 + 1) {
            let mut at = (rng.next() as usize) % (src.len() + 1);
            while !src.is_char_boundary(at) {
                at -= 1;
            }
            if rng.next().is_multiple_of(2) {
                src.insert_str(at, rng.pick(&pieces));
            } else {
                let mut end = (at + (rng.next() % 8) as usize).min(src.len());
                while !src.is_char_boundary(end) {
                    end -= 1;
                }
                src.replace_range(at..end, "");
            }
        }
        let _ = EdgeConfig::parse("fuzz.toml", &src).map_err(|e| e.to_string());
    }
}

#[test]
fn no_request_path_makes_the_pipeline_panic() {
    let (e, o) = (edge(), FakeOrigin::default());
    let mut rng = Rng(42);
    let pieces = ["/", "a", ".", "..", "%", "%2", "%2e", "%2F", "%5c", "%25", "%c0", "%ae", "%00", "%ff", "é", "?", "*", "api"];
    for _ in 0..3000 {
        let mut path = String::from("/");
        for _ in 0..(rng.next() % 12) {
            path.push_str(rng.pick(&pieces));
        }
        let Ok(req) = Request::get(path.as_str()).body(Bytes::new()) else { continue };
        let h = run(&e, &o, req);
        assert!(h.response.status().as_u16() < 500 || h.response.status() == 502, "{path}: {}", h.response.status());
    }
}
