//! `[component.ID]`: declaration (shape, names, unsupported features) and resolution
//! (templates in `variables` and `allowed_outbound_hosts` against application variables).
//! Spin's schema: `Component` in `crates/manifest/src/schema/v2.rs`; templates and their
//! validation: `crates/expressions/src/lib.rs` (`validate_template`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::de::DeValue;

use crate::allowed_hosts::{AllowedHost, AllowedHosts};
use crate::id;
use crate::template::{self, Part};
use crate::variables::Declared;
use crate::walk::{closest, entries, Checker, Fields, Key, Node, Span, Unsupported};

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

/// A component as declared, before templates are resolved.
pub(super) struct Declaration {
    pub id: String,
    source: Option<PathBuf>,
    variables: Vec<(String, String, Span)>,
    environment: Vec<(String, String)>,
    hosts: Vec<(String, Span)>,
    kv: Vec<String>,
}

/// `[component.ID]` tables, in file order.
pub(super) fn declare_components(ck: &mut Checker<'_>, n: Node<'_, '_>, base_dir: &Path) -> Vec<Declaration> {
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

pub(super) fn resolve_component(
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
