//! In-memory pipeline tests of rate limits and access rules: a fake clock, a fake origin, and a
//! fake global store that two edges (two "instances") can share.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};

use super::{Ask, Counters, MemoryCounters, Peer, StoreError, Verdict};
use crate::cache::LocalFuture;
use crate::config::Reference;
use crate::tests::block_on;
use crate::{Edge, Platform, UpstreamError};

const SECRET: &str = "qNRhaI6pT5bLyhBtoBgh16dQcW4GraYgosLEtdXc8kY";
const GOLD_KEY: &str = "vk_gold";
const TINY_KEY: &str = "vk_tiny";

const CONFIG: &str = r#"
[origins.api]
type = "http"
url = "http://origin.test"
service = "execute-api"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[auth.api_key]
origin = "api"

[client]
trusted_proxies = ["10.0.0.0/8"]
country_header = "x-country"

[rate_limits.per-ip]
key = "ip"
limit = 2
window_s = 10
burst = 2

[rate_limits.shared]
key = "header:x-tenant"
limit = 3
window_s = 60
scope = "global"
on_store_failure = "closed"
store_timeout_ms = 50

[rate_limits.lenient]
key = "ip"
limit = 1
window_s = 60
scope = "global"

[rate_limits.guesses]
key = "ip"
limit = 3
window_s = 60
count = "failed_identity"

[rate_limits.partners]
key = "consumer"
limit = 100
window_s = 1
plan = true
scope = "global"

[access_rules.office]
allow_ips = ["203.0.113.0/24", "2001:db8::/32"]
deny_countries = ["KP"]

[[behaviours]]
path = "/api/numbers"
origin = "api"
methods = ["GET", "HEAD", "POST"]
rate_limits = ["per-ip"]

[[behaviours]]
path = "/api/tenant/*"
origin = "api"
rate_limits = ["shared"]

[[behaviours]]
path = "/api/lenient/*"
origin = "api"
rate_limits = ["lenient"]

[[behaviours]]
path = "/api/partners/*"
origin = "api"
auth = "api_key"
rate_limits = ["guesses", "partners"]

[[behaviours]]
path = "/api/office/*"
origin = "api"
access = "office"

[[behaviours]]
path = "*"
origin = "api"
"#;

/// A global store in memory with its own clock, shared by reference; it can be taken down.
#[derive(Default)]
struct Shared {
    mem: MemoryCounters,
    now_us: Cell<u64>,
    down: Cell<bool>,
    asked: Cell<u32>,
}

impl Counters for Shared {
    fn acquire<'a>(&'a self, ask: &'a Ask) -> LocalFuture<'a, Result<Verdict, StoreError>> {
        Box::pin(async move {
            self.asked.set(self.asked.get() + 1);
            if self.down.get() {
                return Err(StoreError::Timeout(ask.timeout));
            }
            Ok(self.mem.acquire_at(ask, self.now_us.get()))
        })
    }
}

struct Test {
    now: Cell<SystemTime>,
    store: Option<Rc<Shared>>,
    lookups: Cell<u32>,
    origin_calls: RefCell<Vec<String>>,
}

impl Test {
    fn new(store: Option<Rc<Shared>>) -> Test {
        let t = Test {
            now: Cell::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            store,
            lookups: Cell::new(0),
            origin_calls: RefCell::default(),
        };
        t.sync();
        t
    }

    fn advance(&self, d: Duration) {
        self.now.set(self.now.get() + d);
        self.sync();
    }

    fn sync(&self) {
        if let Some(s) = &self.store {
            s.now_us.set(self.now.get().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64);
        }
    }
}

impl Platform for Test {
    type Body = Bytes;

    fn now(&self) -> SystemTime {
        self.now.get()
    }

