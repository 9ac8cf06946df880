//! RFC 8725 3.12 (mutually exclusive validation rules for different kinds of JWTs): no
//! `[auth.jwt.NAME]` provider may accept the ID tokens of the edge's own login as access tokens.
//!
//! ```toml
//! [auth.oidc]
//! issuer = "https://id.example.com"
//! client_id = "verge-web"
//!
//! [auth.jwt.api]
//! issuer = "https://id.example.com"
//! audiences = ["verge-web"]   # refused: ID tokens for the login name it in `aud`
//! ```
//!
//! The login accepts an ID token whose `iss` is exactly `[auth.oidc] issuer`, whose `aud` holds
//! the `client_id`, whose header `typ` is `JWT` or absent and whose `alg` is one of
//! [`ID_TOKEN_ALGORITHMS`]. A provider overlaps it when it has that issuer (the edge compares
//! issuers byte for byte) and the client id among its `audiences`, unless one of its rules can
//! never hold for such a token: a `typ` other than `JWT` (`at+jwt`, RFC 9068), or no algorithm in
//! common. `client_ids` does not matter: it applies only to tokens without `aud`, and an ID token
//! always has one. The bearer path also refuses tokens with ID-token markers (`nonce`,
//! `at_hash`, `c_hash`, `token_use`; `jwt::is_id_token`), but those are only present when the
//! issuer puts them there (a code flow without `nonce` has none), so the rules themselves must
//! not overlap.
//!
//! Checked when the file is parsed where both `[auth.oidc]` values are literal, and when the edge
//! starts ([`crate::auth::resolve_oidc`]) once `{ env = ... }` values are known.

use super::auth::{AuthConfig, JwtProvider};
use super::walk::{entries, Checker, Node, TableRef};
use super::Setting;
use crate::auth::jwt::{media_type, Alg};

/// The header `typ` an ID token must have at the login's callback (absent counts as `JWT`).
pub const ID_TOKEN_TYP: &str = "JWT";
/// The algorithms the login accepts for ID tokens.
pub const ID_TOKEN_ALGORITHMS: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

/// Whether `p` would accept an ID token that the login accepts from `issuer` for `client_id`.
pub fn accepts_login_id_tokens(p: &JwtProvider, issuer: &str, client_id: &str) -> bool {
    let typ_excludes = p.typ.as_deref().is_some_and(|t| media_type(t) != media_type(ID_TOKEN_TYP));
    let alg_excludes = !p.algorithms.iter().any(|a| ID_TOKEN_ALGORITHMS.contains(a));
    p.issuer == issuer && p.audiences.iter().any(|a| a == client_id) && !typ_excludes && !alg_excludes
}

/// The check at parse time, for literal `[auth.oidc]` issuer and client id: one error per
/// overlapping provider, at the audience that names the client id. `auth` is the `[auth]` node.
///
/// Also warns about a provider whose issuer differs from the login's only by a trailing `/`:
/// tokens carry their issuer exactly, so one of the two never matches (the login says which only
/// once its discovery document is read).
pub(super) fn check(ck: &mut Checker<'_>, auth: Node<'_, '_>, cfg: &AuthConfig) {
    let Some(o) = &cfg.oidc else { return };
    let Some(providers) = child(auth, "jwt") else { return };
    if let Setting::Literal(issuer) = &o.issuer {
        for p in cfg.jwt.iter().filter(|p| p.issuer != *issuer && p.issuer.trim_end_matches('/') == issuer.trim_end_matches('/')) {
            let Some(at) = child(providers, &p.name).and_then(|t| child(t, "issuer")) else { continue };
            ck.warn(
                at.span,
                format!("[auth.jwt.{}] issuer differs from [auth.oidc] issuer only by a trailing slash", p.name),
                "tokens carry the issuer exactly, so one of the two never matches: write both as the issuer's discovery document (/.well-known/openid-configuration) names it",
            );
        }
    }
    let (Setting::Literal(issuer), Setting::Literal(client_id)) = (&o.issuer, &o.client_id) else { return };
    for p in cfg.jwt.iter().filter(|p| accepts_login_id_tokens(p, issuer, client_id)) {
        let Some(table) = child(providers, &p.name) else { continue };
        let audience = child(table, "audiences")
            .and_then(|a| match a.value {
                toml::de::DeValue::Array(items) => items.iter().find(|i| i.get_ref().as_str() == Some(client_id.as_str())),
                _ => None,
            })
            .map_or(table.span, |i| i.span().into());
        ck.error(
            audience,
            format!(
                "[auth.jwt.{}] would accept the login's ID tokens as access tokens: same issuer as [auth.oidc] and an audience equal to its client_id",
                p.name
            ),
            "name the API's own audience, or set typ = \"at+jwt\" if the issuer types its access tokens (RFC 9068); RFC 8725 3.12",
        );
    }
}

