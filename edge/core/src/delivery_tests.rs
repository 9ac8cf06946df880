//! Pipeline tests of origin groups, canaries and custom error pages: a fake clock and scripted
//! origins told apart by host, no sockets.
use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Request, Response};

use crate::config::Reference;
use crate::tests::block_on;
use crate::{BufferedUpstream, Bytes, Edge, Handled, UpstreamError};

const CONFIG: &str = r#"
[origins.web]
type = "s3"
bucket = "site"
region = "us-east-1"
endpoint = "http://s3.test"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[origins.api]
type = "http"
url = "http://primary.test"
service = "execute-api"
region = "us-east-1"
timeout_ms = 2000
connect_timeout_ms = 500
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[origins.api-b]
type = "http"
url = "http://secondary.test"
service = "execute-api"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[origins.api-next]
type = "http"
url = "http://canary.test"
service = "execute-api"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[cache_policies.short]
default_ttl = 60

[[error_responses]]
status = 503
origin = "web"
page = "/errors/503.html"
error_caching_min_ttl = 10

[[error_responses]]
status = 502
origin = "web"
page = "/errors/502.html"
response_status = 503

[[behaviours]]
path = "/api/cached/*"
origin = "api"
cache = "short"

[[behaviours]]
path = "/api/canary/*"
origin = "api"
cache = "short"
canary = { origin = "api-next", weight = 30, header = "x-canary", cookie = "canary" }

[[behaviours]]
path = "/api/*"
origin = "api"
methods = ["GET", "HEAD", "POST", "OPTIONS"]
failover = { origin = "api-b" }

[[behaviours]]
path = "*"
origin = "web"
"#;

const SECRET: &str = "qNRhaI6pT5bLyhBtoBgh16dQcW4GraYgosLEtdXc8kY";

fn edge() -> Edge {
    let lookup = |r: &Reference| match r.name() {
        "KEY_ID" => Some("AKIDTEST".to_owned()),
        "KEY" => Some(SECRET.to_owned()),
        _ => None,
    };
    Edge::from_toml("edge.toml", CONFIG, &lookup).unwrap()
}

type Script = Box<dyn Fn(&str) -> Result<(u16, &'static str), UpstreamError>>;

/// Origins told apart by host; `script` answers by host, or fails.
struct Origins {
    seen: RefCell<Vec<Request<Bytes>>>,
    script: Script,
}

impl Origins {
    fn new(script: impl Fn(&str) -> Result<(u16, &'static str), UpstreamError> + 'static) -> Self {
        Origins { seen: RefCell::new(Vec::new()), script: Box::new(script) }
    }

    fn hosts(&self) -> Vec<String> {
        self.seen.borrow().iter().map(|r| r.uri().host().unwrap_or("").to_owned()).collect()
    }
}

impl BufferedUpstream for Origins {
    async fn fetch(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.seen.borrow_mut().push(req.clone());
        let host = req.uri().host().unwrap_or("").to_owned();
        if host == "s3.test" {
            return Ok(match req.uri().path() {
                "/site/errors/503.html" => {
                    Response::builder().status(200).header("content-type", "text/html").body(Bytes::from("<h1>down</h1>"))
                }
                "/site/errors/502.html" => {
                    Response::builder().status(200).header("content-type", "text/html").body(Bytes::from("<h1>away</h1>"))
                }
                _ => Response::builder().status(404).body(Bytes::new()),
            }
            .unwrap());
        }
        let (status, body) = (self.script)(&host)?;
        Ok(Response::builder().status(status).header("content-type", "application/json").body(Bytes::from(body)).unwrap())
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn run_at(edge: &Edge, up: &Origins, req: Request<Bytes>, secs: u64, entropy: [u8; 16]) -> Handled<'static> {
    block_on(edge.handle(req, up, &move || at(secs), entropy))
}

fn run(edge: &Edge, up: &Origins, req: Request<Bytes>) -> Handled<'static> {
    run_at(edge, up, req, 0, [7; 16])
}

fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<Bytes> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::new()).unwrap()
}

