//! Identity through the whole pipeline, in memory: an issuer whose JWKS the fake upstream serves
//! (and can rotate or take down), an origin that records what the edge forwards, a fake clock.
use std::cell::{Cell, RefCell};
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::{Request, Response};
use serde_json::{json, Value};

use crate::config::Reference;
use crate::tests::{block_on, run_all, YieldOnce};
use crate::{BufferedUpstream, Edge, UpstreamError};

const NOW: u64 = 1_800_000_000;
/// Secrets that pass the 32-byte rule (`verge_signing::secret`): 43 base64url characters.
const ORIGIN_SECRET: &str = "MO7Bw_-Ng_IHfFdUFj1wcRugPXJ2jYSGBRCgnxqMzBU";
const LEGACY_SECRET: &str = "CH9LWyRoZa_gZy_D1WSze9QflkifbxEbSctVB2bmu_Q";
const SESSION_SECRET: &str = "X-2MuEqhgcyl0a-y1cYZGkRWv-aq5Tjr9t-DDrJWZf8";

const CONFIG: &str = r#"
[origins.api]
type = "http"
url = "http://origin.test"
service = "execute-api"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[origins.web]
type = "s3"
bucket = "site"
region = "us-east-1"
endpoint = "http://s3.test"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[auth.jwt.main]
issuer = "https://id.test"
audiences = ["verge"]
jwks_url = "http://id.test/jwks.json"
algorithms = ["RS256", "ES256", "EdDSA"]
forward_claims = { email = "x-verge-email" }
jwks_refetch_interval_s = 30

[auth.jwt.legacy]
issuer = "https://legacy.test"
audiences = ["verge"]
algorithms = ["HS256"]
hs256_secret = { secret = "LEGACY_SECRET" }

[auth.api_key]
origin = "api"

[[behaviours]]
path = "/api/admin/*"
origin = "api"
methods = ["GET", "HEAD", "POST", "OPTIONS"]
auth = { jwt = ["main"], scopes = ["admin"] }
allow_preflight = true

[[behaviours]]
path = "/api/partners/*"
origin = "api"
methods = ["GET", "HEAD", "POST"]
auth = { any_of = [{ jwt = ["main"] }, "api_key"] }

[[behaviours]]
path = "/api/*"
origin = "api"
methods = ["GET", "HEAD", "POST"]
auth = { jwt = ["main", "legacy"] }

[[behaviours]]
path = "*"
origin = "web"
"#;

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

struct Keys {
    ec: p256::ecdsa::SigningKey,
    ed: ed25519_dalek::SigningKey,
    rsa: rsa::RsaPrivateKey,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys {
        ec: p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap(),
        ed: ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]),
        rsa: rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap(),
    })
}

fn jwks(kids: &[&str]) -> String {
    use rsa::traits::PublicKeyParts;
    let k = keys();
    let ec = k.ec.verifying_key().to_encoded_point(false);
    let rsa_pub = k.rsa.to_public_key();
    let all = [
        json!({ "kty": "EC", "crv": "P-256", "kid": "ec1", "x": b64(ec.x().unwrap()), "y": b64(ec.y().unwrap()) }),
        json!({ "kty": "OKP", "crv": "Ed25519", "kid": "ed1", "x": b64(k.ed.verifying_key().as_bytes()) }),
        json!({ "kty": "RSA", "kid": "rsa1", "n": b64(&rsa_pub.n().to_bytes_be()), "e": b64(&rsa_pub.e().to_bytes_be()) }),
    ];
    json!({ "keys": all.into_iter().filter(|j| kids.contains(&j["kid"].as_str().unwrap())).collect::<Vec<_>>() }).to_string()
}