/// `node`'s value under `key`, when `node` is a table.
fn child<'a, 'i>(node: Node<'a, 'i>, key: &str) -> Option<Node<'a, 'i>> {
    let toml::de::DeValue::Table(table) = node.value else { return None };
    entries(TableRef { span: node.span, table }).find(|(k, _)| k.value == key).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::super::tests::with_src;
    use super::super::{EdgeConfig, Reference};
    use crate::Edge;

    fn src(oidc: &str, provider: &str) -> String {
        let oidc = format!("[auth.oidc]\n{oidc}\nsession_secret = {{ secret = \"SESSION\" }}\n\n");
        let jwt = format!("[auth.jwt.api]\njwks_url = \"https://id.test/jwks.json\"\n{provider}\n\n");
        with_src(&format!("{oidc}{jwt}"), "auth = { jwt = [\"api\"] }")
    }

    const LOGIN: &str = "issuer = \"https://id.test\"\nclient_id = \"verge-web\"";

    #[test]
    fn a_provider_that_takes_the_logins_id_tokens_is_refused_at_its_audience() {
        let s = src(LOGIN, "issuer = \"https://id.test\"\naudiences = [\"verge\", \"verge-web\"]");
        let e = EdgeConfig::parse("t.toml", &s).unwrap_err();
        assert_eq!(e.errors.len(), 1, "{e}");
        let d = &e.errors[0];
        assert!(d.message.contains("[auth.jwt.api] would accept the login's ID tokens"), "{e}");
        assert!(d.hint.as_deref().unwrap().contains("at+jwt"), "{e}");
        let line = s.lines().nth(d.line - 1).unwrap();
        assert!(line.starts_with("audiences = "), "{line}");
        assert_eq!(&line[d.column - 1..d.column - 1 + "\"verge-web\"".len()], "\"verge-web\"");
    }

    #[test]
    fn every_overlapping_provider_is_reported_with_the_other_errors() {
        let s = src(LOGIN, "issuer = \"https://id.test\"\naudiences = [\"verge-web\"]\nclock_skew_s = 9999")
            .replace("[auth.jwt.api]", "[auth.jwt.second]\nissuer = \"https://id.test\"\naudiences = [\"verge-web\"]\nkeys = '{\"keys\": []}'\n\n[auth.jwt.third]\nissuer = \"https://id.test\"\naudiences = [\"verge-web\"]\njwks_url = \"https://id.test/j\"\n\n[auth.jwt.api]");
        let e = EdgeConfig::parse("t.toml", &s).unwrap_err().to_string();
        // `second` is broken (no usable key) and `api` has a bad skew: both reported as such;
        // `third` overlaps the login.
        assert!(e.contains("[auth.jwt.third] would accept"), "{e}");
        assert!(e.contains("keys is not a usable JWK Set"), "{e}");
        assert!(e.contains("9999"), "{e}");
    }

    #[test]
    fn rules_that_exclude_id_tokens_or_another_issuer_or_audience_are_accepted() {
        for provider in [
            // RFC 9068 access tokens: an ID token's typ is JWT or absent.
            "issuer = \"https://id.test\"\naudiences = [\"verge-web\"]\ntyp = \"at+jwt\"",
            "issuer = \"https://id.test\"\naudiences = [\"verge-web\"]\ntyp = \"application/AT+JWT\"",
            // No algorithm in common with the login (RS256, ES256, EdDSA).
            "issuer = \"https://id.test\"\naudiences = [\"verge-web\"]\nalgorithms = [\"HS256\"]\nhs256_secret = { secret = \"H\" }",
            // The API's own audience.
            "issuer = \"https://id.test\"\naudiences = [\"verge\"]",
            // Cognito access tokens: client_ids only ever match tokens without `aud`.
            "issuer = \"https://id.test\"\nclient_ids = [\"verge-web\"]",
            // Another issuer, as the edge compares them (byte for byte).
            "issuer = \"https://other.test\"\naudiences = [\"verge-web\"]",
        ] {
            let s = src(LOGIN, provider);
            if let Err(e) = EdgeConfig::parse("t.toml", &s) {
                panic!("{provider}:\n{e}");
            }
        }
    }

    #[test]
    fn a_typ_of_jwt_does_not_exclude_id_tokens() {
        for typ in ["JWT", "application/jwt"] {
            let s = src(LOGIN, &format!("issuer = \"https://id.test\"\naudiences = [\"verge-web\"]\ntyp = \"{typ}\""));
            assert!(EdgeConfig::parse("t.toml", &s).is_err(), "typ {typ}");
        }
    }

    #[test]
    fn values_from_the_environment_are_left_to_start_up() {
        let s = src(
            "issuer = { env = \"ISSUER\", default = \"https://id.test\" }\nclient_id = \"verge-web\"",
            "issuer = \"https://id.test\"\naudiences = [\"verge-web\"]",
        );
        assert!(EdgeConfig::parse("t.toml", &s).is_ok());
    }

    #[test]
    fn an_issuer_that_differs_from_the_logins_by_a_trailing_slash_is_a_warning() {
        let s = src(LOGIN, "issuer = \"https://id.test/\"\naudiences = [\"verge-web\"]");
        let cfg = EdgeConfig::parse("t.toml", &s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
        let w = cfg.warnings[0].render("t.toml", "warning").to_string();
        assert!(w.contains("[auth.jwt.api] issuer differs from [auth.oidc] issuer only by a trailing slash"), "{w}");
        assert!(s.lines().nth(cfg.warnings[0].line - 1).unwrap().starts_with("issuer = \"https://id.test/\""), "{w}");
        let exact = src(LOGIN, "issuer = \"https://id.test\"\naudiences = [\"verge\"]");
        assert!(EdgeConfig::parse("t.toml", &exact).unwrap().warnings.is_empty());
    }

    /// The environment's values, checked when the edge starts: the error names both settings and
    /// the provider, and neither value nor any secret.
    #[test]
    fn at_start_the_resolved_issuer_and_client_id_are_checked() {
        let s = src(
            "issuer = { env = \"OIDC_ISSUER\", default = \"https://elsewhere.test\" }\nclient_id = { env = \"OIDC_CLIENT\" }",
            "issuer = \"https://id.test\"\naudiences = [\"verge\", \"verge-web\"]",
        );
        let env = |issuer: &'static str| {
            move |r: &Reference| match r {
                Reference::Env(n) if n == "OIDC_ISSUER" => (!issuer.is_empty()).then(|| issuer.to_owned()),
                Reference::Env(n) if n == "OIDC_CLIENT" => Some("verge-web".to_owned()),
                Reference::Env(n) if n == "KEY_ID" => Some("AKIDEXAMPLE".to_owned()),
                Reference::Env(_) => None,
                Reference::Secret(_) => Some("Kx9vQ2mZ7pL4wR8tY1nB6cH3jF5dS0aGe7Uq2Wz4Lk8Np3Rt-S3CR3T".to_owned()),
            }
        };
        let Err(e) = Edge::from_toml("t.toml", &s, &env("https://id.test")) else { panic!("started") };
        let e = e.to_string();
        assert!(e.contains("[auth.jwt.api] would accept the login's ID tokens"), "{e}");
        assert!(e.contains("environment variable OIDC_ISSUER") && e.contains("environment variable OIDC_CLIENT"), "{e}");
        assert!(!e.contains("verge-web") && !e.contains("id.test") && !e.contains("S3CR3T"), "{e}");
        // The default applies when the variable is unset; another issuer starts.
        assert!(Edge::from_toml("t.toml", &s, &env("https://other.test")).is_ok());
        assert!(Edge::from_toml("t.toml", &s, &env("")).is_ok());
    }
}