fn primary_down(status: u16) -> impl Fn(&str) -> Result<(u16, &'static str), UpstreamError> {
    move |host| match host {
        "primary.test" if status == 0 => Err(UpstreamError::Connect("refused".into())),
        "primary.test" if status == 1 => Err(UpstreamError::Timeout),
        "primary.test" => Ok((status, "{\"from\":\"primary\"}")),
        _ => Ok((200, "{\"from\":\"secondary\"}")),
    }
}

#[test]
fn a_refused_connection_a_timeout_and_a_503_fail_over_once_for_safe_methods() {
    let e = edge();
    for (status, why) in [(0, "could not be reached"), (1, "did not answer in time"), (503, "status 503")] {
        let up = Origins::new(primary_down(status));
        let h = run(&e, &up, req("GET", "/api/x", &[]));
        assert_eq!(h.response.status(), 200, "{why}");
        assert_eq!(h.response.body().as_ref(), b"{\"from\":\"secondary\"}");
        assert_eq!(up.hosts(), ["primary.test", "secondary.test"], "two attempts, in order");
        assert_eq!(h.log.origin.as_deref(), Some("api-b"), "the log names who served");
        assert!(h.log.failover.as_deref().is_some_and(|f| f.starts_with("api: ") && f.contains(why)), "{:?}", h.log.failover);
    }
    // The secondary's signature is its own: the request is signed again for the new host.
    let up = Origins::new(primary_down(503));
    run(&e, &up, req("HEAD", "/api/x", &[]));
    let seen = up.seen.borrow();
    assert_ne!(seen[0].headers()["authorization"], seen[1].headers()["authorization"]);
}

#[test]
fn no_failover_for_a_post_a_404_or_a_healthy_primary() {
    let e = edge();
    let up = Origins::new(primary_down(503));
    let h = run(&e, &up, req("POST", "/api/x", &[("accept", "application/json")]));
    assert_eq!(h.response.status(), 503);
    assert_eq!(up.hosts(), ["primary.test"], "a POST is never sent twice");
    assert!(h.log.failover.is_none());
    for status in [404, 200] {
        let up = Origins::new(primary_down(status));
        let h = run(&e, &up, req("GET", "/api/x", &[]));
        assert_eq!(h.response.status(), status);
        assert_eq!(up.hosts(), ["primary.test"]);
    }
    // Both down: the secondary's answer is the answer, after exactly two attempts.
    let up = Origins::new(|_| Err(UpstreamError::Connect("refused".into())));
    let h = run(&e, &up, req("GET", "/api/x", &[("accept", "application/json")]));
    assert_eq!(h.response.status(), 502);
    assert_eq!(up.hosts().len(), 2);
}

#[test]
fn origin_requests_carry_both_timeouts() {
    let e = edge();
    let up = Origins::new(primary_down(200));
    run(&e, &up, req("GET", "/api/x", &[]));
    let seen = up.seen.borrow();
    assert_eq!(seen[0].extensions().get::<crate::OriginTimeout>().unwrap().0, Duration::from_millis(2000));
    assert_eq!(seen[0].extensions().get::<crate::ConnectTimeout>().unwrap().0, Duration::from_millis(500));
}

fn by_origin(host: &str) -> Result<(u16, &'static str), UpstreamError> {
    Ok((200, if host == "canary.test" { "canary" } else { "primary" }))
}

#[test]
fn the_canary_takes_its_share_of_new_clients_and_keeps_each_one() {
    let e = edge();
    let up = Origins::new(by_origin);
    let mut canary = 0;
    for i in 0..300u32 {
        let mut entropy = [0u8; 16];
        entropy[..4].copy_from_slice(&i.to_be_bytes());
        let h = run_at(&e, &up, req("GET", &format!("/api/canary/{i}"), &[]), 0, entropy);
        let cookie = h.response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        assert!(cookie.starts_with("verge_canary="), "{cookie}");
        let first = h.response.body().as_ref().to_vec();
        canary += usize::from(first == b"canary");
        assert_eq!(h.log.origin.as_deref(), Some(if first == b"canary" { "api-next" } else { "api" }));
        // The same client, later, on another path: same side, no new cookie.
        let again = run_at(&e, &up, req("GET", &format!("/api/canary/again-{i}"), &[("cookie", &cookie)]), 1, [9; 16]);
        assert_eq!(again.response.body().as_ref(), &first[..]);
        assert!(!again.response.headers().contains_key("set-cookie"));
    }
    assert!((60..120).contains(&canary), "{canary} of 300 at weight 30");
    // The sticky id never reaches an origin.
    assert!(up.seen.borrow().iter().all(|r| !r.headers().contains_key("cookie")));
}