fn claims(extra: Value) -> Value {
    let mut c = json!({ "iss": "https://id.test", "aud": "verge", "sub": "user-1", "exp": NOW + 600, "iat": NOW - 10, "scope": "read admin", "email": "u@example.com" });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn sign_with(header: Value, payload: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
    let k = keys();
    let sig: Vec<u8> = match header["alg"].as_str().unwrap() {
        "ES256" => {
            use p256::ecdsa::signature::Signer;
            let s: p256::ecdsa::Signature = k.ec.sign(input.as_bytes());
            s.to_bytes().to_vec()
        }
        "EdDSA" => {
            use ed25519_dalek::Signer;
            k.ed.sign(input.as_bytes()).to_bytes().to_vec()
        }
        "RS256" => {
            use rsa::signature::{SignatureEncoding, Signer};
            rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.rsa.clone()).sign(input.as_bytes()).to_vec()
        }
        "HS256" => {
            use hmac::Mac;
            let secret = header.get("x-secret").and_then(Value::as_str).unwrap_or(LEGACY_SECRET).to_owned();
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        _ => Vec::new(),
    };
    format!("{input}.{}", b64(&sig))
}

fn token(alg: &str, kid: &str, extra: Value) -> String {
    sign_with(json!({ "alg": alg, "kid": kid, "typ": "JWT" }), &claims(extra))
}

/// The issuer, the origin and the bucket.
struct World {
    jwks: RefCell<String>,
    jwks_down: Cell<bool>,
    jwks_fetches: Cell<u32>,
    forwarded: RefCell<Vec<Request<Bytes>>>,
    lookups: Cell<u32>,
    /// The origin refuses connections.
    origin_down: Cell<bool>,
    /// Refresh-token grants and revocation requests the issuer received (their form bodies).
    refreshes: RefCell<Vec<String>>,
    revocations: RefCell<Vec<String>>,
    /// An ID token the token endpoint returns with renewals (none when unset).
    id_token: RefCell<Option<String>>,
}

impl World {
    fn new() -> Self {
        World {
            jwks: RefCell::new(jwks(&["ec1", "ed1", "rsa1"])),
            jwks_down: Cell::new(false),
            jwks_fetches: Cell::new(0),
            forwarded: RefCell::default(),
            lookups: Cell::new(0),
            origin_down: Cell::new(false),
            refreshes: RefCell::default(),
            revocations: RefCell::default(),
            id_token: RefCell::default(),
        }
    }
}

impl BufferedUpstream for World {
    async fn fetch(&self, req: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        let ok = |status: u16, body: String| {
            Ok(Response::builder().status(status).header("cache-control", "max-age=600").body(Bytes::from(body)).unwrap())
        };
        match (req.uri().host(), req.uri().path()) {
            (Some("id.test"), "/jwks.json") => {
                self.jwks_fetches.set(self.jwks_fetches.get() + 1);
                if self.jwks_down.get() {
                    return Err(UpstreamError::Connect("refused".into()));
                }
                ok(200, self.jwks.borrow().clone())
            }
            (Some("origin.test"), "/api/keys/lookup") => {
                self.lookups.set(self.lookups.get() + 1);
                let hash = req.headers()["x-verge-api-key-hash"].to_str().unwrap();
                if hash == verge_signing::sha256_hex(b"vk_good") {
                    ok(200, json!({ "id": "k1", "consumer": "acme", "plan": { "rate_per_second": 5 } }).to_string())
                } else {
                    ok(404, "{}".into())
                }
            }
            (Some("id.test"), "/.well-known/openid-configuration") => ok(
                200,
                json!({
                    "issuer": "http://id.test", "authorization_endpoint": "http://id.test/auth",
                    "token_endpoint": "http://id.test/token", "jwks_uri": "http://id.test/jwks.json",
                    "revocation_endpoint": "http://id.test/revoke", "end_session_endpoint": "http://id.test/end",
                })
                .to_string(),
            ),
            (Some("id.test"), "/token") => {
                let n = {
                    let mut r = self.refreshes.borrow_mut();
                    r.push(String::from_utf8_lossy(req.body()).into_owned());
                    r.len()
                };
                YieldOnce(false).await;
                let mut tokens = json!({ "access_token": format!("at-{n}"), "refresh_token": format!("rt-{n}"), "expires_in": 300 });
                if let Some(t) = self.id_token.borrow().clone() {
                    tokens["id_token"] = t.into();
                }
                ok(200, tokens.to_string())
            }
            (Some("id.test"), "/revoke") => {
                self.revocations.borrow_mut().push(String::from_utf8_lossy(req.body()).into_owned());
                ok(200, String::new())
            }
            (Some("origin.test"), _) if self.origin_down.get() => Err(UpstreamError::Connect("refused".into())),
            (Some("origin.test"), _) => {
                self.forwarded.borrow_mut().push(req);
                ok(200, "{}".into())
            }
            _ => ok(404, String::new()),
        }
    }
}

fn edge() -> Edge {
    edge_with(CONFIG)
}

/// The edge with another config and the same settings.
fn edge_with(config: &str) -> Edge {
    let lookup = |r: &Reference| match r.name() {
        "KEY_ID" => Some("AKIDTEST".to_owned()),
        "KEY" => Some(ORIGIN_SECRET.to_owned()),
        "LEGACY_SECRET" => Some(LEGACY_SECRET.to_owned()),
        _ => None,
    };
    Edge::from_toml("edge.toml", config, &lookup).unwrap()
}

fn call_at(e: &Edge, w: &World, req: Request<Bytes>, at: u64) -> Response<Bytes> {
    let clock = move || UNIX_EPOCH + Duration::from_secs(at);
    block_on(e.handle(req, w, &clock, [3; 16])).response.map(crate::Body::into_bytes)
}

fn call(e: &Edge, w: &World, req: Request<Bytes>) -> Response<Bytes> {
    call_at(e, w, req, NOW)
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Bytes> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::new()).unwrap()
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn challenge(r: &Response<Bytes>) -> String {
    r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[test]
fn valid_tokens_of_three_algorithms_reach_the_origin_with_identity_headers() {
    let (e, w) = (edge(), World::new());
    for (alg, kid) in [("ES256", "ec1"), ("EdDSA", "ed1"), ("RS256", "rsa1")] {
        let t = token(alg, kid, json!({}));
        let r = call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&t)), ("x-verge-user", "admin")]));
        assert_eq!(r.status(), 200, "{alg}: {}", challenge(&r));
        let fwd = w.forwarded.borrow().last().cloned().unwrap();
        assert_eq!(fwd.headers()["x-verge-user"], "user-1", "the client's x-verge-user was replaced");
        assert_eq!(fwd.headers()["x-verge-scopes"], "read admin");
        assert_eq!(fwd.headers()["x-verge-email"], "u@example.com");
        assert!(
            fwd.headers().get("authorization").unwrap().to_str().unwrap().starts_with("AWS4-HMAC-SHA256"),
            "the token is not forwarded"
        );
        assert!(
            fwd.headers()["authorization"].to_str().unwrap().contains("x-verge-email;x-verge-scopes;x-verge-user"),
            "identity headers are signed"
        );
    }
    assert_eq!(w.jwks_fetches.get(), 1, "one JWKS fetch serves all");
}

