//! The manifest walk: the spanned TOML tree to a validated [`App`], every problem reported with
//! its position.
//!
//! The schema is Spin's manifest v2 (`crates/manifest/src/schema/v2.rs`, `schema/common.rs`,
//! `crates/http/src/config.rs` for `[[trigger.http]]`, `crates/trigger-http/src/lib.rs` for the
//! application `base`). Keys Spin accepts for features this host does not implement are named
//! as such; keys Spin does not know are unknown keys, as with Spin's `deny_unknown_fields`.
//! Keys that only other tools read (`build`, `tool`, `[application] targets`) are checked for
//! shape where Spin checks it, and otherwise ignored, as `spin up` ignores them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::de::{DeInteger, DeTable, DeValue};

use crate::allowed_hosts::{AllowedHost, AllowedHosts};
use crate::diagnostic::line_col;
use crate::id;
use crate::routes::{same_route, Route, Router};
use crate::template::{self, Part};
use crate::variables::{self, env_name, Declared, VariableInputs};
use crate::walk::{closest, entries, node, Checker, Fields, Key, Node, Span, Unsupported};

/// A loaded application: what `spin up` would run.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    /// In manifest order.
    pub components: Vec<Component>,
    pub router: Router,
}

impl App {
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }
}

/// One `[component.ID]`, with its templates resolved.
#[derive(Debug, Clone)]
pub struct Component {
    /// Validated like Spin's `KebabId`.
    pub id: String,
    /// The local `.wasm` path, relative paths joined to the manifest's directory. Not checked
    /// for existence here: the host reads it.
    pub source: PathBuf,
    pub allowed_outbound_hosts: AllowedHosts,
    /// Key-value store labels (kebab-case or snake_case, as Spin requires).
    pub key_value_stores: Vec<String>,
    pub environment: Vec<(String, String)>,
    /// Component variables, templates resolved against application variables.
    pub variables: BTreeMap<String, String>,
    /// Component variables whose value came from a `secret = true` application variable
    /// (never log these).
    pub secret_variables: BTreeSet<String>,
}

const COMPONENT_UNSUPPORTED: &[Unsupported<'static>] = &[
    Unsupported {
        key: "files",
        hint: "this host mounts no files into components; embed the content in the component or serve it from another component",
    },
    Unsupported { key: "exclude_files", hint: "this host mounts no files into components" },
    Unsupported { key: "sqlite_databases", hint: "this host provides key-value stores (key_value_stores), not SQLite databases" },
    Unsupported { key: "ai_models", hint: "this host provides no Serverless AI models" },
    Unsupported {
        key: "dependencies",
        hint: "compose the component before running it (e.g. with wac) and give the composed .wasm as source",
    },
    Unsupported { key: "dependencies_inherit_configuration", hint: "this host supports no component dependencies" },
    Unsupported {
        key: "allowed_http_hosts",
        hint: "this deprecated key is not read; write allowed_outbound_hosts = [\"https://example.com\"]",
    },
    Unsupported { key: "profile", hint: "this host runs the default profile only; set source directly" },
];

const COMPONENT_KEYS: &[&str] =
    &["source", "description", "variables", "environment", "allowed_outbound_hosts", "key_value_stores", "build", "tool"];

/// A trigger as declared, before cross-checks.
struct Trigger {
    number: usize,
    component: Option<(String, Span)>,
    /// `None` for a private route.
    route: Option<(String, Span)>,
}

/// A component as declared, before templates are resolved.
struct Declaration {
    id: String,
    source: Option<PathBuf>,
    variables: Vec<(String, String, Span)>,
    environment: Vec<(String, String)>,
    hosts: Vec<(String, Span)>,
    kv: Vec<String>,
}

pub(crate) fn walk(ck: &mut Checker<'_>, root: &DeTable<'_>, base_dir: &Path, inputs: &VariableInputs) -> Option<App> {
    if !check_version(ck, root) {
        return None;
    }
    let mut f = Fields::new(
        ck,
        root,
        Span { start: 0, end: 0 },
        "the manifest",
        &["spin_manifest_version", "application", "variables", "trigger", "component"],
        &[],
    );
    f.take("spin_manifest_version");
    let name = match f.require(ck, "application", "[application] with name = \"my-app\"") {
        Some(n) => application(ck, n),
        None => None,
    };
    let declared = f.take("variables").map(|n| declare_variables(ck, n)).unwrap_or_default();
    let components = f.take("component").map(|n| declare_components(ck, n, base_dir)).unwrap_or_default();
    let triggers = match f.require(ck, "trigger", "[[trigger.http]] with route = \"/...\" and component = \"NAME\"") {
        Some(n) => declare_triggers(ck, n),
        None => Vec::new(),
    };

    let router = build_router(ck, &triggers, &components);
    let values = values(ck, &declared, inputs);
    let components: Vec<Component> = components.into_iter().filter_map(|c| resolve_component(ck, c, &declared, &values)).collect();
    let name = name?;
    let router = router?;
    (!ck.has_errors()).then_some(App { name, components, router })
}

