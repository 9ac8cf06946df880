use super::*;

const GOOD: &str = r#"
[edge]
max_url_bytes = 8192

[origins.web]
type = "s3"
bucket = "verge-web"
region = "us-east-1"
endpoint = { env = "S3_ENDPOINT", default = "http://127.0.0.1:5000" }
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[origins.api]
type = "http"
url = "http://origin.spin.internal"
service = "execute-api"
region = "us-east-1"
timeout_ms = 5000
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "KEY" } }

[[behaviours]]
path = "/api/*"
origin = "api"
methods = ["GET", "HEAD", "POST", "OPTIONS"]

[[behaviours]]
path = "*"
origin = "web"
spa_fallback = true
"#;

#[test]
fn a_good_config_compiles_to_a_behaviour_table() {
    let cfg = EdgeConfig::parse("edge.toml", GOOD).unwrap();
    assert_eq!(cfg.origins.len(), 2);
    assert_eq!(cfg.behaviours.len(), 2);
    let api = &cfg.behaviours[0];
    assert_eq!(cfg.origins[api.origin].name, "api");
    assert_eq!(api.methods.allow_header(), "GET, HEAD, POST, OPTIONS");
    assert_eq!(cfg.origins[api.origin].timeout, Duration::from_millis(5000));
    let web = &cfg.behaviours[1];
    assert!(web.spa_fallback);
    assert_eq!(web.methods.allow_header(), "GET, HEAD", "GET and HEAD by default");
    assert_eq!(cfg.limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
}

/// `tables` (starting on line 1) followed by [`GOOD`], with `line` added to its first behaviour
/// (`/api/*`, methods GET, HEAD, POST, OPTIONS).
pub(crate) fn with_src(tables: &str, line: &str) -> String {
    let good = GOOD.replacen("origin = \"api\"\n", &format!("origin = \"api\"\n{line}\n"), 1);
    format!("{tables}{good}")
}

/// [`with_src`], parsed; panics with the errors if it does not parse.
pub(crate) fn with(tables: &str, line: &str) -> EdgeConfig {
    let src = with_src(tables, line);
    EdgeConfig::parse("t.toml", &src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

pub(crate) fn errors(src: &str) -> Vec<String> {
    EdgeConfig::parse("t.toml", src).unwrap_err().errors.into_iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect()
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = GOOD.replace("timeout_ms = 5000", "timeout_ms = 5000\nretries = 3").replace("spa_fallback = true", "spa_fallbak = true");
    let errs = errors(&src);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("unknown key `retries` in [origins.api]"), "{errs:?}");
    assert!(errs[1].contains("unknown key `spa_fallbak` in behaviour 2"), "{errs:?}");
}

#[test]
fn inline_credentials_are_refused_where_they_are_written() {
    let src = GOOD.replacen("secret_access_key = { secret = \"KEY\" }", "secret_access_key = \"wJalrXUtnFEMI\"", 1);
    let errs = errors(&src);
    assert_eq!(errs, vec!["10:73: credentials must be given by reference, never written inline".to_owned()]);
}

#[test]
fn the_error_text_never_contains_an_inline_secret() {
    let src = GOOD.replacen("secret_access_key = { secret = \"KEY\" }", "secret_access_key = \"wJalrXUtnFEMI\"", 1);
    let text = EdgeConfig::parse("t.toml", &src).unwrap_err().to_string();
    assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
}

#[test]
fn shadowed_and_misordered_behaviours() {
    let src = GOOD.replace("path = \"/api/*\"", "path = \"*\"");
    let errs = errors(&src);
    assert!(errs.iter().any(|e| e.contains("behaviour 2 (path \"*\") can never match: behaviour 1 (path \"*\")")), "{errs:?}");

    let src = GOOD.replace("path = \"*\"", "path = \"/app/*\"");
    let errs = errors(&src);
    assert!(errs.iter().any(|e| e.contains("the last behaviour must be the default")), "{errs:?}");
}

#[test]
fn wrong_types_and_values_name_the_position() {
    let errs = errors(&GOOD.replace("timeout_ms = 5000", "timeout_ms = \"5s\""));
    assert_eq!(errs, vec!["17:14: expected an integer, found a string".to_owned()]);
    let errs = errors(&GOOD.replace("bucket = \"verge-web\"", "bucket = \"Verge_Web\""));
    assert_eq!(errs, vec!["7:10: \"Verge_Web\" is not a valid S3 bucket name".to_owned()]);
    let errs = errors(&GOOD.replace("\"OPTIONS\"", "\"FETCH\""));
    assert_eq!(errs, vec!["23:35: unknown method \"FETCH\"".to_owned()]);
    let errs = errors(&GOOD.replace("url = \"http://origin.spin.internal\"", "url = \"ftp://x\""));
    assert_eq!(errs, vec!["14:7: \"ftp://x\" is not a usable base URL: the scheme must be http or https".to_owned()]);
}

#[test]
fn syntax_errors_are_positioned() {
    let errs = errors("[origins.web\ntype = 1\n");
    assert!(errs[0].starts_with("1:"), "{errs:?}");
    assert!(errs[0].contains("TOML syntax"), "{errs:?}");
}

#[test]
fn post_to_s3_and_spa_on_http_are_refused() {
    let errs = errors(&GOOD.replace("spa_fallback = true", "spa_fallback = true\nmethods = [\"GET\", \"HEAD\", \"POST\"]"));
    assert!(errs.iter().any(|e| e.contains("sends POST to S3 origin \"web\"")), "{errs:?}");
    let errs = errors(&GOOD.replace("methods = [\"GET\", \"HEAD\", \"POST\", \"OPTIONS\"]", "spa_fallback = true"));
    assert!(errs.iter().any(|e| e.contains("spa_fallback on an http origin")), "{errs:?}");
}

/// Snapshot tests: each `tests/ui/NAME.toml` must produce exactly `tests/ui/NAME.err` (for a
/// valid file, `ok` and its warnings).
/// `VERGE_BLESS=1 cargo test` rewrites the snapshots after a deliberate change.
#[test]
fn ui_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries.into_iter().filter(|p| p.extension().is_some_and(|e| e == "toml")) {
        let src = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let actual = match EdgeConfig::parse(&name, &src) {
            Ok(cfg) => cfg.warnings.iter().fold("ok\n".to_owned(), |out, w| out + &format!("{}\n", w.render(&name, "warning"))),
            Err(e) => format!("{e}\n"),
        };
        let snap = path.with_extension("err");
        if std::env::var_os("VERGE_BLESS").is_some() {
            std::fs::write(&snap, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&snap).unwrap_or_default();
        assert_eq!(actual, expected, "snapshot {} differs", snap.display());
        seen += 1;
    }
    assert!(seen >= 5, "expected the ui snapshots to be present, found {seen}");
}

/// A config with three origins (`api` and `api-b` over http, `web` a bucket), `top` after them,
/// and one catch-all behaviour on `origin` with `keys` (for the modules' own tests).
pub(super) fn three_origins(top: &str, origin: &str, keys: &str) -> String {
    let http = |name: &str, host: &str| {
        format!(
            "[origins.{name}]\ntype = \"http\"\nurl = \"http://{host}\"\nservice = \"execute-api\"\nregion = \"us-east-1\"\n\
             credentials = {{ access_key_id = {{ env = \"K\" }}, secret_access_key = {{ secret = \"S\" }} }}\n"
        )
    };
    format!(
        "{}{}[origins.web]\ntype = \"s3\"\nbucket = \"site\"\nregion = \"us-east-1\"\n\
         credentials = {{ access_key_id = {{ env = \"K\" }}, secret_access_key = {{ secret = \"S\" }} }}\n\n{top}\n\n\
         [[behaviours]]\npath = \"*\"\norigin = \"{origin}\"\n{keys}\n",
        http("api", "a.test"),
        http("api-b", "b.test"),
    )
}
