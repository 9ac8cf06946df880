//! `verge explain` on the shipped config, run as the operator runs it.
mod common;

use common::verge;

#[test]
fn a_cached_route_shows_the_behaviours_tried_the_key_and_the_origin_request() {
    let (code, out, err) = verge(&["explain", "GET", "https://edge.test/api/stats/daily?to=2026-12-01&from=2026-11-01&fbclid=x"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "  3 \"/api/partners/*\": does not match: path\n  4 \"/api/stats/daily\": matches\n",
        "identity:\n  none (open)\n",
        "  key: v1 daily_stats /api/stats/daily ?from=2026-11-01&to=2026-12-01\n",
        "  GET http://origin.spin.internal/api/stats/daily?from=2026-11-01&to=2026-12-01\n",
        "Signature=(elided)",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
}

#[test]
fn headers_choose_the_canary_and_the_error_page_and_name_the_limits() {
    let (code, out, _) = verge(&["explain", "GET", "/api/numbers/today", "-H", "x-verge-canary: 1", "-H", "Accept: text/html"]);
    assert_eq!(code, 0);
    assert!(out.contains("this request goes to the canary (header x-verge-canary)"), "{out}");
    assert!(out.contains("failover api-failover:"), "{out}");
    assert!(out.contains("this request's Accept prefers HTML"), "{out}");
    let (_, partners, _) = verge(&["explain", "GET", "/api/partners/acme/feed", "--config", "edge/edge.toml"]);
    assert!(
        partners.contains("partners: 10 per 1 s, burst 20, or the API key's plan, keyed by API key consumer, global, fails closed"),
        "{partners}"
    );
    assert!(partners.contains("any of: a bearer JWT from main; an API key"), "{partners}");
    let (_, post, _) = verge(&["explain", "POST", "/api/numbers"]);
    assert!(post.contains("  POST http://origin.spin.internal/api/numbers\n"), "{post}");
    let (_, refused, _) = verge(&["explain", "PUT", "/index.html"]);
    assert!(refused.contains("405: PUT is not allowed here (Allow: GET, HEAD)"), "{refused}");
}

#[test]
fn an_invalid_config_gives_positioned_errors_and_usage_errors_exit_2() {
    let (code, out, err) = verge(&["explain", "GET", "/", "--config", "edge/core/tests/ui/shadowed.toml"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("edge/core/tests/ui/shadowed.toml:12:8: error: behaviour 2"), "{err}");
    assert_eq!(verge(&["explain", "GET"]).0, 2);
    assert_eq!(verge(&["explain", "GET", "/", "-H", "no colon"]).0, 2);
    assert_eq!(verge(&["explain", "GET", "/", "--bogus"]).0, 2);
}
