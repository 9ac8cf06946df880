//! In-memory tests of the origin: a platform with a fixed clock that records DynamoDB calls and
//! answers them from a script. Storage behaviour itself is tested against a real
//! DynamoDB-protocol server in the black-box suite.
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use serde_json::Value;
use verge_signing::{sign, Profile, Scope};

use super::*;

struct Fake {
    now: SystemTime,
    calls: RefCell<Vec<(String, Value)>>,
    answers: HashMap<&'static str, (u16, &'static str)>,
}

impl Fake {
    fn new() -> Self {
        Fake { now: UNIX_EPOCH + Duration::from_secs(1_795_305_600), calls: RefCell::default(), answers: HashMap::new() }
    }
    fn ops(&self) -> Vec<String> {
        self.calls.borrow().iter().map(|(o, _)| o.clone()).collect()
    }
}

impl Platform for Fake {
    fn now(&self) -> SystemTime {
        self.now
    }
    fn random(&self) -> [u8; 16] {
        [1; 16]
    }
    async fn sleep(&self, _d: Duration) {}
    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, String> {
        let op = req.headers()["x-amz-target"].to_str().unwrap().trim_start_matches("DynamoDB_20120810.").to_owned();
        assert!(req.headers()["authorization"].to_str().unwrap().contains("/us-east-1/dynamodb/aws4_request"));
        self.calls.borrow_mut().push((op.clone(), serde_json::from_slice(req.body()).unwrap()));
        let (status, body) = self.answers.get(op.as_str()).copied().unwrap_or((200, "{}"));
        Ok(Response::builder().status(status).body(Bytes::from_static(body.as_bytes())).unwrap())
    }
}

/// The edge -> origin secret: 32 bytes, base64url (weaker ones are refused at startup).
const EDGE_SECRET: &str = "Qn5rVw8Kx2Lz7Hc1Md4Tb9Jf6Gy3Pa0Se5Uo8Ri2WkA";

fn origin() -> Origin {
    let env: HashMap<&str, &str> = [
        ("VERGE_DDB_ENDPOINT", "http://ddb.test"),
        ("VERGE_DDB_ACCESS_KEY_ID", "ddb-id"),
        ("VERGE_DDB_SECRET_ACCESS_KEY", "ddb-secret"),
        ("VERGE_EDGE_ACCESS_KEY_ID", "edge-id"),
        ("VERGE_EDGE_SECRET_ACCESS_KEY", EDGE_SECRET),
    ]
    .into();
    Origin::new(OriginConfig::from_env(&|k| env.get(k).map(|v| v.to_string())).unwrap())
}

fn signed(method: &str, uri: &str, body: &str, at: SystemTime) -> Request<Bytes> {
    let mut req = Request::builder().method(method).uri(format!("http://origin.test{uri}")).body(Bytes::from(body.to_owned())).unwrap();
    let scope = Scope { region: "us-east-1".into(), service: "execute-api".into() };
    sign(&mut req, &Credentials::new("edge-id", EDGE_SECRET, None), &scope, Profile::Api, at).unwrap();
    req
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn run(o: &Origin, p: &Fake, req: Request<Bytes>) -> (u16, Value) {
    let (resp, _) = block_on(o.handle(req, p));
    (resp.status().as_u16(), serde_json::from_slice(resp.body()).unwrap_or(Value::Null))
}

#[test]
fn unsigned_tampered_and_stale_requests_are_403_before_storage() {
    let (o, p) = (origin(), Fake::new());
    let unsigned = Request::post("http://origin.test/api/numbers").body(Bytes::from_static(b"{\"value\":1}")).unwrap();
    let (status, body) = run(&o, &p, unsigned);
    assert_eq!(status, 403);
    assert_eq!(body["type"], "https://verge.dev/problems/signature-refused");

    let mut tampered = signed("POST", "/api/numbers", "{\"value\":1}", p.now);
    *tampered.body_mut() = Bytes::from_static(b"{\"value\":2}");
    assert_eq!(run(&o, &p, tampered).0, 403);

    let stale = signed("POST", "/api/numbers", "{\"value\":1}", p.now - Duration::from_secs(301));
    let (resp, log) = block_on(o.handle(stale, &p));
    assert_eq!(resp.status(), 403);
    // Issue 12, finding 11: the caller is told "forbidden"; the reason goes to the log only.
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["detail"], "forbidden");
    assert!(log.error.as_deref().unwrap_or("").contains("5 minutes"), "{:?}", log.error);
    assert!(!String::from_utf8_lossy(resp.body()).contains("5 minutes"));
    assert!(p.ops().is_empty(), "nothing reached storage");
}

