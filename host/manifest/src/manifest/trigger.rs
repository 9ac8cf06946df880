//! `[[trigger.http]]`: route (or `{ private = true }`), component reference, executor; then the
//! cross-checks that need every trigger (components exist, no two routes alike) and the router.
//! Spin's schema: `Trigger` in `crates/manifest/src/schema/v2.rs`, `HttpTriggerConfig` in
//! `crates/http/src/config.rs`.

use std::collections::BTreeSet;

use toml::de::DeValue;

use super::component::Declaration;
use crate::diagnostic::line_col;
use crate::id;
use crate::routes::{same_route, Route, Router};
use crate::walk::{closest, entries, node, Checker, Fields, Node, Span, Unsupported};

/// A trigger as declared, before cross-checks.
pub(super) struct Trigger {
    number: usize,
    component: Option<(String, Span)>,
    /// `None` for a private route.
    route: Option<(String, Span)>,
}

/// `[[trigger.TYPE]]`: HTTP triggers only.
pub(super) fn declare_triggers(ck: &mut Checker<'_>, n: Node<'_, '_>) -> Vec<Trigger> {
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
pub(super) fn build_router(ck: &mut Checker<'_>, triggers: &[Trigger], components: &[Declaration]) -> Option<Router> {
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
