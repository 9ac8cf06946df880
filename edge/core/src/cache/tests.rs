//! In-memory pipeline tests of the cache: a fake clock stepped by hand, a scripted origin that
//! counts its calls, no sockets.
use std::cell::{Cell, RefCell};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};

use crate::config::Reference;
use crate::tests::{block_on, run_all, YieldOnce};
use crate::{Body, Capped, Edge, Handled, Platform, UpstreamError};

const START: u64 = 1_800_000_000;

const CONFIG: &str = r#"
[origins.api]
type = "http"
url = "http://origin.test"
service = "execute-api"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[auth.api_key]
origin = "api"

[cache_policies.stats]
query = { deny = ["utm_*"] }
headers = ["accept-encoding"]
max_ttl = 3600

[cache_policies.floor]
min_ttl = 30
default_ttl = 60
max_ttl = 600

[cache_policies.mine]
per_user = true
max_ttl = 600

[[behaviours]]
path = "/api/stats/*"
origin = "api"
methods = ["GET", "HEAD", "POST"]
cache = "stats"

[[behaviours]]
path = "/api/floor/*"
origin = "api"
cache = "floor"

[[behaviours]]
path = "/api/me"
origin = "api"
auth = "api_key"
cache = "mine"

[[behaviours]]
path = "*"
origin = "api"
"#;

type Script = dyn Fn(&Request<Bytes>, usize) -> Result<Response<Bytes>, UpstreamError>;

/// The platform: a clock moved by hand, an origin answering from a script, counted calls.
struct World {
    now: Cell<u64>,
    script: Box<Script>,
    seen: RefCell<Vec<Request<Bytes>>>,
    /// Make each origin call wait one poll, so that concurrent requests overlap.
    slow: bool,
}

impl World {
    fn new(script: impl Fn(&Request<Bytes>, usize) -> Result<Response<Bytes>, UpstreamError> + 'static) -> Self {
        World { now: Cell::new(START), script: Box::new(script), seen: RefCell::default(), slow: false }
    }

    fn advance(&self, secs: u64) {
        self.now.set(self.now.get() + secs);
    }

    /// Origin calls for the API (key lookups excluded).
    fn calls(&self) -> usize {
        self.seen.borrow().iter().filter(|r| !r.uri().path().starts_with("/api/keys/")).count()
    }

    fn last(&self) -> Request<Bytes> {
        self.seen.borrow().iter().rev().find(|r| !r.uri().path().starts_with("/api/keys/")).cloned().unwrap()
    }
}

impl Platform for World {
    type Body = Bytes;

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.now.get())
    }

    fn entropy(&self) -> [u8; 16] {
        [4; 16]
    }

    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        if self.slow {
            YieldOnce(false).await;
        }
        if req.uri().path() == "/api/keys/lookup" {
            let hash = req.headers()["x-verge-api-key-hash"].to_str().unwrap().to_owned();
            self.seen.borrow_mut().push(req);
            let body = format!("{{\"consumer\":\"c-{}\",\"plan\":{{}}}}", &hash[..8]);
            return Ok(Response::builder().status(200).body(Bytes::from(body)).unwrap());
        }
        let n = self.calls();
        let out = (self.script)(&req, n);
        self.seen.borrow_mut().push(req);
        out
    }

    async fn forward(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.send(req).await
    }

    async fn read(&self, body: Bytes) -> Result<Bytes, UpstreamError> {
        Ok(body)
    }

    /// As a streaming runtime reads: past `max`, the body goes back to be relayed.
    async fn read_capped(&self, body: Bytes, max: usize) -> Result<Capped<Bytes>, UpstreamError> {
        Ok(if body.len() > max { Capped::Over(body) } else { Capped::Whole(body) })
    }

    /// A timer that lets every other task run once (the clock stands still meanwhile).
    async fn sleep(&self, _d: Duration) -> bool {
        YieldOnce(false).await;
        true
    }
}

fn edge() -> Edge {
    edge_with(CONFIG)
}

fn edge_with(config: &str) -> Edge {
    let lookup = |r: &Reference| match r.name() {
        "KEY_ID" => Some("AKIDTEST".to_owned()),
        "KEY" => Some("qNRhaI6pT5bLyhBtoBgh16dQcW4GraYgosLEtdXc8kY".to_owned()),
        _ => None,
    };
    Edge::from_toml("edge.toml", config, &lookup).unwrap()
}