/// `spin_manifest_version = 2`; a version 1 manifest stops the walk (its schema is another one).
fn check_version(ck: &mut Checker<'_>, root: &DeTable<'_>) -> bool {
    let all = entries(root);
    let find = |name: &str| all.iter().find(|(k, _)| k.name == name).map(|(k, v)| (*k, *v));
    let v1_hint = "this host supports manifest version 2 only: convert the manifest (see https://spinframework.dev/v2/manifest-reference) and write spin_manifest_version = 2";
    if let Some((k, _)) = find("spin_version") {
        ck.error_hint(k.span, "this is a version 1 manifest (spin_version)", v1_hint);
        return false;
    }
    match find("spin_manifest_version") {
        None => ck.error_hint(
            Span { start: 0, end: 0 },
            "missing spin_manifest_version",
            "add spin_manifest_version = 2 at the top of the file",
        ),
        Some((_, v)) => match v.value {
            DeValue::Integer(i) if int_value(i) == Some(2) => {}
            DeValue::String(s) if s.as_ref() == "1" => {
                ck.error_hint(v.span, "this is a version 1 manifest (spin_manifest_version = \"1\")", v1_hint);
                return false;
            }
            _ => ck.error_hint(v.span, "unsupported spin_manifest_version", "this host reads spin_manifest_version = 2"),
        },
    }
    true
}

fn int_value(i: &DeInteger<'_>) -> Option<i64> {
    let digits = i.as_str().replace('_', "");
    let digits = if i.radix() == 10 { digits.as_str() } else { digits.get(2..)? };
    i64::from_str_radix(digits, i.radix()).ok()
}

/// `[application]`: returns the name.
fn application(ck: &mut Checker<'_>, n: Node<'_, '_>) -> Option<String> {
    let t = ck.table(n, "[application]")?;
    let mut f =
        Fields::new(ck, t, n.span, "[application]", &["name", "version", "description", "authors", "targets", "trigger", "tool"], &[]);
    let name = f.require(ck, "name", "name = \"my-app\"").and_then(|v| ck.string(v));
    for key in ["version", "description"] {
        if let Some(v) = f.take(key) {
            ck.string(v);
        }
    }
    if let Some(v) = f.take("authors") {
        ck.strings(v, "authors");
    }
    // Deployment targets and tool settings are for `spin build`/deploy and plugins.
    if let Some(v) = f.take("targets") {
        ck.array(v, "targets");
    }
    if let Some(v) = f.take("tool") {
        ck.table(v, "[application.tool]");
    }
    if let Some(v) = f.take("trigger") {
        application_triggers(ck, v);
    }
    name
}

/// `[application.trigger.http]`: only `base = "/"` (Spin warns that it is deprecated; any other
/// base is an error in Spin 3).
fn application_triggers(ck: &mut Checker<'_>, n: Node<'_, '_>) {
    let Some(t) = ck.table(n, "[application.trigger]") else { return };
    for (k, v) in entries(t) {
        if k.name != "http" {
            ck.error_hint(k.span, format!("trigger type `{}` is not supported by this host", k.name), "this host runs HTTP triggers only");
            continue;
        }
        let Some(http) = ck.table(v, "[application.trigger.http]") else { continue };
        let mut f = Fields::new(ck, http, v.span, "[application.trigger.http]", &["base"], &[]);
        if let Some(b) = f.take("base") {
            if ck.string(b).is_some_and(|base| base != "/") {
                ck.error_hint(
                    b.span,
                    "the application base is not supported",
                    "Spin 3 removed the deprecated base: prepend it to each [[trigger.http]] route and remove it",
                );
            }
        }
    }
}

