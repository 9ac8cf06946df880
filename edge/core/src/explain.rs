//! What the edge would do with a request, from the config alone (`verge explain`): which
//! behaviour matches and why the ones before it do not, the identity rule, the rate limits and
//! their keys, the cache key, the origin with its failover and canary, the error pages, and the
//! request the origin would get. Nothing is sent and no secret is read: settings show their
//! defaults, the signature is elided.
//!
//! The answer is a list of [`Section`]s, each made by one small function, so a new concern (a
//! headers policy, CORS) is one more function and one more line in [`explain`].
//!
//! ```
//! let cfg = verge_edge::config::EdgeConfig::parse("edge.toml", r#"
//! [origins.web]
//! type = "s3"
//! bucket = "site"
//! region = "us-east-1"
//! credentials = { access_key_id = { env = "K" }, secret_access_key = { secret = "S" } }
//! [[behaviours]]
//! path = "*"
//! origin = "web"
//! "#).unwrap();
//! let req = http::Request::get("https://edge.example/app.js").body(()).unwrap();
//! let sections = verge_edge::explain::explain(&cfg, &req);
//! assert!(sections.iter().any(|s| s.title == "behaviour" && s.lines[0].contains("matches")));
//! ```

use http::{HeaderMap, Method, Request};

use crate::auth::Identity;
use crate::cache::key::{compute, KeyInput};
use crate::canary::{decide, Side};
use crate::config::auth::AuthRule;
use crate::config::cors::{CorsOutcome, CorsResult};
use crate::config::ratelimit::{KeyPart, Scope};
use crate::config::{Behaviour, EdgeConfig, Origin, OriginKind, Setting};
use crate::path::NormalPath;

/// One part of the explanation: a title and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub lines: Vec<String>,
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}:", self.title)?;
        for l in &self.lines {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

fn section(title: &'static str, lines: Vec<String>) -> Section {
    Section { title, lines }
}

/// The request as the phases see it, once it passed the URL checks.
struct Seen<'c> {
    config: &'c EdgeConfig,
    method: &'c Method,
    headers: &'c HeaderMap,
    query: Option<&'c str>,
    path: NormalPath,
    index: usize,
    behaviour: &'c Behaviour,
}

/// Explains `req` (its method, URL and headers; the body is never needed) under `config`.
pub fn explain(config: &EdgeConfig, req: &Request<()>) -> Vec<Section> {
    let uri = req.uri();
    let len = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if len > config.limits.max_url_bytes {
        let why = format!("refused: 414, the URL is {len} bytes; [edge] max_url_bytes is {}", config.limits.max_url_bytes);
        return vec![section("request", vec![why])];
    }
    let path = match NormalPath::parse(uri.path()) {
        Ok(p) => p,
        Err(e) => return vec![section("request", vec![format!("refused: 400, {e}")])],
    };
    let index = config.behaviours.iter().position(|b| b.pattern.matches(path.as_str())).unwrap_or(config.behaviours.len() - 1);
    let seen = Seen {
        config,
        method: req.method(),
        headers: req.headers(),
        query: uri.query(),
        path,
        index,
        behaviour: &config.behaviours[index],
    };
    let mut out = vec![request(&seen), behaviours(&seen)];
    // A preflight the behaviour's CORS policy covers is answered at the edge, whatever methods
    // the behaviour takes (the CORS phase runs before the method check).
    if let Some(result) = cors_result(&seen).filter(|r| r.preflight) {
        out.extend([access(&seen), cors(&seen)]);
        let answer = match result.outcome {
            CorsOutcome::Allowed { .. } => "204 at the edge, no origin request (an allowed preflight)",
            _ => "204 at the edge without CORS headers, no origin request: the browser refuses the real request",
        };
        out.push(section("answer", vec![answer.to_owned()]));
        out.push(response_headers(&seen));
        return out;
    }
    if !seen.behaviour.methods.contains(seen.method) {
        out.push(section(
            "answer",
            vec![format!("405: {} is not allowed here (Allow: {})", seen.method, seen.behaviour.methods.allow_header())],
        ));
        return out;
    }
    out.extend([
        access(&seen),
        cors(&seen),
        identity(&seen),
        rate_limits(&seen),
        cache(&seen),
        origin(&seen),
        error_pages(&seen),
        origin_request(&seen),
        response_headers(&seen),
    ]);
    out
}