#[test]
fn the_usual_attacks_are_refused() {
    let (e, w) = (edge(), World::new());
    let good = claims(json!({}));
    // The classic confusion attack signs HS256 with the RSA public key's bytes as the secret.
    let rsa_pub_pem = {
        use rsa::traits::PublicKeyParts;
        hex::encode(keys().rsa.to_public_key().n().to_bytes_be())
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", format!("{}.{}.", b64(br#"{"alg":"none","kid":"ec1"}"#), b64(good.to_string().as_bytes())), "algorithm"),
        (
            "HS256 with the RSA public key as secret",
            sign_with(json!({ "alg": "HS256", "kid": "rsa1", "x-secret": rsa_pub_pem }), &good),
            "",
        ),
        ("unknown kid", token("ES256", "nope", json!({})), "no key matches"),
        ("expired", token("ES256", "ec1", json!({ "exp": NOW - 61 })), "expired"),
        ("not yet valid", token("ES256", "ec1", json!({ "nbf": NOW + 61 })), "not valid yet"),
        ("issued in the future", token("ES256", "ec1", json!({ "iat": NOW + 3600 })), "issued in the future"),
        ("wrong iss", token("ES256", "ec1", json!({ "iss": "https://evil.test" })), "issuer"),
        ("wrong aud", token("ES256", "ec1", json!({ "aud": "other" })), "audience"),
        ("no exp", token("ES256", "ec1", json!({ "exp": null })), "malformed"),
        ("truncated", token("ES256", "ec1", json!({}))[..40].to_owned(), "malformed"),
        ("oversized header", sign_with(json!({ "alg": "ES256", "kid": "ec1", "pad": "x".repeat(9000) }), &good), "too large"),
        ("unknown crit", sign_with(json!({ "alg": "ES256", "kid": "ec1", "crit": ["exp-v2"], "exp-v2": 1 }), &good), "critical"),
        ("jku elsewhere", sign_with(json!({ "alg": "ES256", "kid": "ec1", "jku": "https://evil.test/jwks" }), &good), "key location"),
        ("embedded jwk", sign_with(json!({ "alg": "ES256", "jwk": { "kty": "EC" } }), &good), "key location"),
    ];
    for (name, t, why) in cases {
        let r = call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&t))]));
        assert_eq!(r.status(), 401, "{name}");
        let c = challenge(&r);
        assert!(c.starts_with("Bearer error=\"invalid_token\""), "{name}: {c}");
        assert!(c.contains(why), "{name}: {c}");
        assert!(
            !c.contains(&t[..20.min(t.len())]) && !String::from_utf8_lossy(r.body()).contains(&t[..20.min(t.len())]),
            "{name}: the token is never echoed"
        );
    }
    // A tampered payload keeps a valid-looking signature from another payload.
    let t = token("ES256", "ec1", json!({}));
    let parts: Vec<&str> = t.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(claims(json!({ "sub": "admin" })).to_string().as_bytes()), parts[2]);
    let r = call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&tampered))]));
    assert!(challenge(&r).contains("signature is invalid"), "{}", challenge(&r));
    let r = call(&e, &w, get("/api/stats/daily", &[]));
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("no token"));
    assert!(w.forwarded.borrow().is_empty(), "nothing reached the origin");
}

/// RFC 8725 3.12: an ID token from the same issuer, naming this API as its audience (as Cognito's
/// ID tokens do with the app client id), is not an access token.
#[test]
fn id_tokens_are_not_accepted_as_access_tokens() {
    let (e, w) = (edge(), World::new());
    for extra in [json!({ "nonce": "n-1" }), json!({ "at_hash": "abc" }), json!({ "c_hash": "abc" }), json!({ "token_use": "id" })] {
        let t = token("ES256", "ec1", extra.clone());
        let r = call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&t))]));
        assert_eq!(r.status(), 401, "{extra}");
        assert!(challenge(&r).contains("invalid_token"), "{extra}: {}", challenge(&r));
    }
    let access = token("ES256", "ec1", json!({ "token_use": "access" }));
    assert_eq!(call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&access))])).status(), 200);
}

#[test]
fn scopes_and_preflight() {
    let (e, w) = (edge(), World::new());
    let reader = token("ES256", "ec1", json!({ "scope": "read" }));
    let r = call(&e, &w, get("/api/admin/keys", &[("authorization", &bearer(&reader))]));
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).starts_with("Bearer error=\"insufficient_scope\""), "{}", challenge(&r));
    let scp = token("ES256", "ec1", json!({ "scope": null, "scp": ["admin"] }));
    assert_eq!(call(&e, &w, get("/api/admin/keys", &[("authorization", &bearer(&scp))])).status(), 200, "scp works too");
    let preflight = Request::options("/api/admin/keys").header("access-control-request-method", "POST").body(Bytes::new()).unwrap();
    assert_eq!(call(&e, &w, preflight).status(), 200, "a preflight passes without a token");
    let plain_options = Request::options("/api/admin/keys").body(Bytes::new()).unwrap();
    assert_eq!(call(&e, &w, plain_options).status(), 401, "an OPTIONS that is not a preflight needs a token");
}

#[test]
fn verified_tokens_are_cached_until_they_expire() {
    let (e, w) = (edge(), World::new());
    let t = token("ES256", "ec1", json!({ "exp": NOW + 120 }));
    for _ in 0..5 {
        assert_eq!(call(&e, &w, get("/api/x", &[("authorization", &bearer(&t))])).status(), 200);
    }
    assert_eq!(e.auth_stats().signatures_verified, 1, "one signature check, four cache hits");
    assert_eq!(call_at(&e, &w, get("/api/x", &[("authorization", &bearer(&t))]), NOW + 200).status(), 401, "expired, even cached");
}

#[test]
fn jwks_rotation_refetches_on_an_unknown_kid_at_most_once_per_interval() {
    let (e, w) = (edge(), World::new());
    assert_eq!(call(&e, &w, get("/api/x", &[("authorization", &bearer(&token("ES256", "ec1", json!({}))))])).status(), 200);
    assert_eq!(w.jwks_fetches.get(), 1);
    // The issuer rotates: ec1 goes, ed1 stays (a new kid for this edge, which has cached only the old set? no: rotate to a set with only ed1).
    *w.jwks.borrow_mut() = jwks(&["ed1"]);
    let new_kid = token("EdDSA", "ed1", json!({ "sub": "after-rotation" }));
    // ed1 was already in the cached set: no fetch needed.
    assert_eq!(call(&e, &w, get("/api/x", &[("authorization", &bearer(&new_kid))])).status(), 200);
    assert_eq!(w.jwks_fetches.get(), 1);
    // An unknown kid within the refetch interval: refused without hammering the issuer.
    let unknown = token("RS256", "rsa2", json!({}));
    assert_eq!(call_at(&e, &w, get("/api/x", &[("authorization", &bearer(&unknown))]), NOW + 5).status(), 401);
    assert_eq!(w.jwks_fetches.get(), 1, "within 30 s of the last fetch: no refetch");
    // After the interval, an unknown kid refetches once; the old key is gone from the new set.
    let old = token("ES256", "ec1", json!({ "sub": "old-key" }));
    assert_eq!(call_at(&e, &w, get("/api/x", &[("authorization", &bearer(&unknown))]), NOW + 40).status(), 401);
    assert_eq!(w.jwks_fetches.get(), 2);
    let r = call_at(&e, &w, get("/api/x", &[("authorization", &bearer(&old))]), NOW + 45);
    assert_eq!(r.status(), 401, "the rotated-out key no longer verifies");
}