/// `[variables]`, by name.
fn declare_variables(ck: &mut Checker<'_>, n: Node<'_, '_>) -> BTreeMap<String, (Declared, Span)> {
    let mut out = BTreeMap::new();
    let Some(t) = ck.table(n, "[variables]") else { return out };
    for (k, v) in entries(t) {
        if let Err(why) = id::variable(k.name) {
            ck.error_hint(
                k.span,
                format!("invalid variable name {:?}: {why}", k.name),
                "variable names are lower_snake_case: letters, digits and single '_'",
            );
            continue;
        }
        let what = format!("variable `{}`", k.name);
        let Some(vt) = ck.table(v, &what) else { continue };
        let mut f = Fields::new(ck, vt, v.span, &what, &["description", "required", "default", "secret"], &[]);
        if let Some(d) = f.take("description") {
            ck.string(d);
        }
        let default = f.take("default").and_then(|d| ck.string(d));
        let required = f.take("required").and_then(|r| ck.boolean(r)).unwrap_or(false);
        let secret = f.take("secret").and_then(|s| ck.boolean(s)).unwrap_or(false);
        match (required, &default) {
            (true, Some(_)) => ck.error_hint(
                k.span,
                format!("variable `{}` has both a default and required = true", k.name),
                "a required variable has no default: remove one of them",
            ),
            (false, None) => ck.error_hint(
                k.span,
                format!("variable `{}` has neither a default nor required = true", k.name),
                format!("write {} = {{ default = \"...\" }} or {} = {{ required = true }}", k.name, k.name),
            ),
            _ => {}
        }
        out.insert(k.name.to_owned(), (Declared { default, required, secret }, k.span));
    }
    out
}

/// `[component.ID]` tables, in file order.
fn declare_components(ck: &mut Checker<'_>, n: Node<'_, '_>, base_dir: &Path) -> Vec<Declaration> {
    let Some(t) = ck.table(n, "[component]") else { return Vec::new() };
    entries(t).into_iter().filter_map(|(k, v)| declare_component(ck, k, v, base_dir)).collect()
}

fn declare_component(ck: &mut Checker<'_>, k: Key<'_>, v: Node<'_, '_>, base_dir: &Path) -> Option<Declaration> {
    if let Err(why) = id::kebab(k.name) {
        ck.error_hint(k.span, format!("invalid component id {:?}: {why}", k.name), "component ids are kebab-case: my-component");
        return None;
    }
    let what = format!("[component.{}]", k.name);
    let t = ck.table(v, &what)?;
    let mut f = Fields::new(ck, t, v.span, &what, COMPONENT_KEYS, COMPONENT_UNSUPPORTED);
    let source = f.require(ck, "source", "source = \"path/to/component.wasm\"").and_then(|s| source(ck, s, base_dir));
    if let Some(d) = f.take("description") {
        ck.string(d);
    }
    let mut variables = Vec::new();
    if let Some(n) = f.take("variables") {
        for (key, value, span) in ck.string_table(n, &format!("[component.{}.variables]", k.name)) {
            match id::variable(key.name) {
                Ok(()) => variables.push((key.name.to_owned(), value, span)),
                Err(why) => {
                    ck.error_hint(key.span, format!("invalid variable name {:?}: {why}", key.name), "variable names are lower_snake_case")
                }
            }
        }
    }
    let environment = match f.take("environment") {
        Some(n) => ck.string_table(n, "environment").into_iter().map(|(key, value, _)| (key.name.to_owned(), value)).collect(),
        None => Vec::new(),
    };
    let hosts = f.take("allowed_outbound_hosts").map(|n| ck.strings(n, "allowed_outbound_hosts")).unwrap_or_default();
    let mut kv = Vec::new();
    for (label, span) in f.take("key_value_stores").map(|n| ck.strings(n, "key_value_stores")).unwrap_or_default() {
        match id::label(&label) {
            Ok(()) => kv.push(label),
            Err(why) => ck.error_hint(
                span,
                format!("invalid key-value store label {label:?}: {why}"),
                "labels look like \"default\" or \"my-store\"",
            ),
        }
    }
    if let Some(b) = f.take("build") {
        build(ck, b, &format!("[component.{}.build]", k.name));
    }
    if let Some(tool) = f.take("tool") {
        ck.table(tool, "tool");
    }
    Some(Declaration { id: k.name.to_owned(), source, variables, environment, hosts, kv })
}

