//! Manifest-level tests: variables, templates, secrets, triggers, and inputs that must never
//! panic.

use std::path::Path;

use super::*;

const BASE: &str = r#"
spin_manifest_version = 2

[application]
name = "t"

[variables]
host = { default = "127.0.0.1:5000" }
token = { required = true, secret = true }
region = { default = "us-east-1" }

[[trigger.http]]
route = "/..."
component = "web"

[[trigger.http]]
route = { private = true }
component = "api"

[component.web]
source = "web.wasm"
allowed_outbound_hosts = ["http://api.spin.internal", "http://{{ host }}"]
key_value_stores = ["default", "sessions"]
environment = { RUST_LOG = "info" }
[component.web.variables]
api_token = "Bearer {{ token }}"
region = "{{region}}"
literal = "plain"

[component.api]
source = "/abs/api.wasm"
"#;

fn inputs(env: &[(&str, &str)], cli: &[(&str, &str)]) -> VariableInputs {
    let p = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    VariableInputs { env: p(env), cli: p(cli) }
}

fn ok(src: &str, vars: &VariableInputs) -> App {
    match parse("spin.toml", src, Path::new("/app"), vars) {
        Ok(app) => app,
        Err(e) => panic!("{e}"),
    }
}

fn errors(src: &str, vars: &VariableInputs) -> String {
    match parse("spin.toml", src, Path::new("/app"), vars) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_full_manifest_resolves() {
    let app = ok(BASE, &inputs(&[("SPIN_VARIABLE_TOKEN", "s3cret")], &[]));
    assert_eq!(app.name, "t");
    assert_eq!(app.components.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["web", "api"], "manifest order");
    let web = app.component("web").unwrap();
    assert_eq!(web.source, Path::new("/app/web.wasm"));
    assert_eq!(app.component("api").unwrap().source, Path::new("/abs/api.wasm"));
    assert_eq!(web.variables["api_token"], "Bearer s3cret");
    assert_eq!(web.variables["region"], "us-east-1");
    assert_eq!(web.variables["literal"], "plain");
    assert_eq!(web.secret_variables.iter().collect::<Vec<_>>(), ["api_token"]);
    assert_eq!(web.key_value_stores, ["default", "sessions"]);
    assert_eq!(web.environment, [("RUST_LOG".to_owned(), "info".to_owned())]);
    assert!(web.allowed_outbound_hosts.allows_component("api"));
    assert!(web.allowed_outbound_hosts.allows("http", "127.0.0.1", 5000));
    assert!(!web.allowed_outbound_hosts.allows("http", "127.0.0.1", 5001));
    assert!(!app.component("api").unwrap().allowed_outbound_hosts.allows_component("web"));
    assert_eq!(app.router.route("/x").unwrap().component, "web");
    assert_eq!(app.router.synthetic("api", "/v1").unwrap().component, "api");
    assert!(app.router.synthetic("nope", "/").is_none());
}

#[test]
fn cli_wins_over_env_and_default() {
    let vars = inputs(&[("SPIN_VARIABLE_TOKEN", "env"), ("SPIN_VARIABLE_REGION", "eu-west-1")], &[("token", "cli")]);
    let app = ok(BASE, &vars);
    let web = app.component("web").unwrap();
    assert_eq!(web.variables["api_token"], "Bearer cli");
    assert_eq!(web.variables["region"], "eu-west-1");
}

#[test]
fn a_variable_holding_a_whole_url_is_an_allowed_host() {
    let src = BASE.replace("\"http://{{ host }}\"", "\"{{ host }}\"");
    let app = ok(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[("host", "http://127.0.0.1:5000")]));
    assert!(app.component("web").unwrap().allowed_outbound_hosts.allows("http", "127.0.0.1", 5000));
    let e = errors(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[("host", "127.0.0.1:5000")]));
    assert!(e.contains("resolved to \"127.0.0.1:5000\"") && e.contains("does not contain a scheme"), "{e}");
}

#[test]
fn required_missing_is_named_never_valued() {
    let e = errors(BASE, &VariableInputs::default());
    assert!(e.contains("spin.toml:9:1: error: required variable `token` has no value"), "{e}");
    assert!(e.contains("--variable token=VALUE or set SPIN_VARIABLE_TOKEN"), "{e}");
    assert_eq!(e.matches("error:").count(), 1, "reported once, not again at each use: {e}");
}

#[test]
fn secret_values_stay_out_of_messages() {
    let src = BASE.replace("\"http://{{ host }}\"", "\"{{ token }}\"");
    let e = errors(&src, &inputs(&[], &[("token", "hunter2")]));
    assert!(!e.contains("hunter2"), "{e}");
    assert!(e.contains("uses a secret variable and is not shown"), "{e}");
}