fn cors_result(s: &Seen<'_>) -> Option<CorsResult> {
    let policy = s.config.cors_policies.get(s.behaviour.cors?)?;
    Some(policy.evaluate(s.method, s.headers))
}

fn cors(s: &Seen<'_>) -> Section {
    let Some(i) = s.behaviour.cors else {
        return section("cors", vec!["none: no CORS headers; preflights go on like any request".to_owned()]);
    };
    let name = &s.config.cors_policies[i].name;
    let mut lines = vec![format!("policy {name:?}")];
    let result = cors_result(s);
    match result.as_ref().map(|r| &r.outcome) {
        Some(CorsOutcome::NotCors) | None => lines.push("no Origin header: not a cross-origin request, no CORS headers".to_owned()),
        Some(CorsOutcome::Refused { origin }) => lines.push(format!("origin {origin:?} is not allowed: no CORS headers")),
        Some(CorsOutcome::Allowed { origin, headers }) => {
            lines.push(format!("origin {origin:?} is allowed"));
            lines.extend(headers.iter().map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("(not text)"))));
        }
    }
    if result.is_some_and(|r| r.vary_origin) {
        lines.push("vary: origin (appended)".to_owned());
    }
    section("cors", lines)
}

fn response_headers(s: &Seen<'_>) -> Section {
    let Some(i) = s.behaviour.headers else {
        return section("response headers", vec!["no headers policy: answers pass as they are".to_owned()]);
    };
    let policy = &s.config.headers_policies[i];
    let mut lines = vec![format!("policy {:?}, on every answer (origin, cache hit, edge error)", policy.name)];
    lines.extend(policy.remove.iter().map(|n| format!("removed: {n}")));
    for h in &policy.set {
        let how = if h.override_origin { "set" } else { "set unless the origin sent it" };
        lines.push(format!("{how}: {}: {}", h.name, h.value.to_str().unwrap_or("(not text)")));
    }
    if policy.server_timing {
        lines.push("server-timing: edge, identity, cache, origin".to_owned());
    }
    section("response headers", lines)
}

fn request(s: &Seen<'_>) -> Section {
    let mut lines = vec![format!("{} {}", s.method, s.path.as_str())];
    if let Some(q) = s.query {
        lines.push(format!("query: {q}"));
    }
    for (k, v) in s.headers {
        lines.push(format!("{k}: {}", v.to_str().unwrap_or("(not text)")));
    }
    section("request", lines)
}

fn behaviours(s: &Seen<'_>) -> Section {
    let mut lines = Vec::new();
    for (i, b) in s.config.behaviours.iter().enumerate().take(s.index + 1) {
        let verdict = if i == s.index { "matches" } else { "does not match: path" };
        lines.push(format!("{} {:?}: {verdict}", i + 1, b.pattern.as_str()));
    }
    let b = s.behaviour;
    lines.push(format!("methods: {}", b.methods.allow_header()));
    section("behaviour", lines)
}

fn access(s: &Seen<'_>) -> Section {
    let rules = &s.config.rate_limits.access_rules;
    let line = match s.behaviour.limits.access.map(|i| &rules[i]) {
        None => "none: every client address and country".to_owned(),
        Some(r) => format!(
            "{:?}: {} allowed address ranges, {} denied, countries allowed {:?}, denied {:?} (403 otherwise)",
            r.name,
            r.allow_ips.len(),
            r.deny_ips.len(),
            r.allow_countries,
            r.deny_countries
        ),
    };
    section("access rule", vec![line])
}

fn with_scopes(scopes: &[String]) -> String {
    if scopes.is_empty() {
        String::new()
    } else {
        format!(" with scopes {}", scopes.join(" "))
    }
}

fn rule_text(config: &EdgeConfig, rule: &AuthRule) -> String {
    match rule {
        AuthRule::None => "none (open)".to_owned(),
        AuthRule::ApiKey => "an API key (x-api-key), looked up at the origin".to_owned(),
        AuthRule::Session { scopes } => format!("a session from the edge's login{}", with_scopes(scopes)),
        AuthRule::Jwt { providers, scopes } => {
            let names: Vec<&str> = providers.iter().map(|i| config.auth.jwt[*i].name.as_str()).collect();
            format!("a bearer JWT from {}{}", names.join(" or "), with_scopes(scopes))
        }
        AuthRule::AnyOf(rules) => format!("any of: {}", rules.iter().map(|r| rule_text(config, r)).collect::<Vec<_>>().join("; ")),
        AuthRule::AllOf(rules) => format!("all of: {}", rules.iter().map(|r| rule_text(config, r)).collect::<Vec<_>>().join("; ")),
    }
}

