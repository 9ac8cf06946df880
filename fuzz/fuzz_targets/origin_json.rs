//! The origin's JSON request bodies: numbers, order batches, API-key creation and vault
//! connections, each in a correctly signed request (so the body reaches its parser), answered
//! with a status and a problem body, never a panic. Storage answers `{}` at once.
#![no_main]
use std::collections::HashMap;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use libfuzzer_sys::fuzz_target;
use verge_origin::{Origin, OriginConfig, Platform};
use verge_signing::{sign, Credentials, Profile, Scope};

const EDGE_SECRET: &str = "Qn5rVw8Kx2Lz7Hc1Md4Tb9Jf6Gy3Pa0Se5Uo8Ri2WkA";
const NOW: u64 = 1_795_305_600;

struct Fake;

impl Platform for Fake {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }
    fn random(&self) -> [u8; 16] {
        [1; 16]
    }
    async fn sleep(&self, _d: Duration) {}
    async fn send(&self, _req: Request<Bytes>) -> Result<Response<Bytes>, String> {
        Ok(Response::builder().status(200).body(Bytes::from_static(b"{}")).unwrap())
    }
}

fn origin() -> Origin {
    let env: HashMap<&str, &str> = [
        ("VERGE_DDB_ENDPOINT", "http://ddb.test"),
        ("VERGE_DDB_ACCESS_KEY_ID", "ddb-id"),
        ("VERGE_DDB_SECRET_ACCESS_KEY", "ddb-secret"),
        ("VERGE_EDGE_ACCESS_KEY_ID", "edge-id"),
        ("VERGE_EDGE_SECRET_ACCESS_KEY", EDGE_SECRET),
        ("VERGE_VAULT_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ("VERGE_VAULT_ACTIVE_KEY", "k1"),
    ]
    .into();
    Origin::new(OriginConfig::from_env(&|k| env.get(k).map(|v| v.to_string())).expect("the fuzz config is valid"))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    thread_local! { static ORIGIN: Origin = origin(); }
    let Some((&which, body)) = data.split_first() else { return };
    let (method, path, headers): (&str, &str, &[(&str, &str)]) = match which % 5 {
        0 => ("POST", "/api/numbers", &[("x-verge-user", "u1")]),
        1 => ("POST", "/api/numbers", &[("x-verge-user", "u1"), ("idempotency-key", "fuzz-key-1")]),
        2 => ("POST", "/api/partners/acme/orders", &[("x-verge-consumer", "acme")]),
        3 => ("POST", "/api/admin/keys", &[("x-verge-user", "admin"), ("x-verge-scopes", "admin")]),
        _ => ("PUT", "/api/me/connections/bank", &[("x-verge-user", "u1")]),
    };
    let mut req = Request::builder().method(method).uri(format!("http://origin.test{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Bytes::copy_from_slice(body)).unwrap();
    let scope = Scope { region: "us-east-1".into(), service: "execute-api".into() };
    sign(&mut req, &Credentials::new("edge-id", EDGE_SECRET, None), &scope, Profile::Api, UNIX_EPOCH + Duration::from_secs(NOW))
        .expect("signs");
    let (resp, _log) = ORIGIN.with(|o| block_on(o.handle(req, &Fake)));
    let status = resp.status().as_u16();
    assert!(status != 403, "a signed request was refused: {:?}", resp.body());
    assert!(status < 500 || status == 502 || status == 503, "{status}: {:?}", resp.body());
});