#[test]
fn a_number_is_one_transaction_and_two_conditional_updates() {
    let (o, p) = (origin(), Fake::new());
    let (status, body) = run(&o, &p, signed("POST", "/api/numbers", "{\"value\": 2.5}", p.now));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["value"], 2.5);
    assert_eq!(body["day"], "2026-11-22");
    assert_eq!(p.ops(), ["TransactWriteItems", "UpdateItem", "UpdateItem"]);
    let calls = p.calls.borrow();
    let tx = &calls[0].1["TransactItems"];
    assert_eq!(tx[0]["Put"]["Item"]["value"]["N"], "2.5");
    assert_eq!(tx[1]["Update"]["UpdateExpression"], "ADD #c :one, #s :v SET #mn = if_not_exists(#mn, :v), #mx = if_not_exists(#mx, :v)");
    assert_eq!(tx[1]["Update"]["Key"]["sk"]["S"], "2026-11-22");
    assert_eq!(calls[1].1["ConditionExpression"], "attribute_not_exists(#a) OR #a > :v");
}

#[test]
fn a_lost_min_race_is_not_an_error() {
    let (o, mut p) = (origin(), Fake::new());
    p.answers.insert("UpdateItem", (400, r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}"#));
    assert_eq!(run(&o, &p, signed("POST", "/api/numbers", "{\"value\": 1}", p.now)).0, 201);
}

#[test]
fn throttling_is_retried_then_503() {
    let (o, mut p) = (origin(), Fake::new());
    p.answers.insert("TransactWriteItems", (400, r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"}"#));
    let (status, _) = run(&o, &p, signed("POST", "/api/numbers", "{\"value\": 1}", p.now));
    assert_eq!(status, 503);
    assert_eq!(p.ops().len(), dynamo::MAX_ATTEMPTS as usize);
}

#[test]
fn stats_read_one_query_and_page_through() {
    let (o, mut p) = (origin(), Fake::new());
    p.answers.insert(
        "Query",
        (200, r#"{"Items":[{"pk":{"S":"anonymous"},"sk":{"S":"2026-11-22"},"count":{"N":"2"},"sum":{"N":"5"},"min":{"N":"1"},"max":{"N":"4"}}]}"#),
    );
    let (status, body) = run(&o, &p, signed("GET", "/api/stats/daily?from=2026-11-01&to=2026-11-30", "", p.now));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["days"][0]["mean"], 2.5);
    assert_eq!(body["days"][0]["count"], 2);
    assert_eq!(p.ops(), ["Query"]);
}

#[test]
/// The anonymous figures may be kept briefly by the edge (CDN-Cache-Control), never by browsers;
/// a signed-in user's own figures by nobody.
fn anonymous_stats_are_cacheable_by_the_edge_only() {
    let (o, mut p) = (origin(), Fake::new());
    p.answers.insert("Query", (200, r#"{"Items":[]}"#));
    let anonymous = signed("GET", "/api/stats/daily?from=2026-11-01&to=2026-11-30", "", p.now);
    let (resp, _) = block_on(o.handle(anonymous, &p));
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["cdn-cache-control"], crate::numbers::STATS_CDN_CACHE_CONTROL);
    let mut req = Request::get("http://origin.test/api/stats/daily?from=2026-11-01&to=2026-11-30")
        .header(crate::identity::USER, "ada")
        .body(Bytes::new())
        .unwrap();
    let scope = Scope { region: "us-east-1".into(), service: "execute-api".into() };
    sign(&mut req, &Credentials::new("edge-id", EDGE_SECRET, None), &scope, Profile::Api, p.now).unwrap();
    let (resp, _) = block_on(o.handle(req, &p));
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("cdn-cache-control").is_none());
}

#[test]
fn routes_methods_and_bodies() {
    let (o, p) = (origin(), Fake::new());
    assert_eq!(run(&o, &p, signed("GET", "/api/nope", "", p.now)).0, 404);
    let req = signed("DELETE", "/api/numbers", "", p.now);
    let (resp, _) = block_on(o.handle(req, &p));
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let (status, body) = run(&o, &p, signed("POST", "/api/numbers", "{\"value\": \"x\"}", p.now));
    assert_eq!((status, body["field"].as_str()), (400, Some("value")));
    let (status, body) = run(&o, &p, signed("POST", "/api/numbers", "{\"value\": ", p.now));
    assert_eq!((status, body["type"].as_str()), (400, Some("https://verge.dev/problems/malformed-json")));
    let (status, body) = run(&o, &p, signed("GET", "/api/stats/daily?from=2026-01-01", "", p.now));
    assert_eq!((status, body["field"].as_str()), (400, Some("to")));
    let big = "1".repeat(MAX_BODY_BYTES + 1);
    assert_eq!(run(&o, &p, signed("POST", "/api/numbers", &big, p.now)).0, 413);
}

#[test]
fn health_needs_no_signature_and_reports_storage() {
    let (o, mut p) = (origin(), Fake::new());
    let (status, body) = run(&o, &p, Request::get("http://origin.test/health").body(Bytes::new()).unwrap());
    assert_eq!((status, body["storage"].as_str()), (200, Some("ok")));
    p.answers.insert("DescribeTable", (500, "{}"));
    let (status, body) = run(&o, &p, Request::get("http://origin.test/health").body(Bytes::new()).unwrap());
    assert_eq!((status, body["storage"].as_str()), (503, Some("unreachable")));
}

/// A platform whose BatchWriteItem leaves items unprocessed a few times.
struct Unprocessed {
    inner: Fake,
    left: RefCell<u32>,
}

impl Platform for Unprocessed {
    fn now(&self) -> SystemTime {
        self.inner.now
    }
    fn random(&self) -> [u8; 16] {
        [2; 16]
    }
    async fn sleep(&self, _d: Duration) {}
    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, String> {
        let body: Value = serde_json::from_slice(req.body()).unwrap();
        self.inner.calls.borrow_mut().push(("BatchWriteItem".into(), body.clone()));
        let mut left = self.left.borrow_mut();
        let out = if *left > 0 {
            *left -= 1;
            let items = body["RequestItems"]["t"].as_array().unwrap();
            serde_json::json!({ "UnprocessedItems": { "t": [items[0].clone()] } })
        } else {
            serde_json::json!({ "UnprocessedItems": {} })
        };
        Ok(Response::new(Bytes::from(out.to_string())))
    }
}

#[test]
fn unprocessed_items_are_resubmitted_until_written() {
    let o = origin();
    let p = Unprocessed { inner: Fake::new(), left: RefCell::new(2) };
    let items: Vec<Value> = (0..30).map(|i| serde_json::json!({ "pk": { "S": "p" }, "sk": { "S": i.to_string() } })).collect();
    block_on(o.dynamo.batch_put(&p, "t", items)).unwrap();
    let calls = p.inner.calls.borrow();
    let sizes: Vec<usize> = calls.iter().map(|(_, b)| b["RequestItems"]["t"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [25, 1, 1, 5], "25 per batch; the unprocessed item resubmitted alone");

    let p = Unprocessed { inner: Fake::new(), left: RefCell::new(100) };
    let items = vec![serde_json::json!({ "pk": { "S": "p" }, "sk": { "S": "x" } })];
    assert_eq!(block_on(o.dynamo.batch_put(&p, "t", items)), Err(DynamoError::Throttled), "bounded, and reported");
}

#[test]
fn a_weak_edge_secret_is_refused_at_start_by_name_never_by_value() {
    let config = |secret: &str| {
        let env: HashMap<&str, String> = [
            ("VERGE_DDB_ACCESS_KEY_ID", "ddb-id".to_owned()),
            ("VERGE_DDB_SECRET_ACCESS_KEY", "ddb-secret".to_owned()),
            ("VERGE_EDGE_ACCESS_KEY_ID", "edge-id".to_owned()),
            ("VERGE_EDGE_SECRET_ACCESS_KEY", secret.to_owned()),
        ]
        .into();
        OriginConfig::from_env(&|k| env.get(k).cloned())
    };
    assert!(config(EDGE_SECRET).is_ok());
    // DynamoDB's keys are AWS's (or moto's) to choose: "ddb-secret" is not checked.
    for weak in ["edge-secret", "a-secret-of-31-bytes-0123456789", &"changeme".repeat(8), &EDGE_SECRET[..42]] {
        let e = config(weak).unwrap_err().to_string();
        assert!(e.contains("VERGE_EDGE_SECRET_ACCESS_KEY") && e.contains("too weak"), "{e}");
        assert!(!e.contains(weak), "the value never appears: {e}");
    }
}

#[test]
fn the_cursor_key_is_derived_from_the_edge_secret_with_hkdf() {
    let o = origin();
    let key = crate::cursor::CursorKey::new(&verge_signing::secret::derive_key(EDGE_SECRET, "verge/origin/cursor-key"));
    let last = serde_json::json!({ "pk": { "S": "P#acme" } });
    assert_eq!(o.config.cursor_key.seal("ctx", &last), key.seal("ctx", &last));
}

#[test]
fn dot_segments_are_refused_before_the_signature_and_never_routed() {
    let (o, p) = (origin(), Fake::new());
    for path in ["/api/admin/keys/..", "/api/admin/keys/x/..", "/api/partners/./orders", "/api/me/connections/%2E%2e", "/api/./numbers"] {
        let (status, body) = run(&o, &p, signed("DELETE", path, "", p.now));
        assert_eq!((status, body["field"].as_str()), (400, Some("path")), "{path}: {body}");
    }
    assert!(p.ops().is_empty(), "nothing reached storage");
    assert_eq!(routes::route("/api/admin/keys/.."), None);
    assert_eq!(routes::route("/api/partners/./orders"), None);
    assert_eq!(routes::route("/api/partners/a.b/orders"), Some(routes::Route::PartnerOrders("a.b")));
}

#[test]
fn every_log_line_carries_the_edges_trace_id() {
    let (o, p) = (origin(), Fake::new());
    let mut req = signed("GET", "/api/stats/daily", "", p.now);
    req.headers_mut().insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
    let (_, log) = block_on(o.handle(req, &p));
    assert_eq!(log.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    // Refused before the body was read, and refused for a bad signature: the same line.
    let mut big = Request::post("http://origin.test/api/numbers").body(()).unwrap();
    big.headers_mut().insert("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00".parse().unwrap());
    let (_, log) = Origin::refuse(&big, ApiError::TooLarge { limit: 1 });
    assert_eq!(log.trace_id, "0af7651916cd43dd8448eb211c80319c");
    for bad in
        ["00-00000000000000000000000000000000-b7ad6b7169203331-00", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-00", "x\"}"]
    {
        let mut r = Request::get("http://origin.test/x").body(Bytes::new()).unwrap();
        r.headers_mut().insert("traceparent", bad.parse().unwrap());
        assert_eq!(block_on(o.handle(r, &p)).1.trace_id, "", "{bad}");
    }
}
