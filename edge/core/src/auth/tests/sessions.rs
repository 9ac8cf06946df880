//! Sessions with roles, through the whole pipeline: scopes required of a session and forwarded,
//! the same-origin rule for writes with the cookie, renewals that take the new ID token's roles
//! (or keep the old ones), and partner rate limits that meter a session caller.
use super::*;
use crate::auth::oidc::sealed::{open, seal};
use crate::log::AccessLog;

const HOST: (&str, &str) = ("host", "127.0.0.1:8080");
const OWN_ORIGIN: (&str, &str) = ("origin", "http://127.0.0.1:8080");

/// The test config with `[auth.oidc]` (roles from `groups`), the admin API open to a session
/// with the admin scope or an admin JWT, and the partner API to a session too, metered by
/// `partners` (2 a minute per consumer).
fn roles_edge() -> Edge {
    let cfg = CONFIG
        .replace(
            "[auth.api_key]",
            "[auth.oidc]\nissuer = \"http://id.test\"\nclient_id = \"verge-web\"\nsession_secret = { secret = \"SESSION\" }\nroles_claim = \"groups\"\n\n\
             [rate_limits.partners]\nkey = \"consumer\"\nlimit = 2\nwindow_s = 60\n\n[auth.api_key]",
        )
        .replace(
            "auth = { jwt = [\"main\"], scopes = [\"admin\"] }",
            "auth = { any_of = [{ session = true, scopes = [\"admin\"] }, { jwt = [\"main\"], scopes = [\"admin\"] }] }",
        )
        .replace("methods = [\"GET\", \"HEAD\", \"POST\", \"OPTIONS\"]", "methods = [\"GET\", \"HEAD\", \"POST\", \"DELETE\", \"OPTIONS\"]")
        .replace("auth = { any_of = [{ jwt = [\"main\"] }, \"api_key\"] }", "auth = { any_of = [{ jwt = [\"main\"] }, \"api_key\", \"session\"] }\nrate_limits = [\"partners\"]");
    let lookup = |r: &Reference| Some(if r.name() == "SESSION" { SESSION_SECRET } else { ORIGIN_SECRET }.to_owned());
    Edge::from_toml("edge.toml", &cfg, &lookup).unwrap()
}

fn session_key() -> [u8; 32] {
    verge_signing::secret::derive_key(SESSION_SECRET, "verge/edge/session-cookie")
}

/// A session cookie for `sub` with these roles, its access token expiring at `ax`.
fn cookie(sub: &str, roles: &[&str], ax: u64) -> String {
    let body = json!({ "sub": sub, "email": format!("{sub}@x"), "ax": ax, "sx": NOW + 3600, "at": "at-0", "rt": format!("rt-{sub}"), "sc": roles });
    format!("__Host-verge-session={}", seal(&session_key(), [5; 12], body.to_string().as_bytes(), b"verge session v1"))
}

/// What a renewed `Set-Cookie` seals.
fn sealed_session(r: &Response<Bytes>) -> Value {
    let c = set_cookies(r).into_iter().find(|c| c.starts_with("__Host-verge-session=")).expect("a renewed session");
    let value = c.trim_start_matches("__Host-verge-session=").split(';').next().unwrap().to_owned();
    serde_json::from_slice(&open(&session_key(), &value, b"verge session v1").unwrap()).unwrap()
}

/// An ID token from the login's issuer.
fn id_token(sub: &str, groups: Value) -> String {
    let claims = json!({ "iss": "http://id.test", "aud": "verge-web", "sub": sub, "exp": NOW + 600, "iat": NOW - 10, "groups": groups });
    sign_with(json!({ "alg": "ES256", "kid": "ec1", "typ": "JWT" }), &claims)
}

fn handled(e: &Edge, w: &World, method: &str, path: &str, headers: &[(&str, &str)]) -> (Response<Bytes>, AccessLog) {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let clock = || UNIX_EPOCH + Duration::from_secs(NOW);
    let h = block_on(e.handle(b.body(Bytes::new()).unwrap(), w, &clock, [3; 16]));
    (h.response.map(crate::Body::into_bytes), h.log)
}

fn problem_type(r: &Response<Bytes>) -> String {
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    v["type"].as_str().unwrap_or_default().to_owned()
}

fn last_forwarded(w: &World, name: &str) -> Option<String> {
    w.forwarded.borrow().last().and_then(|r| r.headers().get(name)).map(|v| v.to_str().unwrap().to_owned())
}