#[test]
fn a_jwks_outage_keeps_serving_with_cached_keys() {
    let (e, w) = (edge(), World::new());
    assert_eq!(call(&e, &w, get("/api/x", &[("authorization", &bearer(&token("ES256", "ec1", json!({}))))])).status(), 200);
    w.jwks_down.set(true);
    // Past the cache lifetime (600 s): a refetch fails, the cached keys still verify.
    let t = token("EdDSA", "ed1", json!({ "exp": NOW + 5000 }));
    assert_eq!(call_at(&e, &w, get("/api/x", &[("authorization", &bearer(&t))]), NOW + 700).status(), 200);
    assert_eq!(w.jwks_fetches.get(), 2);
    // A fresh edge with no cached keys answers 503, not 401.
    let e2 = edge();
    let r = call(&e2, &w, get("/api/x", &[("authorization", &bearer(&token("ES256", "ec1", json!({}))))]));
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
}

#[test]
fn hs256_only_with_its_configured_secret() {
    let (e, w) = (edge(), World::new());
    let legacy = sign_with(json!({ "alg": "HS256", "typ": "JWT" }), &claims(json!({ "iss": "https://legacy.test" })));
    assert_eq!(call(&e, &w, get("/api/x", &[("authorization", &bearer(&legacy))])).status(), 200);
    let forged = sign_with(json!({ "alg": "HS256", "x-secret": "guess" }), &claims(json!({ "iss": "https://legacy.test" })));
    assert_eq!(call(&e, &w, get("/api/x", &[("authorization", &bearer(&forged))])).status(), 401);
}

#[test]
fn api_keys_are_looked_up_once_and_cached_both_ways() {
    let (e, w) = (edge(), World::new());
    for _ in 0..3 {
        assert_eq!(call(&e, &w, get("/api/partners/acme/orders", &[("x-api-key", "vk_good")])).status(), 200);
    }
    assert_eq!(w.lookups.get(), 1, "positive verdict cached");
    let fwd = w.forwarded.borrow().last().cloned().unwrap();
    assert_eq!(fwd.headers()["x-verge-consumer"], "acme");
    assert_eq!(fwd.headers()["x-verge-plan"], r#"{"rate_per_second":5}"#);
    for _ in 0..3 {
        let r = call(&e, &w, get("/api/partners/acme/orders", &[("x-api-key", "vk_bad")]));
        assert_eq!(r.status(), 401);
    }
    assert_eq!(w.lookups.get(), 2, "negative verdict cached");
    // Past the negative TTL (30 s) the bad key is asked about again; the good one is still cached.
    call_at(&e, &w, get("/api/partners/acme/orders", &[("x-api-key", "vk_bad")]), NOW + 31);
    call_at(&e, &w, get("/api/partners/acme/orders", &[("x-api-key", "vk_good")]), NOW + 31);
    assert_eq!(w.lookups.get(), 3);
    // any_of: a JWT also opens partner routes; neither gives 401.
    assert_eq!(
        call(&e, &w, get("/api/partners/acme/orders", &[("authorization", &bearer(&token("ES256", "ec1", json!({}))))])).status(),
        200
    );
    assert_eq!(call(&e, &w, get("/api/partners/acme/orders", &[])).status(), 401);
}

#[test]
fn tokens_from_cookies_and_other_headers() {
    let cfg = CONFIG.replace(
        "forward_claims = { email = \"x-verge-email\" }",
        "forward_claims = { email = \"x-verge-email\" }\ntoken = { cookie = \"id_token\" }",
    );
    let lookup = |r: &Reference| Some(if r.name() == "LEGACY_SECRET" { LEGACY_SECRET } else { ORIGIN_SECRET }.to_owned());
    let e = Edge::from_toml("edge.toml", &cfg, &lookup).unwrap();
    let w = World::new();
    let t = token("ES256", "ec1", json!({}));
    let cookie = format!("theme=dark; id_token={t}");
    assert_eq!(call(&e, &w, get("/api/x", &[("cookie", &cookie)])).status(), 200);
}

#[test]
fn every_setting_the_config_refers_to_is_listed_for_prefetching() {
    let cfg =
        crate::EdgeConfig::parse("edge.toml", &CONFIG.replace("jwks_url = \"http://id.test/jwks.json\"", "jwks_url = { env = \"JWKS\" }"))
            .unwrap();
    assert_eq!(cfg.references(), ["JWKS", "KEY", "KEY_ID", "LEGACY_SECRET"]);
}

/// A platform verifier that answers from a script and records what it was asked.
struct ScriptedVerifier {
    answer: Option<bool>,
    asked: RefCell<Vec<(crate::auth::jwt::Alg, String)>>,
}

impl crate::auth::jwt::Verifier for ScriptedVerifier {
    async fn verify(&self, alg: crate::auth::jwt::Alg, jwk: &Value, _input: &[u8], _sig: &[u8]) -> Option<bool> {
        self.asked.borrow_mut().push((alg, jwk["kty"].as_str().unwrap_or("").to_owned()));
        self.answer
    }

    fn name(&self) -> &'static str {
        "scripted"
    }
}