fn identity(s: &Seen<'_>) -> Section {
    let b = s.behaviour;
    let mut lines = vec![rule_text(s.config, &b.auth)];
    if b.allow_preflight && b.auth != AuthRule::None {
        lines.push("CORS preflights (OPTIONS with Access-Control-Request-Method) pass without credentials".to_owned());
    }
    if b.auth != AuthRule::None {
        lines.push("refused: 401 without credentials, 403 without the scopes".to_owned());
    }
    section("identity", lines)
}

fn rate_limits(s: &Seen<'_>) -> Section {
    let limits = &s.config.rate_limits.limits;
    let mut lines = Vec::new();
    for l in s.behaviour.limits.rate_limits.iter().map(|i| &limits[*i]) {
        let key: Vec<String> = l
            .key
            .iter()
            .map(|k| match k {
                KeyPart::Ip => "client address".to_owned(),
                KeyPart::Sub => "user (JWT or session subject)".to_owned(),
                KeyPart::Consumer => "API key consumer".to_owned(),
                KeyPart::Header(h) => match s.headers.get(h) {
                    Some(v) => format!("header {h} = {:?}", v.to_str().unwrap_or("")),
                    None => format!("header {h} (absent)"),
                },
                KeyPart::Cookie(c) => format!("cookie {c}"),
            })
            .collect();
        let scope = match l.scope {
            Scope::Instance => "per instance",
            Scope::Global => "global",
        };
        let plan = if l.plan { ", or the API key's plan" } else { "" };
        lines.push(format!(
            "{}: {} per {} s, burst {}{plan}, keyed by {}, {scope}, fails {} (429 past it)",
            l.name,
            l.limit,
            l.window.as_secs(),
            l.burst,
            key.join(" + "),
            if l.fail_open { "open" } else { "closed" }
        ));
    }
    if lines.is_empty() {
        lines.push("none".to_owned());
    }
    section("rate limits", lines)
}

/// The side of the canary this request takes, if the behaviour has one.
fn canary_side(s: &Seen<'_>) -> Option<(Side, String)> {
    let c = s.behaviour.canary.as_ref()?;
    let d = decide(c, s.headers, [0; 16]);
    Some(match d.set_cookie {
        // A new client's side is drawn from its fresh sticky id: say so rather than pretend.
        Some(_) => (Side::Primary, format!("a new client: the canary with probability {}%, assumed primary here", c.weight)),
        None => (d.side, d.reason),
    })
}

fn serving_origin<'c>(s: &Seen<'c>) -> &'c Origin {
    let b = s.behaviour;
    match (canary_side(s), &b.canary) {
        (Some((Side::Canary, _)), Some(c)) => &s.config.origins[c.origin],
        _ => &s.config.origins[b.origin],
    }
}

fn cache(s: &Seen<'_>) -> Section {
    let b = s.behaviour;
    let Some(policy) = b.cache.map(|i| &s.config.cache_policies[i]) else {
        return section("cache", vec!["none: every request goes to the origin".to_owned()]);
    };
    let mut lines = vec![format!(
        "policy {:?}: ttl min {} s, default {}, max {} s",
        policy.name,
        policy.min_ttl.as_secs(),
        policy.default_ttl.map_or("from Last-Modified".to_owned(), |d| format!("{} s", d.as_secs())),
        policy.max_ttl.as_secs()
    )];
    if *s.method != Method::GET && *s.method != Method::HEAD {
        lines.push(format!("{} is not cached; a success invalidates the URL's entries", s.method));
        return section("cache", lines);
    }
    let origin = b.canary.as_ref().map(|_| serving_origin(s).name.as_str());
    let identity = Identity::default();
    let key = compute(&KeyInput { policy, path: &s.path, query: s.query, headers: s.headers, identity: &identity, origin });
    lines.push(format!("key: {}", key.text()));
    if policy.per_user {
        lines.push("per_user: the key also holds the caller's identity (none here)".to_owned());
    }
    section("cache", lines)
}

fn setting_text(s: &Setting) -> String {
    match s {
        Setting::Literal(v) => v.clone(),
        Setting::Env { name, default: Some(d) } => format!("{d} (${name} unset)"),
        Setting::Env { name, default: None } => format!("${name}"),
    }
}