/// `source`: a local path; URL and registry sources are refused (this host fetches nothing).
fn source(ck: &mut Checker<'_>, n: Node<'_, '_>, base_dir: &Path) -> Option<PathBuf> {
    match n.value {
        DeValue::String(s) if !s.is_empty() => Some(base_dir.join(s.as_ref())),
        DeValue::String(_) => {
            ck.error_hint(n.span, "empty component source", "write source = \"path/to/component.wasm\"");
            None
        }
        DeValue::Table(_) => {
            ck.error_hint(
                n.span,
                "a component source from a URL or a registry is not supported by this host",
                "download or build the .wasm and give its path: source = \"path/to/component.wasm\"",
            );
            None
        }
        _ => {
            ck.wrong_type(n, "a string", "write source = \"path/to/component.wasm\"");
            None
        }
    }
}

/// `[component.ID.build]`, checked as Spin's `ComponentBuildConfig` (`spin build` runs it; the
/// host ignores it).
fn build(ck: &mut Checker<'_>, n: Node<'_, '_>, what: &str) {
    let Some(t) = ck.table(n, what) else { return };
    let mut f = Fields::new(ck, t, n.span, what, &["command", "workdir", "watch"], &[]);
    if let Some(c) = f.require(ck, "command", "command = \"cargo build --release\"") {
        if !matches!(c.value, DeValue::String(_)) {
            ck.strings(c, "command");
        }
    }
    if let Some(w) = f.take("workdir") {
        ck.string(w);
    }
    if let Some(w) = f.take("watch") {
        ck.strings(w, "watch");
    }
}

/// `[[trigger.TYPE]]`: HTTP triggers only.
fn declare_triggers(ck: &mut Checker<'_>, n: Node<'_, '_>) -> Vec<Trigger> {
    let mut out = Vec::new();
    let Some(t) = ck.table(n, "[trigger]") else { return out };
    for (k, v) in entries(t) {
        if k.name != "http" {
            ck.error_hint(
                k.span,
                format!("trigger type `{}` is not supported by this host", k.name),
                "this host runs HTTP triggers only ([[trigger.http]])",
            );
            continue;
        }
        let DeValue::Array(items) = v.value else {
            ck.wrong_type(v, "an array of tables", "write each trigger as a [[trigger.http]] table");
            continue;
        };
        for (i, item) in items.as_ref().iter().enumerate() {
            if let Some(tr) = http_trigger(ck, node(item), i + 1) {
                out.push(tr);
            }
        }
    }
    out
}

fn http_trigger(ck: &mut Checker<'_>, n: Node<'_, '_>, number: usize) -> Option<Trigger> {
    let what = format!("[[trigger.http]] #{number}");
    let t = ck.table(n, &what)?;
    let unsupported = [
        Unsupported { key: "static_response", hint: "serve the response from a component" },
        Unsupported { key: "components", hint: "name one component: component = \"NAME\"" },
    ];
    let mut f = Fields::new(ck, t, n.span, &what, &["route", "component", "executor", "id"], &unsupported);
    if let Some(id) = f.take("id") {
        ck.string(id);
    }
    // A static response names no component; it is reported as unsupported above.
    let static_response = t.iter().any(|(k, _)| k.get_ref() == "static_response");
    let component = f.take("component");
    if component.is_none() && !static_response {
        f.require(ck, "component", "component = \"NAME\"");
    }
    let component = component.and_then(|c| match c.value {
        DeValue::String(s) => match id::kebab(s) {
            Ok(()) => Some((s.to_string(), c.span)),
            Err(why) => {
                ck.error_hint(
                    c.span,
                    format!("invalid component id {:?}: {why}", s.as_ref()),
                    "component ids are kebab-case: my-component",
                );
                None
            }
        },
        DeValue::Table(_) => {
            ck.error_hint(
                c.span,
                "an inline component in a trigger is not supported by this host",
                "define it as [component.NAME] and write component = \"NAME\"",
            );
            None
        }
        _ => {
            ck.wrong_type(c, "a string", "write component = \"NAME\"");
            None
        }
    });
    let route = f.require(ck, "route", "route = \"/...\" or route = { private = true }").and_then(|r| route(ck, r));
    if let Some(e) = f.take("executor") {
        executor(ck, e);
    }
    let route = route?;
    Some(Trigger { number, component, route })
}