#[test]
fn header_and_cookie_force_the_canary_and_the_two_never_share_a_cache_entry() {
    let e = edge();
    let up = Origins::new(by_origin);
    let forced = run(&e, &up, req("GET", "/api/canary/page", &[("x-canary", "1")]));
    assert_eq!(forced.response.body().as_ref(), b"canary");
    let other = run(&e, &up, req("GET", "/api/canary/page", &[("x-canary", "0")]));
    assert_eq!(other.response.body().as_ref(), b"primary", "not the canary's cached answer");
    let hit = run(&e, &up, req("GET", "/api/canary/page", &[("cookie", "canary=true")]));
    assert_eq!(hit.response.body().as_ref(), b"canary");
    assert!(hit.response.headers()["cache-status"].to_str().unwrap().contains("hit"), "the canary's own entry");
    assert_eq!(up.hosts(), ["canary.test", "primary.test"]);
}

#[test]
fn a_browser_gets_the_page_and_an_api_client_keeps_problem_json() {
    let e = edge();
    let browser = [("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")];
    let both_down = |_: &str| Err(UpstreamError::Connect("refused".into()));
    let up = Origins::new(both_down);
    let h = run(&e, &up, req("GET", "/api/x", &browser));
    assert_eq!(h.response.status(), 503, "502 answered as the configured 503");
    assert_eq!(h.response.body().as_ref(), b"<h1>away</h1>");
    assert_eq!(h.response.headers()["content-type"], "text/html");
    assert!(h.response.headers().contains_key("x-request-id"), "finished like any answer");
    assert!(h.log.error.is_some(), "the log still says why");
    for accept in ["application/json", "application/problem+json", "*/*"] {
        let h = run(&e, &up, req("GET", "/api/x", &[("accept", accept)]));
        assert_eq!(h.response.status(), 502);
        assert_eq!(h.response.headers()["content-type"], "application/problem+json");
    }
    // The origin's own 503: the page for a browser, the origin's body for an API client.
    let up = Origins::new(|_| Ok((503, "{\"origin\":\"busy\"}")));
    let h = run(&e, &up, req("GET", "/api/cached/a", &browser));
    assert_eq!((h.response.status().as_u16(), h.response.body().as_ref()), (503, &b"<h1>down</h1>"[..]));
    let h = run(&e, &up, req("GET", "/api/cached/b", &[("accept", "application/json")]));
    assert_eq!(h.response.body().as_ref(), b"{\"origin\":\"busy\"}");
}

#[test]
fn an_origin_error_is_cached_for_the_error_ttl_and_the_page_too() {
    let e = edge();
    let up = Origins::new(|_| Ok((503, "{\"origin\":\"busy\"}")));
    let api = [("accept", "application/json")];
    assert_eq!(run_at(&e, &up, req("GET", "/api/cached/s", &api), 0, [1; 16]).response.status(), 503);
    let h = run_at(&e, &up, req("GET", "/api/cached/s", &api), 9, [2; 16]);
    assert_eq!(h.response.status(), 503);
    assert!(h.response.headers()["cache-status"].to_str().unwrap().contains("hit"));
    assert_eq!(up.hosts(), ["primary.test"], "the failing origin was asked once in 10 s");
    run_at(&e, &up, req("GET", "/api/cached/s", &api), 11, [3; 16]);
    assert_eq!(up.hosts(), ["primary.test", "primary.test"], "and again after");
    // The page: fetched once within its TTL.
    let browser = [("accept", "text/html")];
    run_at(&e, &up, req("GET", "/api/cached/p1", &browser), 20, [4; 16]);
    run_at(&e, &up, req("GET", "/api/cached/p2", &browser), 21, [5; 16]);
    assert_eq!(up.hosts().iter().filter(|h| *h == "s3.test").count(), 1);
}