fn setting_value(s: &Setting) -> String {
    match s {
        Setting::Literal(v) | Setting::Env { default: Some(v), .. } => v.trim_end_matches('/').to_owned(),
        Setting::Env { name, default: None } => format!("${name}"),
    }
}

fn origin_text(o: &Origin) -> String {
    let kind = match &o.kind {
        OriginKind::S3 { bucket, region, endpoint } => {
            format!("s3 bucket {bucket} in {region}{}", endpoint.as_ref().map(|e| format!(" at {}", setting_text(e))).unwrap_or_default())
        }
        OriginKind::Http { url, service, region } => format!("http {} (SigV4 {service} in {region})", setting_text(url)),
    };
    format!("{}: {kind}, connect timeout {} ms, response timeout {} ms", o.name, o.connect_timeout.as_millis(), o.timeout.as_millis())
}

fn origin(s: &Seen<'_>) -> Section {
    let b = s.behaviour;
    let o = &s.config.origins[b.origin];
    let mut lines = vec![format!("primary {}", origin_text(o))];
    if let (Some(c), Some((side, why))) = (&b.canary, canary_side(s)) {
        let which = if side == Side::Canary { "canary" } else { "primary" };
        lines.push(format!(
            "canary {} at weight {}: this request goes to the {which} ({why})",
            origin_text(&s.config.origins[c.origin]),
            c.weight
        ));
    }
    if let Some(f) = &b.failover {
        let statuses: Vec<String> = f.statuses.iter().map(|s| s.as_u16().to_string()).collect();
        let applies = matches!(*s.method, Method::GET | Method::HEAD | Method::OPTIONS);
        lines.push(format!(
            "failover {} on a refused connection, a timeout or {}: {}",
            origin_text(&s.config.origins[f.origin]),
            statuses.join(", "),
            if applies { "applies to this request" } else { "not for this method (never sent twice)" }
        ));
    }
    section("origin", lines)
}

fn error_pages(s: &Seen<'_>) -> Section {
    let pages = &s.config.error_responses;
    if pages.is_empty() {
        return section("error pages", vec!["none: errors answer with problem+json".to_owned()]);
    }
    let browser = crate::stages::error_page::prefers_html(s.headers);
    let mut lines: Vec<String> = pages
        .iter()
        .map(|p| {
            format!(
                "{} -> {} from {} as {}, kept {} s",
                p.status.as_u16(),
                p.page.as_str(),
                s.config.origins[p.origin].name,
                p.response_status.as_u16(),
                p.min_ttl.as_secs()
            )
        })
        .collect();
    lines.push(if browser {
        "this request's Accept prefers HTML: an error with a page above answers with it".to_owned()
    } else {
        "this request's Accept does not prefer HTML: errors keep their problem+json or origin body".to_owned()
    });
    section("error pages", lines)
}