#[test]
fn the_platform_verifier_decides_when_it_answers_and_rust_when_it_does_not() {
    let w = World::new();
    let clock = || UNIX_EPOCH + Duration::from_secs(NOW);
    let handle = |e: &Edge, v: &ScriptedVerifier, t: &str| {
        block_on(e.handle_with(get("/api/x", &[("authorization", &bearer(t))]), &w, &clock, v, [1; 16]))
    };
    let run = |v: &ScriptedVerifier, t: &str| handle(&edge(), v, t).response.status();
    let good = token("ES256", "ec1", json!({}));
    let no = ScriptedVerifier { answer: Some(false), asked: RefCell::default() };
    assert_eq!(run(&no, &good), 401, "the platform said the signature is bad");
    assert_eq!(no.asked.borrow()[0], (crate::auth::jwt::Alg::Es256, "EC".to_owned()), "it got the public JWK");
    let abstain = ScriptedVerifier { answer: None, asked: RefCell::default() };
    assert_eq!(run(&abstain, &good), 200, "Rust verifies when the platform abstains");
    // The access log says who checked the signature, and nothing once the token is cached.
    let (e, yes) = (edge(), ScriptedVerifier { answer: Some(true), asked: RefCell::default() });
    let first = handle(&e, &yes, &good).log;
    assert_eq!((first.auth.as_deref(), first.signature), (Some("jwt:main"), Some("scripted")));
    let again = handle(&e, &yes, &good).log;
    assert_eq!((again.auth.as_deref(), again.signature), (Some("jwt:main"), None), "a cache hit checks no signature");
    assert_eq!(handle(&edge(), &abstain, &good).log.signature, Some("rust"));
    let mut forged = good.rsplit_once('.').unwrap().0.to_owned();
    forged.push_str(".AAAA");
    assert_eq!(run(&abstain, &forged), 401);
    let legacy = sign_with(json!({ "alg": "HS256" }), &claims(json!({ "iss": "https://legacy.test" })));
    let yes = ScriptedVerifier { answer: Some(true), asked: RefCell::default() };
    assert_eq!(run(&yes, &legacy), 200);
    assert!(yes.asked.borrow().is_empty(), "HMAC secrets never leave Rust");
}

#[test]
fn an_expired_or_foreign_session_is_refused() {
    use crate::auth::oidc::sealed::seal;
    let cfg = CONFIG.replace(
        "[auth.api_key]",
        "[auth.oidc]\nissuer = \"http://id.test\"\nclient_id = \"verge-web\"\nsession_secret = { secret = \"SESSION\" }\n\n[auth.api_key]",
    )
    .replace("auth = { jwt = [\"main\", \"legacy\"] }", "auth = \"session\"");
    let lookup = |r: &Reference| Some(if r.name() == "SESSION" { SESSION_SECRET } else { ORIGIN_SECRET }.to_owned());
    let e = Edge::from_toml("edge.toml", &cfg, &lookup).unwrap();
    let w = World::new();
    let key = verge_signing::secret::derive_key(SESSION_SECRET, "verge/edge/session-cookie");
    let session = |sx: u64, aad: &[u8], key: &[u8; 32]| {
        let body = json!({ "sub": "ada", "email": "ada@x", "ax": NOW + 3600, "sx": sx, "at": "a", "rt": "r" });
        format!("__Host-verge-session={}", seal(key, [5; 12], body.to_string().as_bytes(), aad))
    };
    let live = session(NOW + 100, b"verge session v1", &key);
    let r = call(&e, &w, get("/api/x", &[("cookie", &live)]));
    assert_eq!(r.status(), 200);
    assert_eq!(w.forwarded.borrow().last().unwrap().headers()["x-verge-user"], "ada");
    let expired = session(NOW - 1, b"verge session v1", &key);
    let r = call(&e, &w, get("/api/x", &[("cookie", &expired)]));
    assert_eq!(r.status(), 401);
    assert!(String::from_utf8_lossy(r.body()).contains("the session has expired"));
    let login_kind = session(NOW + 100, b"verge login v1", &key);
    assert_eq!(call(&e, &w, get("/api/x", &[("cookie", &login_kind)])).status(), 401, "a login cookie is not a session");
    let other_key = session(NOW + 100, b"verge session v1", &[9u8; 32]);
    assert_eq!(call(&e, &w, get("/api/x", &[("cookie", &other_key)])).status(), 401);
    assert_eq!(call(&e, &w, get("/auth/me", &[("cookie", &live)])).status(), 200);
}

#[test]
fn weak_secrets_are_refused_at_start_by_setting_never_by_value() {
    let cfg = CONFIG.replace(
        "[auth.api_key]",
        "[auth.oidc]\nissuer = \"http://id.test\"\nclient_id = \"verge-web\"\nsession_secret = { secret = \"SESSION\" }\n\n[auth.api_key]",
    );
    let boot = |weak_name: &str, weak: &str| {
        let lookup = |r: &Reference| {
            Some(
                match r.name() {
                    n if n == weak_name => weak,
                    "KEY_ID" => "VERGEEDGE0A1B2C3D4E5F",
                    "LEGACY_SECRET" => LEGACY_SECRET,
                    "SESSION" => SESSION_SECRET,
                    _ => ORIGIN_SECRET,
                }
                .to_owned(),
            )
        };
        Edge::from_toml("edge.toml", &cfg, &lookup).map(|_| ())
    };
    assert!(boot("none", "").is_ok(), "strong secrets start");
    // 31 bytes of key material, a guessable word, a placeholder repeated: each refused, naming
    // the setting and its reference, never the value.
    let weak = ["a-session-secret-of-31-bytes!!!", "hunter2", &"changeme".repeat(8)];
    for (name, setting) in [
        ("SESSION", "[auth.oidc] session_secret"),
        ("LEGACY_SECRET", "[auth.jwt.legacy] hs256_secret"),
        ("KEY", "[origins.api] credentials.secret_access_key"),
    ] {
        for value in weak {
            match boot(name, value) {
                Err(e) => {
                    let text = e.to_string();
                    assert!(text.contains(setting) && text.contains(name) && text.contains("too weak"), "{text}");
                    assert!(!text.contains(value), "the value never appears: {text}");
                }
                other => panic!("{name} = {value:?}: {other:?}"),
            }
        }
    }
    // Keys AWS issued are AWS's to choose: an http origin signed for with an AWS key (a Lambda
    // function URL) keeps its 40-character secret; S3 origins are never checked.
    let aws = |r: &Reference| {
        Some(
            match r.name() {
                "KEY_ID" => "AKIAIOSFODNN7EXAMPLE",
                "KEY" => "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "LEGACY_SECRET" => LEGACY_SECRET,
                _ => SESSION_SECRET,
            }
            .to_owned(),
        )
    };
    assert!(Edge::from_toml("edge.toml", &cfg, &aws).is_ok());
}