#[test]
fn undefined_variables_point_into_the_string() {
    let src = BASE.replace("region = \"{{region}}\"", "region = \"x-{{ regoin }}\"");
    let e = errors(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]));
    let line = src.lines().position(|l| l.contains("regoin")).unwrap() + 1;
    let col = src.lines().nth(line - 1).unwrap().find("regoin").unwrap() + 1;
    assert!(
        e.contains(&format!("spin.toml:{line}:{col}: error: component `web` variable `region` refers to undefined variable `regoin`")),
        "{e}"
    );
    assert!(e.contains("did you mean `region`?"), "{e}");
}

#[test]
fn default_and_required_together_or_neither() {
    let src = BASE.replace("region = { default = \"us-east-1\" }", "region = { default = \"a\", required = true }\nother = {}");
    let e = errors(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]));
    assert!(e.contains("variable `region` has both a default and required = true"), "{e}");
    assert!(e.contains("variable `other` has neither a default nor required = true"), "{e}");
}

#[test]
fn variable_names_follow_spin() {
    let src = BASE.replace("region = { default", "Region = { default");
    let e = errors(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]));
    assert!(e.contains("invalid variable name \"Region\""), "{e}");
}

#[test]
fn triggers_and_executors() {
    let vars = inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]);
    let spin_exec = BASE.replace("component = \"web\"", "component = \"web\"\nexecutor = { type = \"spin\" }\nid = \"main\"");
    ok(&spin_exec, &vars);
    let wagi = BASE.replace("component = \"web\"", "component = \"web\"\nexecutor = { type = \"wagi\" }");
    assert!(errors(&wagi, &vars).contains("the Wagi executor is not supported by this host"));
    let bogus = BASE.replace("component = \"web\"", "component = \"web\"\nexecutor = { type = \"cgi\" }");
    assert!(errors(&bogus, &vars).contains("unknown executor type"));
    let public_false = BASE.replace("private = true", "private = false");
    assert!(errors(&public_false, &vars).contains("route must be a string pattern or '{ private = true }'"));
    let inline = BASE.replace("component = \"api\"", "component = { source = \"x.wasm\" }");
    assert!(errors(&inline, &vars).contains("an inline component in a trigger is not supported by this host"));
    let redis = format!("{BASE}\n[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"api\"\n");
    assert!(errors(&redis, &vars).contains("trigger type `redis` is not supported by this host"));
}

#[test]
fn a_component_without_a_trigger_is_fine() {
    let src = format!("{BASE}\n[component.spare]\nsource = \"spare.wasm\"\n");
    let app = ok(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]));
    assert!(app.component("spare").is_some());
    assert!(app.router.synthetic("spare", "/").is_none(), "Spin cannot chain to a component without an HTTP trigger");
}

#[test]
fn base_is_only_slash() {
    let vars = inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]);
    let slash = BASE.replace("name = \"t\"", "name = \"t\"\n[application.trigger.http]\nbase = \"/\"");
    ok(&slash, &vars);
    let other = BASE.replace("name = \"t\"", "name = \"t\"\n[application.trigger.http]\nbase = \"/api\"");
    assert!(errors(&other, &vars).contains("the application base is not supported"));
}

#[test]
fn empty_unsupported_keys_ask_for_nothing() {
    let vars = inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]);
    let src = BASE.replace(
        "source = \"web.wasm\"",
        "source = \"web.wasm\"\nfiles = []\nsqlite_databases = []\ndependencies_inherit_configuration = false\ntool = { x = { y = 1 } }",
    );
    ok(&src, &vars);
}

#[test]
fn kv_labels_follow_spin() {
    let src = BASE.replace("\"sessions\"", "\"b@d\"");
    let e = errors(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]));
    assert!(e.contains("invalid key-value store label \"b@d\""), "{e}");
    let src = BASE.replace("key_value_stores = [\"default\", \"sessions\"]", "key_value_stores = \"default\"");
    let e = errors(&src, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]));
    assert!(e.contains("expected an array, found a string"), "{e}");
}

#[test]
fn load_reads_relative_to_the_manifest() {
    let dir = std::env::temp_dir().join(format!("verge-spin-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spin.toml");
    std::fs::write(&path, BASE).unwrap();
    let app = load(&path, &inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[])).unwrap();
    assert_eq!(app.component("web").unwrap().source, dir.join("web.wasm"));
    std::fs::remove_dir_all(&dir).unwrap();
    let e = load(&dir.join("missing.toml"), &VariableInputs::default()).unwrap_err().to_string();
    assert!(e.contains("missing.toml: error: cannot read the manifest"), "{e}");
}