fn origin_request(s: &Seen<'_>) -> Section {
    let b = s.behaviour;
    let o = serving_origin(s);
    let config = s.config;
    let cache = b.cache.map(|i| &config.cache_policies[i]);
    let mut lines = Vec::new();
    match &o.kind {
        OriginKind::S3 { bucket, region, endpoint } => {
            let url = match endpoint {
                Some(e) => format!("{}/{bucket}/{}", setting_value(e), NormalPath::encode(s.path.object_key())),
                None => format!("https://{bucket}.s3.{region}.amazonaws.com/{}", NormalPath::encode(s.path.object_key())),
            };
            let method = if cache.is_some() && *s.method == Method::HEAD { &Method::GET } else { s.method };
            lines.push(format!("{method} {url}"));
            if b.spa_fallback && !s.path.has_extension() {
                lines.push("if there is no such object: GET index.html, answered with 200 (spa_fallback)".to_owned());
            }
            lines.push(
                "conditional and range headers only (if-none-match, if-modified-since, if-match, if-unmodified-since, range)".to_owned(),
            );
        }
        OriginKind::Http { url, .. } => {
            let policy = b.origin_request.map(|i| &config.origin_request_policies[i]);
            let query = crate::origin_request::query(cache, policy, s.query);
            let target = format!("{}{}", setting_value(url), NormalPath::encode(s.path.as_str()));
            let method = if cache.is_some() && *s.method == Method::HEAD { &Method::GET } else { s.method };
            lines.push(format!("{method} {target}{}", query.map(|q| format!("?{q}")).unwrap_or_default()));
            for (k, v) in &crate::origin_request::headers(cache, policy, s.headers) {
                lines.push(format!("{k}: {}", v.to_str().unwrap_or("(not text)")));
            }
            lines.push("x-request-id: (the request's id)".to_owned());
            if b.auth != AuthRule::None {
                lines.push("x-verge-*: the identity the edge established (user, scopes, claims)".to_owned());
            }
        }
    }
    lines.push("x-amz-date, x-amz-content-sha256: set when sent".to_owned());
    lines.push(format!(
        "authorization: AWS4-HMAC-SHA256 Credential=({})/..., Signature=(elided)",
        match &o.kind {
            OriginKind::S3 { .. } => "the bucket's read key",
            OriginKind::Http { .. } => "the edge's key",
        }
    ));
    section("origin request", lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> EdgeConfig {
        EdgeConfig::parse("edge.toml", include_str!("../../edge.toml")).unwrap()
    }

    fn run(method: &str, uri: &str, headers: &[(&str, &str)]) -> String {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        explain(&shipped(), &b.body(()).unwrap()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_cached_stats_route_shows_its_key_and_the_query_the_origin_gets() {
        let out = run("GET", "https://edge.test/api/stats/daily?to=2026-12-01&utm_source=x&from=2026-11-01", &[]);
        assert!(out.contains("4 \"/api/stats/daily\": matches"), "{out}");
        assert!(out.contains("1 \"/api/admin/*\": does not match: path"), "{out}");
        assert!(out.contains("key: v1 daily_stats /api/stats/daily ?from=2026-11-01&to=2026-12-01"), "{out}");
        assert!(out.contains("GET http://origin.spin.internal/api/stats/daily?from=2026-11-01&to=2026-12-01"), "{out}");
        assert!(out.contains("Signature=(elided)"), "{out}");
    }

    #[test]
    fn failover_canary_and_error_pages_are_named() {
        let out = run("GET", "/api/numbers/recent", &[("x-verge-canary", "1"), ("accept", "text/html")]);
        assert!(out.contains("this request goes to the canary (header x-verge-canary)"), "{out}");
        assert!(out.contains("failover api-failover"), "{out}");
        assert!(out.contains("applies to this request"), "{out}");
        assert!(out.contains("503 -> /errors/5xx.html from web as 503, kept 10 s"), "{out}");
        assert!(out.contains("prefers HTML"), "{out}");
        let post = run("POST", "/api/numbers", &[]);
        assert!(post.contains("numbers-per-ip: 30 per 60 s, burst 10, keyed by client address, global, fails open"), "{post}");
    }

    #[test]
    fn headers_policy_and_cors_are_shown_and_a_preflight_is_answered_at_the_edge() {
        let page = run("GET", "https://verge.example/index.html", &[]);
        assert!(page.contains("policy \"web\", on every answer"), "{page}");
        assert!(page.contains("content-security-policy: default-src 'self'"), "{page}");
        let cors = config_cors_origin();
        let preflight =
            run("OPTIONS", "https://verge.example/api/stats/daily", &[("origin", &cors), ("access-control-request-method", "GET")]);
        assert!(preflight.contains("204 at the edge"), "{preflight}");
        assert!(
            !preflight.contains("\norigin request:") && !preflight.contains("\nidentity:"),
            "nothing past CORS for a preflight: {preflight}"
        );
        let refused =
            run("GET", "https://verge.example/api/stats/daily?from=2026-01-01&to=2026-01-02", &[("origin", "https://evil.example")]);
        assert!(refused.contains("is not allowed: no CORS headers"), "{refused}");
    }

    /// An origin the shipped config's API CORS policy allows.
    fn config_cors_origin() -> String {
        let config = shipped();
        let api = config.behaviours.iter().find(|b| b.pattern.matches("/api/stats/daily")).unwrap();
        let policy = &config.cors_policies[api.cors.expect("the shipped API behaviour has a CORS policy")];
        match &policy.allow_origins[0] {
            crate::config::cors::OriginPattern::Exact(o) => o.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_before_the_origin_are_said() {
        assert!(run("DELETE", "/assets/app.js", &[]).contains("405: DELETE is not allowed here (Allow: GET, HEAD)"));
        assert!(run("GET", "/a/%2e%2e/%2e%2e/etc", &[]).contains("refused: 400"));
        let admin = run("GET", "/api/admin/keys", &[]);
        assert!(admin.contains("a bearer JWT from main with scopes admin"), "{admin}");
        assert!(admin.contains("\"operators\":"), "{admin}");
    }
}