#[test]
fn session_keys_come_from_hkdf_and_old_sessions_stop_opening() {
    use crate::auth::oidc::sealed::seal;
    use sha2::Digest;
    use verge_signing::secret::derive_key;
    let cfg = CONFIG.replace(
        "[auth.api_key]",
        "[auth.oidc]\nissuer = \"http://id.test\"\nclient_id = \"verge-web\"\nsession_secret = { secret = \"SESSION\" }\n\n[auth.api_key]",
    )
    .replace("auth = { jwt = [\"main\", \"legacy\"] }", "auth = \"session\"");
    let lookup = |r: &Reference| Some(if r.name() == "SESSION" { SESSION_SECRET } else { ORIGIN_SECRET }.to_owned());
    let e = Edge::from_toml("edge.toml", &cfg, &lookup).unwrap();
    let w = World::new();
    let (session, login) = (derive_key(SESSION_SECRET, "verge/edge/session-cookie"), derive_key(SESSION_SECRET, "verge/edge/login-cookie"));
    let body = json!({ "sub": "ada", "ax": NOW + 3600, "sx": NOW + 100, "at": "a", "rt": "r" }).to_string();
    let cookie = |key: &[u8; 32]| format!("__Host-verge-session={}", seal(key, [5; 12], body.as_bytes(), b"verge session v1"));
    assert_eq!(call(&e, &w, get("/api/x", &[("cookie", &cookie(&session))])).status(), 200);
    // A session sealed with the old derivation (one SHA-256 of the secret) no longer opens: the
    // user signs in again.
    let old: [u8; 32] = sha2::Sha256::digest(format!("verge session key v1\n{SESSION_SECRET}").as_bytes()).into();
    assert_eq!(call(&e, &w, get("/api/x", &[("cookie", &cookie(&old))])).status(), 401);
    // Nor does one sealed with the login cookie's key.
    assert_eq!(call(&e, &w, get("/api/x", &[("cookie", &cookie(&login))])).status(), 401);
}

#[test]
fn tokens_with_huge_or_negative_exp_never_panic() {
    let (e, w) = (edge(), World::new());
    // i64::MAX, u64::MAX and beyond: valid (the issuer signed them) and far in the future. The
    // verified-token cache must not compute a SystemTime past what the platform holds.
    for exp in [json!(i64::MAX), json!(u64::MAX), json!(1e19), json!(1e300), json!(9_007_199_254_740_993u64)] {
        let t = token("ES256", "ec1", json!({ "exp": exp, "jti": exp.to_string() }));
        for _ in 0..2 {
            assert_eq!(call(&e, &w, get("/api/x", &[("authorization", &bearer(&t))])).status(), 200, "exp {exp}");
        }
    }
    for exp in [json!(-1), json!(i64::MIN), json!(-1e300)] {
        let t = token("ES256", "ec1", json!({ "exp": exp }));
        let r = call(&e, &w, get("/api/x", &[("authorization", &bearer(&t))]));
        assert_eq!(r.status(), 401, "exp {exp}");
        assert!(challenge(&r).contains("invalid_token"));
    }
}

#[test]
fn a_cold_jwks_outage_answers_503_until_keys_are_had() {
    let (e, w) = (edge(), World::new());
    w.jwks_down.set(true);
    let ask = |t: &str, at: u64| call_at(&e, &w, get("/api/x", &[("authorization", &bearer(t))]), at);
    let valid = token("ES256", "ec1", json!({ "exp": NOW + 5000 }));
    // The first request, the next ones before a refetch may go out, and the ones after a failed
    // refetch: all 503 (not 401 invalid_token: the token may well be valid).
    for at in [NOW, NOW, NOW + 5, NOW + 31, NOW + 40] {
        let r = ask(&valid, at);
        assert_eq!(r.status(), 503, "at +{}", at - NOW);
        assert!(!challenge(&r).contains("invalid_token"));
    }
    assert_eq!(w.jwks_fetches.get(), 2, "still at most one fetch per refetch interval");
    // A token that fails before any key is needed is still 401.
    let foreign = token("ES256", "ec1", json!({ "iss": "https://elsewhere.test" }));
    assert_eq!(ask(&foreign, NOW + 40).status(), 401);
    // Keys back: the next fetch serves them.
    w.jwks_down.set(false);
    assert_eq!(ask(&valid, NOW + 62).status(), 200);
}

#[test]
fn a_flood_of_unknown_api_keys_does_not_flush_the_valid_ones() {
    // Issue 12, finding 4: the verdict cache used to be cleared whole at 10,000 entries.
    let (e, w) = (edge(), World::new());
    let good = || get("/api/partners/acme/orders", &[("x-api-key", "vk_good")]);
    assert_eq!(call(&e, &w, good()).status(), 200);
    assert_eq!(w.lookups.get(), 1);
    for i in 0..super::MAX_CACHE_ENTRIES + 100 {
        let key = format!("vk_unknown_{i}");
        assert_eq!(call(&e, &w, get("/api/partners/acme/orders", &[("x-api-key", &key)])).status(), 401);
        if i % 1000 == 0 {
            // A valid caller keeps using its key during the flood.
            assert_eq!(call(&e, &w, good()).status(), 200);
        }
    }
    let lookups = w.lookups.get();
    assert_eq!(call(&e, &w, good()).status(), 200);
    assert_eq!(w.lookups.get(), lookups, "the valid key's verdict survived the flood");
    assert_eq!(lookups as usize, 1 + super::MAX_CACHE_ENTRIES + 100, "only the unknown keys were looked up");
    assert!(super::lock(&e.auth_state.api_keys).len() <= super::MAX_CACHE_ENTRIES, "bounded");
}