/// `route = "/path"` or `route = { private = true }`; `Some(None)` for a private route.
fn route(ck: &mut Checker<'_>, n: Node<'_, '_>) -> Option<Option<(String, Span)>> {
    match n.value {
        DeValue::String(s) => Some(Some((s.to_string(), n.span))),
        DeValue::Table(t) => {
            let mut f = Fields::new(ck, t, n.span, "a private route", &["private"], &[]);
            let private = f.require(ck, "private", "private = true").and_then(|p| ck.boolean(p))?;
            if !private {
                ck.error_hint(
                    n.span,
                    "route must be a string pattern or '{ private = true }'",
                    "write route = { private = true } or a path such as route = \"/...\"",
                );
                return None;
            }
            Some(None)
        }
        _ => {
            ck.wrong_type(n, "a string or { private = true }", "write route = \"/...\" or route = { private = true }");
            None
        }
    }
}

/// `executor = { type = "spin" }` (or "http", its name in Spin's `HttpExecutorType`); Wagi is
/// not supported.
fn executor(ck: &mut Checker<'_>, n: Node<'_, '_>) {
    let Some(t) = ck.table(n, "executor") else { return };
    let kind = t.iter().find(|(k, _)| k.get_ref() == "type").and_then(|(_, v)| v.get_ref().as_str().map(str::to_owned));
    match kind.as_deref() {
        Some("wagi") => ck.error_hint(
            n.span,
            "the Wagi executor is not supported by this host",
            "build the component for wasi:http and remove executor",
        ),
        Some("spin" | "http") => {
            Fields::new(ck, t, n.span, "executor", &["type"], &[]);
        }
        _ => {
            let mut f = Fields::new(ck, t, n.span, "executor", &["type"], &[]);
            if let Some(k) = f.require(ck, "type", "type = \"spin\"") {
                if ck.string(k).is_some() {
                    ck.error_hint(k.span, "unknown executor type", "write executor = { type = \"spin\" } or leave executor out");
                }
            }
        }
    }
}

/// Cross-checks triggers against components and each other; builds the router.
fn build_router(ck: &mut Checker<'_>, triggers: &[Trigger], components: &[Declaration]) -> Option<Router> {
    let ids: Vec<&str> = components.iter().map(|c| c.id.as_str()).collect();
    let mut routes: Vec<(Route, Span)> = Vec::new();
    let mut http_components = BTreeSet::new();
    let mut ok = true;
    for t in triggers {
        let Some((component, cspan)) = &t.component else {
            ok = false;
            continue;
        };
        if !ids.contains(&component.as_str()) {
            let hint = match closest(component, &ids) {
                Some(c) => format!("did you mean \"{c}\"? components: {}", ids.join(", ")),
                None if ids.is_empty() => format!("define [component.{component}]"),
                None => format!("define [component.{component}] or use one of: {}", ids.join(", ")),
            };
            ck.error_hint(*cspan, format!("trigger {} uses component \"{component}\", which is not defined", t.number), hint);
            ok = false;
        }
        http_components.insert(component.clone());
        let Some((raw, rspan)) = &t.route else { continue };
        let r = match Route::new(component, raw) {
            Ok(r) => r,
            Err(why) => {
                ck.error_hint(
                    *rspan,
                    format!("invalid route {raw:?}: {why}"),
                    "routes look like \"/exact\", \"/prefix/...\" or \"/users/:id\"",
                );
                ok = false;
                continue;
            }
        };
        if let Some((first, fspan)) = routes.iter().find(|(prior, _)| same_route(prior, &r)) {
            let (line, col) = line_col(ck.src, fspan.start);
            ck.error_hint(
                *rspan,
                format!(
                    "route \"{raw}\" (component \"{component}\") duplicates route \"{}\" at line {line}, column {col} (component \"{}\")",
                    first.raw_route, first.component
                ),
                "Spin would only ever use one of them: remove one or change its route",
            );
            ok = false;
            continue;
        }
        routes.push((r, *rspan));
    }
    ok.then(|| Router::new(routes.into_iter().map(|(r, _)| r).collect(), http_components))
}

/// Values of application variables; a required one without a value is an error naming it.
fn values(ck: &mut Checker<'_>, declared: &BTreeMap<String, (Declared, Span)>, inputs: &VariableInputs) -> BTreeMap<String, String> {
    let plain: BTreeMap<String, Declared> = declared.iter().map(|(k, (d, _))| (k.clone(), d.clone())).collect();
    let values = variables::resolve(&plain, inputs);
    for (name, (d, span)) in declared {
        if d.required && !values.contains_key(name) {
            ck.error_hint(
                *span,
                format!("required variable `{name}` has no value"),
                format!("pass --variable {name}=VALUE or set {} in the environment", env_name(name)),
            );
        }
    }
    values
}

