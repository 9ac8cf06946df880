//! Each component in the repository's manifests declares, as component variables, exactly the
//! settings it reads (the edge: the references in edge/edge.toml; the origin:
//! `verge_origin::config::VARIABLES`), named like the setting in lower case. A setting the
//! manifest forgets would silently fall back to the component's default under Spin; one it
//! declares but nobody reads is dead configuration.

use std::collections::BTreeSet;
use std::path::Path;

use verge_spin_manifest::{load, App, VariableInputs};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Loads a manifest with every application variable given a placeholder value.
fn load_all(file: &str) -> App {
    let path = root().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let names = doc["variables"].as_table().unwrap().keys();
    let cli = names.map(|k| (k.clone(), format!("http://{k}.test"))).collect();
    load(&path, &VariableInputs { env: vec![], cli }).unwrap_or_else(|e| panic!("{e}"))
}

fn declared(app: &App, component: &str) -> BTreeSet<String> {
    app.component(component).unwrap_or_else(|| panic!("no component {component}")).variables.keys().cloned().collect()
}

fn edge_reads() -> BTreeSet<String> {
    let src = std::fs::read_to_string(root().join("edge/edge.toml")).unwrap();
    let config = verge_edge::EdgeConfig::parse("edge.toml", &src).unwrap();
    config.references().into_iter().map(str::to_ascii_lowercase).collect()
}

fn origin_reads() -> BTreeSet<String> {
    verge_origin::config::VARIABLES.iter().map(|v| v.to_ascii_lowercase()).collect()
}

#[test]
fn spin_toml_declares_what_the_edge_reads() {
    assert_eq!(declared(&load_all("spin.toml"), "edge"), edge_reads());
}

#[test]
fn spin_toml_declares_what_the_origin_reads() {
    assert_eq!(declared(&load_all("spin.toml"), "origin"), origin_reads());
}

#[test]
fn origin_spin_toml_declares_what_the_origin_reads() {
    assert_eq!(declared(&load_all("origin.spin.toml"), "origin"), origin_reads());
}