/// An edge with `[auth.oidc]` against the World's issuer, `/api/*` on `auth = "session"`, and a
/// session cookie maker: `session(ax, sx)`.
fn session_edge() -> (Edge, impl Fn(u64, u64) -> String) {
    use crate::auth::oidc::sealed::seal;
    let cfg = CONFIG.replace(
        "[auth.api_key]",
        "[auth.oidc]\nissuer = \"http://id.test\"\nclient_id = \"verge-web\"\nsession_secret = { secret = \"SESSION\" }\n\n[auth.api_key]",
    )
    .replace("auth = { jwt = [\"main\", \"legacy\"] }", "auth = \"session\"");
    let lookup = |r: &Reference| Some(if r.name() == "SESSION" { SESSION_SECRET } else { ORIGIN_SECRET }.to_owned());
    let e = Edge::from_toml("edge.toml", &cfg, &lookup).unwrap();
    let key = verge_signing::secret::derive_key(SESSION_SECRET, "verge/edge/session-cookie");
    let session = move |ax: u64, sx: u64| {
        let body = json!({ "sub": "ada", "email": "ada@x", "ax": ax, "sx": sx, "at": "at-0", "rt": "rt-0" });
        format!("__Host-verge-session={}", seal(&key, [5; 12], body.to_string().as_bytes(), b"verge session v1"))
    };
    (e, session)
}

fn set_cookies(r: &Response<Bytes>) -> Vec<String> {
    r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

#[test]
fn a_renewed_session_cookie_reaches_error_answers_too() {
    // Issue 12, finding 7: the renewal used the refresh token (which the issuer may rotate); an
    // answer without the new cookie would leave the browser with a spent one.
    let (e, session) = session_edge();
    let w = World::new();
    w.origin_down.set(true);
    let r = call(&e, &w, get("/api/x", &[("cookie", &session(NOW + 10, NOW + 3600))]));
    assert_eq!(r.status(), 502);
    assert_eq!(w.refreshes.borrow().len(), 1);
    let cookies = set_cookies(&r);
    assert!(cookies.iter().any(|c| c.starts_with("__Host-verge-session=") && !c.contains("Max-Age=0")), "{cookies:?}");
}

/// The test world as a platform with a timer, as the runtimes have (`setTimeout`, the
/// monotonic clock): what lets one request wait for another's renewal.
struct Timed<'a>(&'a World, u64);

impl crate::Platform for Timed<'_> {
    type Body = Bytes;
    fn now(&self) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.1)
    }
    fn entropy(&self) -> [u8; 16] {
        [3; 16]
    }
    async fn send(&self, r: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.0.fetch(r).await
    }
    async fn forward(&self, r: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.0.fetch(r).await
    }
    async fn read(&self, b: Bytes) -> Result<Bytes, UpstreamError> {
        Ok(b)
    }
    async fn sleep(&self, _d: Duration) -> bool {
        YieldOnce(false).await;
        true
    }
}

#[test]
/// Concurrent requests near expiry renew once: the others wait for that renewal (issuers that
/// rotate refresh tokens refuse the old one after first use, so a second renewal would end the
/// session); all keep the session, and later requests with the old cookie reuse the renewal.
fn concurrent_renewals_renew_once_and_later_ones_reuse_it() {
    let (e, session) = session_edge();
    let w = World::new();
    let cookie = session(NOW + 10, NOW + 3600);
    let p = Timed(&w, NOW);
    let answers = run_all(["/api/a", "/api/b", "/api/c"].iter().map(|path| e.serve(get(path, &[("cookie", &cookie)]), &p)).collect());
    assert_eq!(w.refreshes.borrow().len(), 1, "{:?}", w.refreshes.borrow());
    for h in answers {
        let r = h.response.map(crate::Body::into_bytes);
        assert_eq!(r.status(), http::StatusCode::OK);
        assert!(set_cookies(&r).iter().any(|c| c.starts_with("__Host-verge-session=")), "each gets the renewed session");
    }
    let r = call_at(&e, &w, get("/api/d", &[("cookie", &cookie)]), NOW + 30);
    assert_eq!(r.status(), 200);
    assert_eq!(w.refreshes.borrow().len(), 1, "a later request with the old cookie reuses the renewal");
}

fn send(e: &Edge, w: &World, method: &str, path: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    call(e, w, b.body(Bytes::new()).unwrap())
}

#[test]
fn logout_is_a_same_origin_post_and_revokes_the_refresh_token() {
    // Issue 12, finding 11: GET from anywhere signed users out (logout CSRF).
    let (e, session) = session_edge();
    let w = World::new();
    let cookie = session(NOW + 600, NOW + 3600);
    let host = ("host", "127.0.0.1:8080");
    let get = send(&e, &w, "GET", "/auth/logout", &[("cookie", &cookie), host]);
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    assert!(set_cookies(&get).is_empty(), "a refused logout leaves the session alone");
    for bad in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "cross-site"), ("origin", "http://127.0.0.1:8080")],
        vec![],
    ] {
        let mut h = vec![("cookie", cookie.as_str()), host];
        h.extend(bad.iter().copied());
        let r = send(&e, &w, "POST", "/auth/logout", &h);
        assert_eq!(r.status(), 403, "{bad:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert!(set_cookies(&r).is_empty());
    }
    assert!(w.revocations.borrow().is_empty());
    let ok = send(
        &e,
        &w,
        "POST",
        "/auth/logout",
        &[("cookie", &cookie), host, ("origin", "http://127.0.0.1:8080"), ("sec-fetch-site", "same-origin")],
    );
    assert_eq!(ok.status(), 303);
    assert!(ok.headers()["location"].to_str().unwrap().starts_with("http://id.test/end?client_id=verge-web"));
    assert!(set_cookies(&ok).iter().any(|c| c.starts_with("__Host-verge-session=;") && c.contains("Max-Age=0")));
    assert_eq!(*w.revocations.borrow(), vec!["token=rt-0&token_type_hint=refresh_token&client_id=verge-web".to_owned()]);
}