/// A template checked against the declared variables; errors point inside the string.
fn check_template(
    ck: &mut Checker<'_>,
    text: &str,
    span: Span,
    what: &str,
    declared: &BTreeMap<String, (Declared, Span)>,
) -> Option<Vec<Part>> {
    let parts = match template::parse(text) {
        Ok(p) => p,
        Err(why) => {
            ck.error_hint(span, format!("invalid template in {what}: {why}"), "write {{ variable_name }} with both braces");
            return None;
        }
    };
    let names: Vec<&str> = declared.keys().map(String::as_str).collect();
    let mut ok = true;
    for name in template::names(&parts) {
        if !declared.contains_key(name) {
            let hint = match closest(name, &names) {
                Some(c) => format!("did you mean `{c}`? declare it in [variables] or use one of: {}", names.join(", ")),
                None => format!("declare it in [variables]: {name} = {{ default = \"...\" }} or {{ required = true }}"),
            };
            ck.error_hint(expr_span(ck.src, span, name), format!("{what} refers to undefined variable `{name}`"), hint);
            ok = false;
        }
    }
    ok.then_some(parts)
}

/// Where `{{ name }}` is inside the string at `span` (the start of the string if not found).
fn expr_span(src: &str, span: Span, name: &str) -> Span {
    let raw = src.get(span.start..span.end).unwrap_or("");
    for (i, _) in raw.match_indices("{{") {
        let rest = &raw[i + 2..];
        let inner = rest.split("}}").next().unwrap_or("");
        if inner.trim() == name {
            let at = span.start + i + 2 + (inner.len() - inner.trim_start().len());
            return Span { start: at, end: at + name.len() };
        }
    }
    span
}

fn uses_secret(parts: &[Part], declared: &BTreeMap<String, (Declared, Span)>) -> bool {
    template::names(parts).any(|n| declared.get(n).is_some_and(|(d, _)| d.secret))
}

fn resolve_component(
    ck: &mut Checker<'_>,
    c: Declaration,
    declared: &BTreeMap<String, (Declared, Span)>,
    values: &BTreeMap<String, String>,
) -> Option<Component> {
    let value = |name: &str| values.get(name).map(String::as_str);
    let mut variables = BTreeMap::new();
    let mut secret_variables = BTreeSet::new();
    for (name, text, span) in &c.variables {
        let what = format!("component `{}` variable `{name}`", c.id);
        let Some(parts) = check_template(ck, text, *span, &what, declared) else { continue };
        if uses_secret(&parts, declared) {
            secret_variables.insert(name.clone());
        }
        // A missing required value was reported once, at its declaration.
        if let Some(v) = template::render(&parts, value) {
            variables.insert(name.clone(), v);
        }
    }

    let mut hosts = Vec::new();
    if let [(only, span)] = c.hosts.as_slice() {
        if only == "insecure:allow-all" {
            ck.error_hint(*span, "'insecure:allow-all' is not allowed", "write '*://*:*' if you really want to allow all outbound traffic");
        }
    }
    for (text, span) in &c.hosts {
        if c.hosts.len() == 1 && text == "insecure:allow-all" {
            continue;
        }
        let what = format!("component `{}` allowed_outbound_hosts entry", c.id);
        let Some(parts) = check_template(ck, text, *span, &what, declared) else { continue };
        let Some(resolved) = template::render(&parts, value) else { continue };
        match AllowedHost::parse(&resolved) {
            Ok(h) => hosts.push(h),
            Err(why) => {
                let shown = if resolved == *text {
                    format!("{text:?}")
                } else if uses_secret(&parts, declared) {
                    format!("{text:?} (its value uses a secret variable and is not shown)")
                } else {
                    format!("{text:?} (resolved to {resolved:?})")
                };
                let why = if uses_secret(&parts, declared) { "it is not scheme://host[:port]".to_owned() } else { why };
                ck.error_hint(
                    *span,
                    format!("invalid allowed_outbound_hosts entry {shown}: {why}"),
                    "write scheme://host[:port], e.g. \"https://example.com\", \"http://127.0.0.1:5000\", \"https://*.example.com\" or \"http://NAME.spin.internal\"",
                );
            }
        }
    }
    Some(Component {
        id: c.id,
        source: c.source?,
        allowed_outbound_hosts: AllowedHosts::new(hosts),
        key_value_stores: c.kv,
        environment: c.environment,
        variables,
        secret_variables,
    })
}