fn ok(cc: &str, body: &str) -> Response<Bytes> {
    let mut b = Response::builder().status(200).header("content-type", "application/json").header("etag", "\"v1\"");
    if !cc.is_empty() {
        b = b.header("cache-control", cc);
    }
    b.body(Bytes::from(body.to_owned())).unwrap()
}

fn req(path: &str, headers: &[(&str, &str)]) -> Request<Bytes> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::new()).unwrap()
}

/// Serves one request and runs its background work, as a platform would after answering.
fn serve<'e>(e: &'e Edge, w: &'e World, r: Request<Bytes>) -> Handled<'e> {
    let mut h = block_on(e.serve(r, w));
    if let Some(work) = h.background.take() {
        block_on(work);
    }
    h
}

fn status(h: &Handled<'_>) -> String {
    h.response.headers().get("cache-status").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn body(h: &Handled<'_>) -> String {
    String::from_utf8(h.response.body().as_ref().to_vec()).unwrap()
}

#[test]
fn miss_then_hit_then_expiry() {
    let (e, w) = (edge(), World::new(|_, n| Ok(ok("max-age=60", &format!("{{\"n\":{n}}}")))));
    let first = serve(&e, &w, req("/api/stats/daily", &[]));
    assert_eq!(status(&first), "verge; fwd=uri-miss; fwd-status=200; stored");
    assert_eq!(first.response.headers()["age"], "0");
    assert_eq!(first.log.cache.as_deref(), Some("verge; fwd=uri-miss; fwd-status=200; stored"));
    w.advance(20);
    let hit = serve(&e, &w, req("/api/stats/daily", &[]));
    assert_eq!((hit.response.status().as_u16(), body(&hit)), (200, "{\"n\":0}".to_owned()));
    assert_eq!(status(&hit), "verge; hit; ttl=40");
    assert_eq!(hit.response.headers()["age"], "20");
    assert_eq!(w.calls(), 1, "the hit cost no origin call");
    w.advance(41);
    let after = serve(&e, &w, req("/api/stats/daily", &[]));
    assert_eq!(body(&after), "{\"n\":1}");
    assert!(status(&after).starts_with("verge; fwd=stale"), "{}", status(&after));
    assert_eq!(w.calls(), 2);
}

#[test]
fn a_stale_entry_is_revalidated_with_its_validators() {
    let w = World::new(|r, n| {
        if n == 0 {
            return Ok(ok("max-age=10", "{\"v\":1}"));
        }
        assert_eq!(r.headers()["if-none-match"], "\"v1\"", "the entry's validator is sent");
        if n == 1 {
            return Ok(Response::builder()
                .status(304)
                .header("cache-control", "max-age=100")
                .header("etag", "\"v1\"")
                .body(Bytes::new())
                .unwrap());
        }
        Ok(Response::builder()
            .status(200)
            .header("etag", "\"v2\"")
            .header("cache-control", "max-age=100")
            .body(Bytes::from_static(b"{\"v\":2}"))
            .unwrap())
    });
    let e = edge();
    serve(&e, &w, req("/api/stats/a", &[]));
    w.advance(11);
    let revalidated = serve(&e, &w, req("/api/stats/a", &[]));
    assert_eq!((revalidated.response.status().as_u16(), body(&revalidated)), (200, "{\"v\":1}".to_owned()));
    assert_eq!(status(&revalidated), "verge; fwd=stale; fwd-status=304; stored");
    w.advance(50);
    let hit = serve(&e, &w, req("/api/stats/a", &[]));
    assert_eq!(status(&hit), "verge; hit; ttl=50", "the 304's max-age=100 now governs");
    assert_eq!(hit.response.headers()["cache-control"], "max-age=100", "the stored headers were updated");
    w.advance(51);
    let changed = serve(&e, &w, req("/api/stats/a", &[]));
    assert_eq!(body(&changed), "{\"v\":2}");
    assert_eq!(status(&changed), "verge; fwd=stale; fwd-status=200; stored");
}

#[test]
fn stale_while_revalidate_answers_at_once_and_refreshes_after() {
    let (e, w) = (edge(), World::new(|_, n| Ok(ok("max-age=10, stale-while-revalidate=30", &format!("{n}")))));
    serve(&e, &w, req("/api/stats/swr", &[]));
    w.advance(15);
    let mut stale = block_on(e.serve(req("/api/stats/swr", &[]), &w));
    assert_eq!(body(&stale), "0", "answered from the stale entry");
    assert_eq!(status(&stale), "verge; hit; ttl=-5; detail=stale-while-revalidate");
    assert_eq!(w.calls(), 1, "nothing fetched before the answer");
    block_on(stale.background.take().expect("a refresh is left for the platform"));
    assert_eq!(w.calls(), 2);
    let fresh = serve(&e, &w, req("/api/stats/swr", &[]));
    assert_eq!((body(&fresh), status(&fresh)), ("1".to_owned(), "verge; hit; ttl=10".to_owned()));
    w.advance(60);
    let too_old = serve(&e, &w, req("/api/stats/swr", &[]));
    assert_eq!(body(&too_old), "2", "past the window the edge waits for the origin");
}

#[test]
fn stale_if_error_covers_5xx_and_an_unreachable_origin_but_not_no_cache() {
    let w = World::new(move |_, n| match n {
        0 => Ok(ok("max-age=5, stale-if-error=60", "good")),
        1 => Ok(Response::builder().status(503).body(Bytes::from_static(b"busy")).unwrap()),
        _ => Err(UpstreamError::Connect("refused".into())),
    });
    let e = edge();
    serve(&e, &w, req("/api/stats/sie", &[]));
    w.advance(10);
    let h = serve(&e, &w, req("/api/stats/sie", &[]));
    assert_eq!((h.response.status().as_u16(), body(&h)), (200, "good".to_owned()));
    assert_eq!(status(&h), "verge; fwd=stale; fwd-status=503; ttl=-5; detail=stale-if-error");
    let h = serve(&e, &w, req("/api/stats/sie", &[]));
    assert_eq!((h.response.status().as_u16(), body(&h)), (200, "good".to_owned()), "connection refused: stale too");
    w.advance(100);
    let h = serve(&e, &w, req("/api/stats/sie", &[]));
    assert_eq!(h.response.status(), 502, "past the window the failure shows");
    assert!(status(&h).starts_with("verge; fwd=stale"), "{}", status(&h));

    let w = World::new(|_, n| match n {
        0 => Ok(ok("max-age=5, must-revalidate, stale-if-error=60", "good")),
        _ => Ok(Response::builder().status(503).body(Bytes::from_static(b"busy")).unwrap()),
    });
    let e = edge();
    serve(&e, &w, req("/api/stats/mr", &[]));
    w.advance(10);
    assert_eq!(serve(&e, &w, req("/api/stats/mr", &[])).response.status(), 503, "must-revalidate forbids stale answers");
}

#[test]
fn vary_keeps_variants_apart() {
    let w = World::new(|r, _| {
        let lang = r.headers().get("accept-language").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let mut resp = ok("max-age=60", &lang);
        resp.headers_mut().insert("vary", "Accept-Language".parse().unwrap());
        Ok(resp)
    });
    let cfg = CONFIG
        .replace(
            "headers = [\"accept-encoding\"]\nmax_ttl = 3600",
            "headers = [\"accept-encoding\"]\nmax_ttl = 3600\n\n[origin_request_policies.lang]\nheaders = [\"accept-language\"]",
        )
        .replace("cache = \"stats\"", "cache = \"stats\"\norigin_request = \"lang\"");
    let e = edge_with(&cfg);
    assert_eq!(body(&serve(&e, &w, req("/api/stats/v", &[("accept-language", "fr")]))), "fr");
    let en = serve(&e, &w, req("/api/stats/v", &[("accept-language", "en")]));
    assert_eq!(body(&en), "en", "another value of a Vary header is not the stored answer");
    assert!(status(&en).contains("fwd=vary-miss"), "{}", status(&en));
    let star = World::new(|_, n| {
        let mut resp = ok("max-age=60", &n.to_string());
        resp.headers_mut().insert("vary", "*".parse().unwrap());
        Ok(resp)
    });
    let e = edge();
    serve(&e, &star, req("/api/stats/star", &[]));
    let again = serve(&e, &star, req("/api/stats/star", &[]));
    assert_eq!(body(&again), "1", "Vary: * never matches, so it is never stored");
    assert!(status(&again).contains("detail=vary-star"), "{}", status(&again));
}

#[test]
fn key_normalisation_shares_entries_and_the_origin_gets_only_the_key() {
    let (e, w) = (edge(), World::new(|_, n| Ok(ok("max-age=60", &n.to_string()))));
    serve(&e, &w, req("/api/stats/q?day=1&region=eu&utm_source=mail", &[("accept-encoding", "gzip, deflate, br"), ("accept", "text/csv")]));
    let same = serve(&e, &w, req("/api/stats/q?region=eu&day=1&utm_campaign=x", &[("accept-encoding", "br, gzip")]));
    assert_eq!((body(&same), status(&same)), ("0".to_owned(), "verge; hit; ttl=60".to_owned()));
    assert_eq!(w.calls(), 1);
    assert_eq!(w.last().uri().query(), Some("day=1&region=eu"), "tracking parameters never reach the origin");
    assert!(w.last().headers().get("accept").is_none(), "an unkeyed header does not reach the origin of a cached behaviour");
    let other = serve(&e, &w, req("/api/stats/q?day=2&region=eu", &[("accept-encoding", "gzip")]));
    assert_eq!(body(&other), "1");
}

#[test]
fn unkeyed_headers_cannot_poison_an_entry() {
    // An origin that would reflect any header it got into its answer.
    let w = World::new(|r, _| {
        let reflected: Vec<String> = r
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-forwarded") || *k == "accept")
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
            .collect();
        Ok(ok("max-age=60", &reflected.join(",")))
    });
    let e = edge();
    let evil = serve(&e, &w, req("/api/stats/p", &[("x-forwarded-host", "evil.example"), ("accept", "text/evil")]));
    assert_eq!(body(&evil), "", "nothing unkeyed reached the origin");
    assert_eq!(body(&serve(&e, &w, req("/api/stats/p", &[]))), "");
}

#[test]
fn client_conditionals_head_and_range_are_answered_from_the_entry() {
    let (e, w) = (edge(), World::new(|_, _| Ok(ok("max-age=60", "0123456789"))));
    let first = serve(&e, &w, req("/api/stats/c", &[("if-none-match", "\"v1\"")]));
    assert_eq!(first.response.status(), 304, "a miss with a matching validator: filled, then 304");
    assert!(w.last().headers().get("if-none-match").is_none(), "the fill asked for the whole object");
    let h = serve(&e, &w, req("/api/stats/c", &[("if-none-match", "W/\"v1\", \"x\"")]));
    assert_eq!(h.response.status(), 304, "weak comparison");
    assert_eq!(h.response.headers()["etag"], "\"v1\"");
    assert_eq!(h.response.headers()["cache-control"], "max-age=60");
    assert!(h.response.body().as_ref().is_empty());
    assert_eq!(serve(&e, &w, req("/api/stats/c", &[("if-match", "\"other\"")])).response.status(), 412);
    let head = serve(&e, &w, Request::head("/api/stats/c").body(Bytes::new()).unwrap());
    assert_eq!((head.response.status().as_u16(), head.response.body().as_ref().len()), (200, 0));
    assert_eq!(head.response.headers()["content-length"], "10");
    let part = serve(&e, &w, req("/api/stats/c", &[("range", "bytes=2-4")]));
    assert_eq!((part.response.status().as_u16(), body(&part)), (206, "234".to_owned()));
    assert_eq!(part.response.headers()["content-range"], "bytes 2-4/10");
    let none = serve(&e, &w, req("/api/stats/c", &[("range", "bytes=50-")]));
    assert_eq!(none.response.status(), 416);
    assert_eq!(none.response.headers()["content-range"], "bytes */10");
    assert_eq!(w.calls(), 1, "every one of these came from the one entry");
}

#[test]
fn a_head_miss_fills_from_a_get() {
    let (e, w) = (edge(), World::new(|_, _| Ok(ok("max-age=60", "body"))));
    let head = serve(&e, &w, Request::head("/api/stats/h").body(Bytes::new()).unwrap());
    assert_eq!(w.last().method(), "GET");
    assert!(head.response.body().as_ref().is_empty());
    assert_eq!(body(&serve(&e, &w, req("/api/stats/h", &[]))), "body");
    assert_eq!(w.calls(), 1);
}

#[test]
fn per_user_entries_are_never_shared() {
    let (e, w) = (edge(), World::new(|r, _| Ok(ok("max-age=60", r.headers()["x-verge-consumer"].to_str().unwrap()))));
    let ada = serve(&e, &w, req("/api/me", &[("x-api-key", "key-of-ada")]));
    let bob = serve(&e, &w, req("/api/me", &[("x-api-key", "key-of-bob")]));
    assert_ne!(body(&ada), body(&bob));
    assert_eq!(body(&serve(&e, &w, req("/api/me", &[("x-api-key", "key-of-ada")]))), body(&ada));
    assert_eq!(body(&serve(&e, &w, req("/api/me", &[("x-api-key", "key-of-bob")]))), body(&bob));
    assert_eq!(w.calls(), 2);
    let anon = serve(&e, &w, req("/api/me", &[]));
    assert_eq!(anon.response.status(), 401, "identity runs before the cache");
    assert_eq!(status(&anon), "verge; fwd=bypass", "every answer of a cached behaviour says what the cache did");
}

#[test]
fn set_cookie_private_and_no_store_are_not_stored() {
    for (cc, cookie, why) in
        [("max-age=60", true, "set-cookie"), ("private, max-age=60", false, "private"), ("no-store", false, "no-store")]
    {
        let w = World::new(move |_, n| {
            let mut r = ok(cc, &n.to_string());
            if cookie {
                r.headers_mut().insert("set-cookie", "sid=secret".parse().unwrap());
            }
            Ok(r)
        });
        let e = edge();
        let first = serve(&e, &w, req("/api/stats/s", &[]));
        assert_eq!(first.response.headers().get("set-cookie").is_some(), cookie, "the caller still gets its own cookie");
        let second = serve(&e, &w, req("/api/stats/s", &[]));
        assert_eq!(body(&second), "1", "{cc}: not stored");
        assert!(second.response.headers().get("set-cookie").is_none() || cookie);
        assert!(status(&second).contains(&format!("detail={why}")), "{}", status(&second));
    }
}

#[test]
fn oversized_objects_pass_uncached() {
    let big = "x".repeat(2048);
    let cfg = format!("[edge]\ncache_max_object_bytes = 1024\n{CONFIG}");
    let e = edge_with(&cfg);
    let w = World::new(move |_, _| {
        let mut r = ok("max-age=60", &big);
        r.headers_mut().insert("content-length", "2048".parse().unwrap());
        Ok(r)
    });
    let h = serve(&e, &w, req("/api/stats/big", &[]));
    assert_eq!(h.response.body().as_ref().len(), 2048);
    assert!(status(&h).contains("detail=too-large"), "{}", status(&h));
    serve(&e, &w, req("/api/stats/big", &[]));
    assert_eq!(w.calls(), 2);
}

#[test]
fn an_oversized_body_without_a_length_is_relayed_not_held() {
    let cfg = format!("[edge]\ncache_max_object_bytes = 1024\n{CONFIG}");
    let e = edge_with(&cfg);
    // No Content-Length (chunked): only reading tells the size.
    let w = World::new(|req, _| Ok(ok("max-age=60", &if req.uri().path().ends_with("big") { "x".repeat(4096) } else { "small".into() })));
    let h = serve(&e, &w, req("/api/stats/big", &[]));
    assert!(status(&h).contains("detail=too-large"), "{}", status(&h));
    match h.response.body() {
        Body::Origin(b) => assert_eq!(b.len(), 4096, "every byte relayed"),
        Body::Full(_) => panic!("an oversized body was held whole instead of relayed"),
    }
    serve(&e, &w, req("/api/stats/big", &[]));
    assert_eq!(w.calls(), 2, "nothing stored");
    // A small one without a length is still stored.
    serve(&e, &w, req("/api/stats/small", &[]));
    assert!(status(&serve(&e, &w, req("/api/stats/small", &[]))).contains("hit"));
}

#[test]
fn an_unsafe_method_invalidates_the_uri() {
    let (e, w) = (edge(), World::new(|_, n| Ok(ok("max-age=600", &n.to_string()))));
    serve(&e, &w, req("/api/stats/x?a=1", &[]));
    serve(&e, &w, req("/api/stats/x?a=1", &[("accept-encoding", "gzip")]));
    assert_eq!(w.calls(), 2, "two variants");
    let post = serve(&e, &w, Request::post("/api/stats/x?a=1").body(Bytes::new()).unwrap());
    assert_eq!(status(&post), "verge; fwd=method");
    let after = serve(&e, &w, req("/api/stats/x?a=1", &[("accept-encoding", "gzip")]));
    assert!(status(&after).contains("fwd=uri-miss"), "every variant went: {}", status(&after));
}

#[test]
fn min_and_default_ttl_bound_the_origin_but_never_make_private_storable() {
    let w = World::new(|r, n| match r.uri().path() {
        "/api/floor/short" => Ok(ok("max-age=1", &n.to_string())),
        "/api/floor/silent" => Ok(ok("", &n.to_string())),
        _ => Ok(ok("private, max-age=600", &n.to_string())),
    });
    let e = edge();
    serve(&e, &w, req("/api/floor/short", &[]));
    assert_eq!(status(&serve(&e, &w, req("/api/floor/short", &[]))), "verge; hit; ttl=30", "min_ttl raised max-age=1");
    serve(&e, &w, req("/api/floor/silent", &[]));
    assert_eq!(status(&serve(&e, &w, req("/api/floor/silent", &[]))), "verge; hit; ttl=60", "default_ttl when the origin says nothing");
    serve(&e, &w, req("/api/floor/private", &[]));
    assert!(status(&serve(&e, &w, req("/api/floor/private", &[]))).contains("detail=private"));
}

#[test]
/// Concurrent misses for one key make one origin request: the others wait for it on their own
/// timers (cache/flight.rs) and are answered from what it stored.
fn concurrent_misses_make_one_origin_request() {
    let mut w = World::new(|_, n| Ok(ok("max-age=60", &n.to_string())));
    w.slow = true;
    let e = edge();
    let answers = run_all((0..3).map(|_| e.serve(req("/api/stats/hot", &[]), &w)).collect());
    assert_eq!(w.calls(), 1, "one origin request for three concurrent misses");
    let statuses: Vec<String> = answers.iter().map(status).collect();
    assert_eq!(statuses.iter().filter(|s| s.as_str() == "verge; fwd=uri-miss; fwd-status=200; stored").count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| s.as_str() == "verge; fwd=uri-miss; ttl=60; collapsed").count(), 2, "{statuses:?}");
    for h in &answers {
        assert_eq!((h.response.status().as_u16(), body(h)), (200, "0".to_owned()));
    }
    let next = serve(&e, &w, req("/api/stats/hot", &[]));
    assert!(status(&next).starts_with("verge; hit"), "{}", status(&next));
    assert_eq!(w.calls(), 1, "the next request is served from the cache");
}