#[test]
fn the_redirect_uri_comes_from_host_only_on_loopback() {
    // Issue 12, finding 11: without public_url the redirect URI came from any Host.
    let (e, _) = session_edge();
    let w = World::new();
    for host in ["127.0.0.1:8080", "localhost:3000", "[::1]:8080"] {
        let r = send(&e, &w, "GET", "/auth/login", &[("host", host)]);
        assert_eq!(r.status(), 303, "{host}");
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.contains(&format!(
                "redirect_uri=http%3A%2F%2F{}%2Fauth%2Fcallback",
                host.replace(':', "%3A").replace('[', "%5B").replace(']', "%5D")
            )),
            "{location}"
        );
    }
    for host in ["verge.example", "localhost.evil.example", "127.0.0.1.evil.example:80"] {
        let r = send(&e, &w, "GET", "/auth/login", &[("host", host)]);
        assert_eq!(r.status(), 500, "{host}");
        assert!(String::from_utf8_lossy(r.body()).contains("public_url must be set"));
        assert!(set_cookies(&r).is_empty());
    }
}

/// RFC 8725 3.11 (explicit typing): a provider with `typ` accepts only tokens whose header says
/// that type (RFC 9068 access tokens say `at+jwt`; `application/` may prefix it, any case), so an
/// ID token or another kind of JWT from the same issuer and keys is refused. Without `typ` the
/// header's type is not looked at.
#[test]
fn a_provider_with_typ_accepts_only_tokens_of_that_type() {
    let cfg = CONFIG.replace("jwks_refetch_interval_s = 30", "jwks_refetch_interval_s = 30\ntyp = \"at+jwt\"");
    let e = edge_with(&cfg);
    let w = World::new();
    let typed = |typ: Option<&str>| {
        let mut h = json!({ "alg": "ES256", "kid": "ec1" });
        if let Some(t) = typ {
            h["typ"] = json!(t);
        }
        sign_with(h, &claims(json!({})))
    };
    for ok in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let r = call(&e, &w, get("/api/admin/keys", &[("authorization", &bearer(&typed(Some(ok))))]));
        assert_eq!(r.status(), 200, "{ok}: {}", challenge(&r));
    }
    for bad in [Some("JWT"), Some("secevent+jwt"), Some("at+jwt+x"), None] {
        let r = call(&e, &w, get("/api/admin/keys", &[("authorization", &bearer(&typed(bad)))]));
        assert_eq!(r.status(), 401, "{bad:?}");
        assert!(challenge(&r).contains("type"), "{bad:?}: {}", challenge(&r));
    }
    // The provider without `typ` (legacy, HS256) still takes any.
    let (e, w) = (edge(), World::new());
    assert_eq!(call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&typed(Some("whatever+jwt"))))])).status(), 200);
}

/// RFC 8725 3.9: `audiences` match `aud` only. `client_id` names the client a token was issued
/// to, not the API it is for; it is accepted, when a token has no `aud`, only against the
/// provider's separate `client_ids` (Cognito access tokens).
#[test]
fn client_id_is_matched_against_client_ids_never_audiences() {
    let (e, w) = (edge(), World::new());
    let no_aud = token("ES256", "ec1", json!({ "aud": null, "client_id": "verge" }));
    let r = call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&no_aud))]));
    assert_eq!(r.status(), 401, "client_id equal to an audience is not an audience");
    assert!(challenge(&r).contains("audience"), "{}", challenge(&r));

    let cfg = CONFIG.replace("audiences = [\"verge\"]\njwks_url", "client_ids = [\"app-1\"]\njwks_url");
    let e = edge_with(&cfg);
    let w = World::new();
    let cognito = token("ES256", "ec1", json!({ "aud": null, "client_id": "app-1", "token_use": "access" }));
    assert_eq!(call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&cognito))])).status(), 200);
    for (name, extra) in [
        ("another client", json!({ "aud": null, "client_id": "app-2" })),
        ("an aud, even with the right client_id", json!({ "aud": "app-1", "client_id": "app-1" })),
    ] {
        let t = token("ES256", "ec1", extra);
        assert_eq!(call(&e, &w, get("/api/stats/daily", &[("authorization", &bearer(&t))])).status(), 401, "{name}");
    }
}

#[test]
fn a_provider_needs_audiences_or_client_ids() {
    let cfg = CONFIG.replace("audiences = [\"verge\"]\njwks_url", "jwks_url");
    let err = Edge::from_toml("edge.toml", &cfg, &|_: &Reference| None).unwrap_err().to_string();
    assert!(err.contains("[auth.jwt.main]") && err.contains("audiences") && err.contains("client_ids"), "{err}");
}

/// The OIDC issuer is compared exactly (OpenID Connect Discovery 4.3, Core 3.1.3.7): Auth0's
/// issuer ends in `/` and its ID tokens say so; trimming it refused every login. A configured
/// issuer that differs from the discovery document's only by that slash is named in the error.
#[test]
fn the_oidc_issuer_is_compared_exactly_with_a_hint_for_a_trailing_slash() {
    let (e, _) = session_edge();
    let w = World::new();
    let r = send(&e, &w, "GET", "/auth/login", &[("host", "127.0.0.1:8080")]);
    assert_eq!(r.status(), 303, "exactly equal issuers");

    let cfg = CONFIG
        .replace(
            "[auth.api_key]",
            "[auth.oidc]\nissuer = \"http://id.test/\"\nclient_id = \"verge-web\"\nsession_secret = { secret = \"SESSION\" }\n\n[auth.api_key]",
        )
        .replace("auth = { jwt = [\"main\", \"legacy\"] }", "auth = \"session\"");
    let lookup = |r: &Reference| Some(if r.name() == "SESSION" { SESSION_SECRET } else { ORIGIN_SECRET }.to_owned());
    let e = Edge::from_toml("edge.toml", &cfg, &lookup).unwrap();
    let handled = block_on(e.handle(
        Request::get("/auth/login").header("host", "127.0.0.1:8080").body(Bytes::new()).unwrap(),
        &w,
        &|| UNIX_EPOCH + Duration::from_secs(NOW),
        [3; 16],
    ));
    assert_eq!(handled.response.status(), 503);
    let why = handled.log.error.clone().unwrap_or_default();
    assert!(why.contains("trailing slash") && why.contains("\"http://id.test\""), "{why}");
}

mod sessions;