#[test]
fn a_session_needs_the_required_scope_and_forwards_its_scopes_signed() {
    let (e, w) = (roles_edge(), World::new());
    let admin = cookie("ada", &["admin", "partner:acme"], NOW + 600);
    let r = send(&e, &w, "GET", "/api/admin/keys", &[("cookie", &admin)]);
    assert_eq!(r.status(), 200);
    assert_eq!(last_forwarded(&w, "x-verge-scopes").as_deref(), Some("admin partner:acme"));
    assert_eq!(last_forwarded(&w, "x-verge-user").as_deref(), Some("ada"));
    let signed = last_forwarded(&w, "authorization").unwrap();
    assert!(signed.contains("x-verge-scopes"), "the scopes are among the signed headers: {signed}");

    let before = w.forwarded.borrow().len();
    let plain = cookie("bob", &["partner:acme"], NOW + 600);
    let r = send(&e, &w, "GET", "/api/admin/keys", &[("cookie", &plain)]);
    assert_eq!(r.status(), 403, "signed in without the admin role");
    assert_eq!(problem_type(&r), "https://verge.dev/problems/insufficient-scope");
    assert!(String::from_utf8_lossy(r.body()).contains("the signed-in user lacks the scope admin"));
    assert_eq!(send(&e, &w, "GET", "/api/admin/keys", &[]).status(), 401, "no session, no token");
    assert_eq!(w.forwarded.borrow().len(), before, "refused requests never reach the origin");

    // The JWT alternative still works, and a client's own x-verge-scopes never passes.
    let t = token("ES256", "ec1", json!({}));
    assert_eq!(send(&e, &w, "GET", "/api/admin/keys", &[("authorization", &format!("Bearer {t}"))]).status(), 200);
    let r = send(&e, &w, "GET", "/api/admin/keys", &[("cookie", &plain), ("x-verge-scopes", "admin")]);
    assert_eq!(r.status(), 403);
}

#[test]
fn me_lists_the_sessions_scopes() {
    let (e, w) = (roles_edge(), World::new());
    let r = send(&e, &w, "GET", "/auth/me", &[("cookie", &cookie("ada", &["admin", "partner:acme"], NOW + 600))]);
    assert_eq!(r.status(), 200);
    let me: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(me["scopes"], json!(["admin", "partner:acme"]));
    assert!(me.get("at").is_none() && me.get("rt").is_none(), "no token in the answer");
    let none = send(&e, &w, "GET", "/auth/me", &[("cookie", &cookie("bob", &[], NOW + 600))]);
    assert_eq!(serde_json::from_slice::<Value>(none.body()).unwrap()["scopes"], json!([]));
}