    fn entropy(&self) -> [u8; 16] {
        [9; 16]
    }

    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        let path = req.uri().path().to_owned();
        if path == "/api/keys/lookup" {
            self.lookups.set(self.lookups.get() + 1);
            let hash = req.headers()["x-verge-api-key-hash"].to_str().unwrap_or_default().to_owned();
            let plan = if hash == verge_signing::sha256_hex(GOLD_KEY.as_bytes()) {
                Some(r#"{"consumer":"acme","plan":{"rate_per_second":3,"burst":3,"quota_per_day":5}}"#)
            } else if hash == verge_signing::sha256_hex(TINY_KEY.as_bytes()) {
                Some(r#"{"consumer":"tiny","plan":{"rate_per_second":1,"burst":1,"quota_per_day":100}}"#)
            } else {
                None
            };
            return Ok(match plan {
                Some(b) => Response::new(Bytes::from(b)),
                None => Response::builder().status(404).body(Bytes::new()).unwrap(),
            });
        }
        self.origin_calls.borrow_mut().push(path);
        Ok(Response::builder().header("content-type", "application/json").body(Bytes::from_static(b"{\"ok\":true}")).unwrap())
    }

    async fn forward(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.send(req).await
    }

    async fn read(&self, body: Bytes) -> Result<Bytes, UpstreamError> {
        Ok(body)
    }

    fn counters(&self) -> Option<&dyn Counters> {
        self.store.as_deref().map(|s| s as &dyn Counters)
    }
}

fn edge() -> Edge {
    let lookup = |r: &Reference| match r.name() {
        "KEY_ID" => Some("AKIDTEST".to_owned()),
        "KEY" => Some(SECRET.to_owned()),
        _ => None,
    };
    Edge::from_toml("edge.toml", CONFIG, &lookup).unwrap()
}

fn from(ip: &str, method: &str, path: &str) -> Request<Bytes> {
    let mut req = Request::builder().method(method).uri(path).body(Bytes::new()).unwrap();
    req.extensions_mut().insert(Peer { addr: super::client::parse_addr(ip), country: None });
    req
}

fn send(e: &Edge, p: &Test, req: Request<Bytes>) -> crate::Handled<'static> {
    let h = block_on(e.serve(req, p));
    crate::Handled { response: h.response, log: h.log, background: None }
}

fn status(e: &Edge, p: &Test, req: Request<Bytes>) -> u16 {
    send(e, p, req).response.status().as_u16()
}