#[test]
/// When the one at the origin brings back nothing storable, each waiter goes on by itself.
fn waiters_go_on_by_themselves_when_nothing_was_stored() {
    let mut w = World::new(|_, n| Ok(ok("no-store", &n.to_string())));
    w.slow = true;
    let e = edge();
    let answers = run_all((0..3).map(|_| e.serve(req("/api/stats/cold", &[]), &w)).collect());
    assert_eq!(w.calls(), 3);
    let statuses: Vec<String> = answers.iter().map(status).collect();
    assert_eq!(statuses.iter().filter(|s| s.contains("collapsed=?0")).count(), 2, "{statuses:?}");
    let mut bodies: Vec<String> = answers.iter().map(body).collect();
    bodies.sort();
    assert_eq!(bodies, ["0", "1", "2"], "each its own answer");
}

#[test]
fn a_shared_tier_from_the_platform_is_used_by_another_instance() {
    struct Shared<'a>(&'a World, &'a crate::cache::MemoryStore);
    impl Platform for Shared<'_> {
        type Body = Bytes;
        fn now(&self) -> SystemTime {
            self.0.now()
        }
        fn entropy(&self) -> [u8; 16] {
            [1; 16]
        }
        async fn send(&self, r: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
            self.0.send(r).await
        }
        async fn forward(&self, r: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
            self.0.send(r).await
        }
        async fn read(&self, b: Bytes) -> Result<Bytes, UpstreamError> {
            Ok(b)
        }
        fn cache(&self) -> Option<&dyn crate::cache::CacheStore> {
            Some(self.1)
        }
    }
    let w = World::new(|_, n| Ok(ok("max-age=60", &n.to_string())));
    let store = crate::cache::MemoryStore::new(1 << 20, 1 << 16);
    let (one, two) = (edge(), edge());
    let p = Shared(&w, &store);
    block_on(one.serve(req("/api/stats/shared", &[]), &p));
    let h = block_on(two.serve(req("/api/stats/shared", &[]), &p));
    assert_eq!((body(&h), status(&h)), ("0".to_owned(), "verge; hit; ttl=60".to_owned()));
    assert_eq!(w.calls(), 1, "the second instance read the first one's entry");
}
