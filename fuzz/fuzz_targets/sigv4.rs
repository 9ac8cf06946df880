//! SigV4 verification (`verge_signing::verify`): any request is verified or refused with a
//! `VerifyError`, never a panic; a request signed by `sign` verifies, and the same request with
//! one byte of its body, path or query changed does not.
#![no_main]
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;
use verge_signing::{sign, verify, Credentials, Profile, Scope};

const SECRET: &str = "Qn5rVw8Kx2Lz7Hc1Md4Tb9Jf6Gy3Pa0Se5Uo8Ri2WkA";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(s) = std::str::from_utf8(rest) else { return };
    let now = UNIX_EPOCH + Duration::from_secs(1_795_305_600);
    let scope = Scope { region: "us-east-1".into(), service: "execute-api".into() };
    let creds = Credentials::new("edge-id", SECRET, None);
    let lookup = |id: &str| (id == "edge-id").then(|| creds.clone());
    let mut lines = s.split('\n');
    let target = lines.next().unwrap_or("/");
    if mode % 2 == 0 {
        // Arbitrary headers (an attacker's own Authorization and x-amz-date) and path.
        let mut headers = HeaderMap::new();
        for line in lines.by_ref() {
            let Some((k, v)) = line.split_once(':') else { continue };
            let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.trim().as_bytes()), HeaderValue::from_str(v.trim())) else { continue };
            headers.append(k, v);
        }
        let r = verify(&Method::POST, "origin.test", target, &headers, rest, &lookup, &scope, now);
        assert!(r.is_err(), "an unsigned fuzzed request verified: {target:?}");
        return;
    }
    // A real signature over a fuzzed path, query, header and body.
    let body = lines.next().unwrap_or("").as_bytes().to_vec();
    let Ok(uri) = format!("http://origin.test{target}").parse::<http::Uri>() else { return };
    // The target may reach into the authority ("origin.test:" from a target of ":"): then the
    // request is signed for another host than the one verified, and refusing it is right.
    if uri.authority().map(http::uri::Authority::as_str) != Some("origin.test") {
        return;
    }
    let Some(pq) = uri.path_and_query().map(|p| p.as_str().to_owned()) else { return };
    if !pq.starts_with('/') {
        return;
    }
    let mut req = Request::builder().method("POST").uri(uri).body(Bytes::from(body.clone())).unwrap();
    if let Some(v) = lines.next().and_then(|v| HeaderValue::from_str(v).ok()) {
        req.headers_mut().insert("x-verge-user", v);
    }
    if sign(&mut req, &creds, &scope, Profile::Api, now).is_err() {
        return;
    }
    let ok = verify(&Method::POST, "origin.test", &pq, req.headers(), &body, &lookup, &scope, now);
    // The signer normalises `.`/`..`/`//` (AWS's API profile) and the verifier takes the exact
    // path: such paths are refused, which the origin relies on.
    let plain = !pq.split('?').next().unwrap_or("").contains("//") && !pq.split(['/', '?']).any(|seg| seg == "." || seg == "..");
    if plain {
        assert!(ok.is_ok(), "a signed request was refused: {pq:?}: {ok:?}");
    }
    let mut tampered = body.clone();
    tampered.push(b'x');
    assert!(verify(&Method::POST, "origin.test", &pq, req.headers(), &tampered, &lookup, &scope, now).is_err());
    assert!(verify(&Method::PUT, "origin.test", &pq, req.headers(), &body, &lookup, &scope, now).is_err());
});