#[test]
fn a_write_with_the_session_cookie_must_come_from_this_sites_own_pages() {
    let (e, w) = (roles_edge(), World::new());
    // The access token is due for renewal: a refused write must not spend the refresh token.
    let admin = cookie("ada", &["admin"], NOW + 10);
    for (why, extra) in [
        ("no Origin and no Sec-Fetch-Site", vec![]),
        ("another site", vec![("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")]),
        ("a same-site page (another subdomain)", vec![("origin", "https://shop.verge.dev"), ("sec-fetch-site", "same-site")]),
        ("Sec-Fetch-Site alone says same-site", vec![("sec-fetch-site", "same-site")]),
        ("an opaque origin", vec![("origin", "null")]),
    ] {
        for method in ["POST", "DELETE"] {
            let mut h = vec![("cookie", admin.as_str()), HOST];
            h.extend(extra.iter().copied());
            let r = send(&e, &w, method, "/api/admin/keys", &h);
            assert_eq!(r.status(), 403, "{method}, {why}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            assert_eq!(problem_type(&r), "https://verge.dev/problems/cross-site", "{why}");
            assert!(set_cookies(&r).is_empty(), "{why}: no renewal for a refused write");
        }
    }
    assert!(w.refreshes.borrow().is_empty(), "refused before any renewal");
    assert!(w.forwarded.borrow().is_empty());

    let own = send(&e, &w, "POST", "/api/admin/keys", &[("cookie", &admin), HOST, OWN_ORIGIN, ("sec-fetch-site", "same-origin")]);
    assert_eq!(own.status(), 200, "the site's own page");
    assert_eq!(send(&e, &w, "GET", "/api/admin/keys", &[("cookie", &admin), HOST]).status(), 200, "reads need no Origin");
    // A bearer token is not sent by the browser on its own: no same-origin rule for it.
    let t = token("ES256", "ec1", json!({}));
    let bearer = send(&e, &w, "POST", "/api/admin/keys", &[("authorization", &format!("Bearer {t}")), ("origin", "https://evil.example")]);
    assert_eq!(bearer.status(), 200);
    // Nor for an API key on the partner routes, where the session is one alternative among others.
    let session_only = send(&e, &w, "POST", "/api/partners/acme/orders", &[("cookie", &admin), HOST, ("origin", "https://evil.example")]);
    assert_eq!(session_only.status(), 403);
    let keyed = send(
        &e,
        &w,
        "POST",
        "/api/partners/acme/orders",
        &[("cookie", &admin), ("x-api-key", "vk_good"), HOST, ("origin", "https://evil.example")],
    );
    assert_eq!(keyed.status(), 200);
}

#[test]
fn a_renewal_takes_the_roles_of_the_new_id_token() {
    let (e, w) = (roles_edge(), World::new());
    // The user was removed from the admin group at the issuer since signing in.
    *w.id_token.borrow_mut() = Some(id_token("ada", json!(["partner:acme"])));
    let due = cookie("ada", &["admin"], NOW + 10);
    let r = send(&e, &w, "GET", "/api/admin/keys", &[("cookie", &due)]);
    assert_eq!(w.refreshes.borrow().len(), 1);
    assert_eq!(r.status(), 403, "the admin role is gone with the renewal");
    let renewed = sealed_session(&r);
    assert_eq!(renewed["sc"], json!(["partner:acme"]), "the refused answer still carries the renewed session");
    assert!(renewed.get("id_token").is_none());
    let r = send(&e, &w, "GET", "/api/partners/acme/orders", &[("cookie", &due)]);
    assert_eq!(r.status(), 200, "another request with the old cookie reuses the renewal, and its roles");
    assert_eq!(last_forwarded(&w, "x-verge-scopes").as_deref(), Some("partner:acme"));
    assert_eq!(w.refreshes.borrow().len(), 1);
}

#[test]
fn a_renewal_without_an_id_token_keeps_the_roles() {
    let (e, w) = (roles_edge(), World::new());
    let r = send(&e, &w, "GET", "/api/admin/keys", &[("cookie", &cookie("ada", &["admin"], NOW + 10))]);
    assert_eq!(w.refreshes.borrow().len(), 1);
    assert_eq!(r.status(), 200);
    assert_eq!(sealed_session(&r)["sc"], json!(["admin"]));
}

#[test]
fn a_renewal_whose_id_token_is_bad_or_for_another_user_ends_the_session() {
    for (why, t) in [
        ("another sub", id_token("mallory", json!(["admin"]))),
        ("a forged signature", format!("{}.AAAA", id_token("ada", json!(["admin"])).rsplit_once('.').unwrap().0)),
    ] {
        let (e, w) = (roles_edge(), World::new());
        *w.id_token.borrow_mut() = Some(t);
        let r = send(&e, &w, "GET", "/api/admin/keys", &[("cookie", &cookie("ada", &[], NOW + 10))]);
        assert_eq!(r.status(), 401, "{why}");
        assert!(String::from_utf8_lossy(r.body()).contains("the session has expired"), "{why}");
        assert!(set_cookies(&r).is_empty(), "{why}");
    }
}

#[test]
fn roles_outside_the_bounds_are_dropped_with_a_log_line_naming_the_claim() {
    let (e, w) = (roles_edge(), World::new());
    *w.id_token.borrow_mut() = Some(id_token("ada", json!(["admin", "bad value", "x".repeat(65)])));
    let (r, log) = handled(&e, &w, "GET", "/api/admin/keys", &[("cookie", &cookie("ada", &[], NOW + 10))]);
    assert_eq!(r.status(), 200, "the valid role is kept");
    assert_eq!(sealed_session(&r)["sc"], json!(["admin"]));
    let line = serde_json::to_string(&log).unwrap();
    assert!(!line.contains("bad value") && !line.contains("xxxx") && !line.contains("eyJ"), "no value or token in the log: {line}");
    let note = log.auth_note.expect("a note");
    assert!(note.starts_with("roles claim \"groups\": 2 value(s) dropped"), "{note}");
}

#[test]
fn a_session_caller_on_the_partner_api_is_metered_under_its_user() {
    let (e, w) = (roles_edge(), World::new());
    let ada = cookie("ada", &["partner:acme"], NOW + 600);
    let get = |c: &str| send(&e, &w, "GET", "/api/partners/acme/orders", &[("cookie", c)]).status();
    assert_eq!(get(&ada), 200);
    assert_eq!(get(&ada), 200);
    assert_eq!(get(&ada), 429, "the limit's own values: 2 a minute");
    assert_eq!(get(&cookie("bea", &["partner:acme"], NOW + 600)), 200, "each user has a counter");
    let key = send(&e, &w, "GET", "/api/partners/acme/orders", &[("x-api-key", "vk_good")]);
    assert_eq!(key.status(), 200, "the partner's API key counts as consumer acme, apart from its people");
}
