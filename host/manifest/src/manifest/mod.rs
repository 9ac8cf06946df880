//! The manifest walk: the spanned TOML tree to a validated [`App`], every problem reported with
//! its position.
//!
//! The schema is Spin's manifest v2 (`crates/manifest/src/schema/v2.rs`, `schema/common.rs`,
//! `crates/http/src/config.rs` for `[[trigger.http]]`, `crates/trigger-http/src/lib.rs` for the
//! application `base`). Keys Spin accepts for features this host does not implement are named
//! as such; keys Spin does not know are unknown keys, as with Spin's `deny_unknown_fields`.
//! Keys that only other tools read (`build`, `tool`, `[application] targets`) are checked for
//! shape where Spin checks it, and otherwise ignored, as `spin up` ignores them.

use std::collections::BTreeMap;
use std::path::Path;

use toml::de::{DeInteger, DeTable, DeValue};

use crate::id;
use crate::routes::Router;
use crate::variables::{self, env_name, Declared, VariableInputs};
use crate::walk::{entries, Checker, Fields, Node, Span};

mod component;
mod trigger;

pub use component::Component;
use component::{declare_components, resolve_component};
use trigger::{build_router, declare_triggers};

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
