//! What the edge core costs per request, natively, with the origin answered in memory: the
//! JWT-protected proxied route of `tests/bench/edge-bench.toml` with one repeated (cached) token,
//! its open route, and the open route with a full response policy (a headers policy with every
//! security header and `Server-Timing`, CORS for an allowed origin, a client `traceparent` and
//! `tracestate`), in interleaved rounds. Prints medians; run with
//! `cargo run --release --example pipeline_cost`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a benchmark reads the clock

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::{Request, Response};
use p256::ecdsa::signature::Signer;
use verge_edge::config::Reference;
use verge_edge::{Edge, Platform, UpstreamError};

const NOW: u64 = 1_800_000_000;

struct Origin {
    jwks: String,
    requests: std::cell::Cell<u64>,
}

/// The platform: a fixed clock, entropy that changes per request, the origin answered in memory.
impl Platform for Origin {
    type Body = Bytes;

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn entropy(&self) -> [u8; 16] {
        let n = self.requests.get().wrapping_add(1);
        self.requests.set(n);
        [n as u8; 16]
    }

    async fn forward(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.send(req).await
    }

    async fn read(&self, body: Bytes) -> Result<Bytes, UpstreamError> {
        Ok(body)
    }

    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        let body = if req.uri().path().ends_with("jwks.json") { self.jwks.clone() } else { r#"{"ok":true}"#.to_owned() };
        Ok(Response::builder()
            .header("content-type", "application/json")
            .header("cache-control", "max-age=600")
            .body(Bytes::from(body))
            .unwrap())
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let jwks = serde_json::json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "ec1", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()) }] });
    let header = b64(br#"{"alg":"ES256","kid":"ec1","typ":"JWT"}"#);
    let claims = serde_json::json!({ "iss": "https://id.verge.local", "aud": "verge", "sub": "user-1", "exp": NOW + 3600, "iat": NOW - 10, "scope": "read" });
    let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    let token = format!("{input}.{}", b64(&sig.to_bytes()));

    let config = include_str!("../../../tests/bench/edge-bench.toml");
    let lookup = |r: &Reference| {
        Some(match r.name() {
            "VERGE_ORIGIN_URL" => "http://127.0.0.1:9000".to_owned(),
            "VERGE_JWKS_URL" => "http://127.0.0.1:9001/.well-known/jwks.json".to_owned(),
            "VERGE_ORIGIN_SECRET_ACCESS_KEY" => "KI63IiJ-87HDyOjBMEQWHKu6p-1Gkd2OZqKpQdksK64".to_owned(),
            _ => "bench".to_owned(),
        })
    };
    let edge = Edge::from_toml("edge-bench.toml", config, &lookup).unwrap();
    let origin = Origin { jwks: jwks.to_string(), requests: std::cell::Cell::new(0) };
    let request = |path: &str, auth: bool, policy: bool| {
        let mut r = Request::get(format!("http://edge.test{path}"))
            .header("host", "edge.test")
            .header("user-agent", "wrk")
            .header("accept", "*/*")
            .body(Bytes::new())
            .unwrap();
        if auth {
            r.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        if policy {
            let h = r.headers_mut();
            h.insert("origin", "https://app.example.com".parse().unwrap());
            h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
            h.insert("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".parse().unwrap());
        }
        r
    };
    let cases = [
        ("JWT route, cached token", "/api/x", true, false),
        ("open route", "/open/x", false, false),
        ("open route + headers policy, CORS, trace", "/policy/x", false, true),
    ];
    // Interleaved: each round runs every case once, so machine noise falls on all alike.
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..21 {
        for (i, (_, path, auth, policy)) in cases.iter().enumerate() {
            let n = 2000;
            let t = Instant::now();
            for _ in 0..n {
                let h = block_on(edge.serve(request(path, *auth, *policy), &origin));
                assert_eq!(h.response.status(), 200);
                if *policy {
                    assert!(h.response.headers().contains_key("access-control-allow-origin"));
                }
                std::hint::black_box(h.log.to_json());
            }
            if round > 0 {
                samples[i].push(t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
            }
        }
    }
    for ((name, ..), s) in cases.iter().zip(&mut samples) {
        s.sort_by(f64::total_cmp);
        println!("{name}: median {:.1} µs per request (native, 20 interleaved rounds of 2000)", s[s.len() / 2]);
    }
}