fn header(h: &crate::Handled<'static>, name: &str) -> String {
    h.response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[test]
fn the_limit_answers_429_with_retry_after_and_ratelimit_fields() {
    let (e, p) = (edge(), Test::new(None));
    let first = send(&e, &p, from("198.51.100.7:5000", "POST", "/api/numbers"));
    assert_eq!(first.response.status(), 200);
    assert_eq!(header(&first, "ratelimit-policy"), r#""per-ip";q=2;w=10"#);
    assert_eq!(header(&first, "ratelimit"), r#""per-ip";r=1;t=5"#);
    assert_eq!(status(&e, &p, from("198.51.100.7:5001", "POST", "/api/numbers")), 200);
    let refused = send(&e, &p, from("198.51.100.7:5002", "POST", "/api/numbers"));
    assert_eq!(refused.response.status(), 429);
    assert_eq!(header(&refused, "content-type"), "application/problem+json");
    assert_eq!(header(&refused, "retry-after"), "5");
    assert_eq!(header(&refused, "ratelimit"), r#""per-ip";r=0;t=5"#);
    assert_eq!(header(&refused, "ratelimit-policy"), r#""per-ip";q=2;w=10"#);
    let body: serde_json::Value = serde_json::from_slice(refused.response.body().as_ref()).unwrap();
    assert_eq!(body["type"], "https://verge.dev/problems/rate-limited");
    assert_eq!(refused.log.rate_limit.as_deref(), Some("per-ip"));
    assert_eq!(p.origin_calls.borrow().len(), 2, "a refused request never reaches the origin");
    // Another client is not affected; the first is let in again once the interval has passed.
    assert_eq!(status(&e, &p, from("198.51.100.8:1", "POST", "/api/numbers")), 200);
    p.advance(Duration::from_secs(5));
    assert_eq!(status(&e, &p, from("198.51.100.7:5003", "POST", "/api/numbers")), 200);
    assert_eq!(status(&e, &p, from("198.51.100.7:5003", "POST", "/api/numbers")), 429);
}

#[test]
fn errors_of_a_limited_behaviour_carry_the_policy_too() {
    let (e, p) = (edge(), Test::new(None));
    let h = send(&e, &p, from("198.51.100.7:1", "DELETE", "/api/numbers"));
    assert_eq!(h.response.status(), 405);
    assert_eq!(header(&h, "ratelimit-policy"), r#""per-ip";q=2;w=10"#);
    assert!(h.response.headers().get("ratelimit").is_none(), "nothing was counted");
    let open = send(&e, &p, from("198.51.100.7:1", "GET", "/other"));
    assert!(open.response.headers().get("ratelimit-policy").is_none());
}

#[test]
fn a_spoofed_forwarded_for_is_ignored_and_a_trusted_proxy_is_believed() {
    let (e, p) = (edge(), Test::new(None));
    for i in 0..2 {
        let mut req = from("198.51.100.7:1", "POST", "/api/numbers");
        req.headers_mut().insert("x-forwarded-for", format!("192.0.2.{i}").parse().unwrap());
        assert_eq!(status(&e, &p, req), 200);
    }
    let mut spoofed = from("198.51.100.7:1", "POST", "/api/numbers");
    spoofed.headers_mut().insert("x-forwarded-for", "192.0.2.99".parse().unwrap());
    assert_eq!(status(&e, &p, spoofed), 429, "the client's own X-Forwarded-For does not make it someone else");
    // Behind a trusted proxy, the address it appended is the client.
    for i in 0..3 {
        let mut req = from("10.1.2.3:1", "POST", "/api/numbers");
        req.headers_mut().insert("x-forwarded-for", format!("6.6.6.6, 192.0.2.{i}").parse().unwrap());
        assert_eq!(status(&e, &p, req), 200, "each client behind the proxy has its own limit");
    }
}

#[test]
fn two_instances_share_a_global_limit() {
    let store = Rc::new(Shared::default());
    let (a, b) = (edge(), edge());
    let p = Test::new(Some(store.clone()));
    let tenant = |ip: &str| {
        let mut r = from(ip, "GET", "/api/tenant/x");
        r.headers_mut().insert("x-tenant", "t1".parse().unwrap());
        r
    };
    assert_eq!(status(&a, &p, tenant("198.51.100.1:1")), 200);
    assert_eq!(status(&b, &p, tenant("198.51.100.2:1")), 200);
    assert_eq!(status(&a, &p, tenant("198.51.100.3:1")), 200);
    let refused = send(&b, &p, tenant("198.51.100.4:1"));
    assert_eq!(refused.response.status(), 429, "the fourth request of the window, on the other instance");
    assert_eq!(header(&refused, "retry-after"), "20");
    // A request without the key's header is not counted by it (as WAF): pair with an ip limit.
    assert_eq!(status(&b, &p, from("198.51.100.4:1", "GET", "/api/tenant/x")), 200);
}

#[test]
fn a_store_outage_fails_closed_or_open_as_configured_and_is_logged() {
    let store = Rc::new(Shared::default());
    store.down.set(true);
    let (e, p) = (edge(), Test::new(Some(store)));
    let mut req = from("198.51.100.1:1", "GET", "/api/tenant/x");
    req.headers_mut().insert("x-tenant", "t1".parse().unwrap());
    let closed = send(&e, &p, req);
    assert_eq!(closed.response.status(), 503);
    assert_eq!(header(&closed, "retry-after"), "5");
    assert!(closed
        .log
        .rate_limit_store
        .as_deref()
        .unwrap()
        .contains("shared: the rate-limit store did not answer within 50ms; failed closed"));
    let open = send(&e, &p, from("198.51.100.1:1", "GET", "/api/lenient/x"));
    assert_eq!(open.response.status(), 200);
    assert!(open
        .log
        .rate_limit_store
        .as_deref()
        .unwrap()
        .contains("lenient: the rate-limit store did not answer within 250ms; failed open"));
    // A platform without a store at all behaves the same way.
    let none = Test::new(None);
    assert_eq!(status(&e, &none, from("198.51.100.1:1", "GET", "/api/lenient/x")), 200);
}

fn keyed(ip: &str, key: &str) -> Request<Bytes> {
    let mut r = from(ip, "GET", "/api/partners/feed");
    r.headers_mut().insert("x-api-key", key.parse().unwrap());
    r
}

#[test]
fn api_key_plans_set_the_rate_and_the_daily_quota() {
    let store = Rc::new(Shared::default());
    let (e, p) = (edge(), Test::new(Some(store)));
    let first = send(&e, &p, keyed("198.51.100.1:1", GOLD_KEY));
    assert_eq!(first.response.status(), 200);
    assert_eq!(header(&first, "ratelimit-policy"), r#""guesses";q=3;w=60, "partners";q=3;w=1, "partners:daily";q=5;w=86400"#);
    // `guesses` was only checked (nothing failed), so it has a policy but no state.
    assert_eq!(header(&first, "ratelimit"), r#""partners";r=2;t=1, "partners:daily";r=4;t=57600"#);
    assert_eq!(status(&e, &p, keyed("198.51.100.1:1", GOLD_KEY)), 200);
    assert_eq!(status(&e, &p, keyed("198.51.100.1:1", GOLD_KEY)), 200);
    assert_eq!(status(&e, &p, keyed("198.51.100.1:1", GOLD_KEY)), 429, "the plan's burst of 3 is used up");
    p.advance(Duration::from_secs(1));
    assert_eq!(status(&e, &p, keyed("198.51.100.1:1", GOLD_KEY)), 200);
    assert_eq!(status(&e, &p, keyed("198.51.100.1:1", GOLD_KEY)), 200);
    let over = send(&e, &p, keyed("198.51.100.1:1", GOLD_KEY));
    assert_eq!(over.response.status(), 429, "five a day");
    assert_eq!(over.log.rate_limit.as_deref(), Some("partners:daily"));
    assert_eq!(header(&over, "retry-after"), "57599", "until midnight UTC");
    // Another consumer has its own plan and counters.
    assert_eq!(status(&e, &p, keyed("198.51.100.1:1", TINY_KEY)), 200);
    assert_eq!(status(&e, &p, keyed("198.51.100.1:1", TINY_KEY)), 429);
}

#[test]
fn failed_identity_counts_against_the_ip_and_stops_lookups() {
    let store = Rc::new(Shared::default());
    let (e, p) = (edge(), Test::new(Some(store)));
    for i in 0..3 {
        let h = send(&e, &p, keyed("198.51.100.9:1", &format!("vk_guess{i}")));
        assert_eq!(h.response.status(), 401);
        assert_eq!(header(&h, "ratelimit"), format!("\"guesses\";r={};t={}", 2 - i, 20 * (i + 1)));
    }
    assert_eq!(p.lookups.get(), 3);
    let refused = send(&e, &p, keyed("198.51.100.9:1", "vk_guess3"));
    assert_eq!(refused.response.status(), 429);
    assert_eq!(refused.log.rate_limit.as_deref(), Some("guesses"));
    assert_eq!(p.lookups.get(), 3, "no lookup once the guesser is over the limit");
    // Even the right key waits: the address is refused before identity.
    assert_eq!(status(&e, &p, keyed("198.51.100.9:1", GOLD_KEY)), 429);
    // Good keys and missing keys do not count; other addresses are not affected.
    assert_eq!(status(&e, &p, keyed("198.51.100.10:1", GOLD_KEY)), 200);
    for _ in 0..5 {
        assert_eq!(status(&e, &p, from("198.51.100.11:1", "GET", "/api/partners/feed")), 401);
    }
    assert_eq!(status(&e, &p, keyed("198.51.100.11:1", TINY_KEY)), 200);
}

#[test]
fn access_rules_answer_403_before_identity() {
    let (e, p) = (edge(), Test::new(None));
    assert_eq!(status(&e, &p, from("203.0.113.5:1", "GET", "/api/office/x")), 200);
    assert_eq!(status(&e, &p, from("[2001:db8::5]:1", "GET", "/api/office/x")), 200);
    let denied = send(&e, &p, from("198.51.100.1:1", "GET", "/api/office/x"));
    assert_eq!(denied.response.status(), 403);
    assert!(String::from_utf8_lossy(denied.response.body().as_ref()).contains("https://verge.dev/problems/access-denied"));
    assert_eq!(denied.log.error.as_deref(), Some("access rule \"office\": the address is not allowed"));
    // The country from a trusted proxy; a client's own header is not believed.
    let mut proxied = from("10.0.0.1:1", "GET", "/api/office/x");
    proxied.headers_mut().insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
    proxied.headers_mut().insert("x-country", "KP".parse().unwrap());
    assert_eq!(status(&e, &p, proxied), 403);
    let mut own = from("203.0.113.9:1", "GET", "/api/office/x");
    own.headers_mut().insert("x-country", "KP".parse().unwrap());
    assert_eq!(status(&e, &p, own), 200);
    // No address known (an adapter that gave none): an allow list refuses.
    assert_eq!(status(&e, &p, Request::get("/api/office/x").body(Bytes::new()).unwrap()), 403);
}