/// The repository's own manifest, as `spin up` would load it with every required variable set
/// (the names are read from the file, which changes with the components).
#[test]
fn the_repository_spin_toml_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let root = toml::de::DeTable::parse(&text).unwrap();
    let declared = root.get_ref().get("variables").and_then(|v| v.get_ref().as_table()).unwrap();
    let flag =
        |v: &toml::de::DeValue<'_>, key: &str| v.as_table().and_then(|t| t.get(key)).and_then(|b| b.get_ref().as_bool()) == Some(true);
    let required: Vec<String> =
        declared.iter().filter(|(_, v)| flag(v.get_ref(), "required")).map(|(k, _)| k.get_ref().to_string()).collect();
    let secret: Vec<String> = declared.iter().filter(|(_, v)| flag(v.get_ref(), "secret")).map(|(k, _)| k.get_ref().to_string()).collect();
    assert!(!required.is_empty() && !secret.is_empty());

    let cli: Vec<(String, String)> = required.iter().map(|k| (k.clone(), format!("value-of-{k}"))).collect();
    let app = match load(&path, &VariableInputs { env: vec![], cli }) {
        Ok(app) => app,
        Err(e) => panic!("{e}"),
    };
    let edge = app.component("edge").unwrap();
    assert_eq!(app.router.route("/api/numbers").unwrap().component, "edge");
    assert_eq!(app.router.route("/").unwrap().component, "edge");
    assert!(app.router.synthetic("origin", "/api/numbers").is_some(), "the origin is reachable by chaining");
    assert!(app.router.routes().all(|(_, c)| c != "origin"), "the origin is private");
    assert!(edge.allowed_outbound_hosts.allows_component("origin"));
    assert!(!app.component("origin").unwrap().allowed_outbound_hosts.allows_component("edge"));

    // Secret marking, checked against the raw text: a component variable is secret exactly
    // when its template names a secret application variable.
    let components = root.get_ref().get("component").and_then(|v| v.get_ref().as_table()).unwrap();
    for (id, c) in components {
        let component = app.component(id.get_ref()).unwrap();
        let Some(vars) = c.get_ref().as_table().and_then(|t| t.get("variables")).and_then(|v| v.get_ref().as_table()) else { continue };
        for (name, value) in vars {
            let text = value.get_ref().as_str().unwrap();
            let uses_secret = secret.iter().any(|s| text.contains(&format!("{{{{ {s} }}}}")));
            assert_eq!(component.secret_variables.contains(name.get_ref().as_ref()), uses_secret, "{id:?}.{name:?}");
            assert!(component.variables.contains_key(name.get_ref().as_ref()));
        }
    }

    // Without the required variables, each is named once.
    let e = load(&path, &VariableInputs::default()).unwrap_err();
    assert_eq!(e.errors.len(), required.len(), "{e}");
}

/// A small deterministic generator (no dependency) for the never-panic properties below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn string(&mut self, alphabet: &[&str], max: u64) -> String {
        let n = self.next() % max;
        (0..n).map(|_| self.pick(alphabet)).collect()
    }
}

#[test]
fn random_manifests_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pieces = [
        "\n",
        " = ",
        "\"",
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        ",",
        ".",
        "/",
        "...",
        ":",
        "*",
        "{{",
        "}}",
        "é",
        "#",
        "'",
        "=",
        "spin_manifest_version",
        "2",
        "\"1\"",
        "application",
        "name",
        "trigger.http",
        "trigger",
        "component",
        "route",
        "private",
        "true",
        "false",
        "source",
        "variables",
        "default",
        "required",
        "secret",
        "allowed_outbound_hosts",
        "key_value_stores",
        "files",
        "executor",
        "type",
        "wagi",
        "\"/...\"",
        "\"http://*.spin.internal\"",
        "web",
    ];
    for _ in 0..3000 {
        let src = rng.string(&pieces, 60);
        let _ = parse("fuzz.toml", &src, Path::new("."), &VariableInputs::default());
    }
    // Mutations of a valid manifest reach deeper than random text.
    let vars = inputs(&[("SPIN_VARIABLE_TOKEN", "x")], &[]);
    for _ in 0..3000 {
        let mut src = BASE.to_owned();
        for _ in 0..3 {
            let at = (rng.next() as usize) % src.len();
            if src.is_char_boundary(at) {
                src.insert_str(at, rng.pick(&pieces));
            }
        }
        let _ = parse("fuzz.toml", &src, Path::new("."), &vars);
    }
}

#[test]
fn random_routes_paths_and_hosts_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let route_bits = ["/", ".", ":", "*", "...", "a", "b", "é", "-", ":x", "..", "//"];
    let path_bits = ["/", ".", "a", "b", "é", "x", "%2F", "?", "..."];
    let host_bits = ["*", "://", ":", "/", ".", "[", "]", "::1", "{", "}", "..", "self", "http", "a", "1", "9", "/24", "é"];
    for _ in 0..2000 {
        let routes: Vec<_> =
            (0..4).filter_map(|i| routes::Route::new(&format!("c{i}"), &format!("/{}", rng.string(&route_bits, 8))).ok()).collect();
        let router = routes::Router::new(routes, Default::default());
        for _ in 0..5 {
            let path = format!("/{}", rng.string(&path_bits, 10));
            if let Some(m) = router.route(&path) {
                let _ = spin_headers(&m, "http", "localhost", &path, CHAINED_CLIENT_ADDR);
            }
        }
        let entry = rng.string(&host_bits, 10);
        if let Ok(h) = allowed_hosts::AllowedHost::parse(&entry) {
            let hosts = AllowedHosts::new(vec![h]);
            let _ = hosts.allows("http", &rng.string(&host_bits, 6), 80);
        }
    }
}
