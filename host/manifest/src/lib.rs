//! `verge-spin-manifest`: reads a Spin application manifest (`spin.toml`, manifest version 2)
//! as `spin up` reads it, for the local Spin-compatible host (`host/`). Pure: no runtime, no
//! I/O beyond reading the manifest file (and `.env`, as Spin does, in
//! [`VariableInputs::from_process`]).
//!
//! ```
//! use std::path::Path;
//! use verge_spin_manifest::{parse, VariableInputs};
//!
//! let src = r#"
//! spin_manifest_version = 2
//! [application]
//! name = "demo"
//! [variables]
//! api = { default = "http://127.0.0.1:5000" }
//! [[trigger.http]]
//! route = "/..."
//! component = "web"
//! [component.web]
//! source = "web.wasm"
//! allowed_outbound_hosts = ["{{ api }}"]
//! variables = { api_url = "{{ api }}/v1" }
//! "#;
//! let app = parse("spin.toml", src, Path::new("/app"), &VariableInputs::default()).unwrap();
//! let m = app.router.route("/index.html").unwrap();
//! assert_eq!((m.component, m.path_info.as_str()), ("web", "/index.html"));
//! let web = app.component("web").unwrap();
//! assert!(web.allowed_outbound_hosts.allows("http", "127.0.0.1", 5000));
//! assert_eq!(web.variables["api_url"], "http://127.0.0.1:5000/v1");
//! ```
//!
//! Design choices:
//! - Every problem at once, each with `file:line:col`, a hint and "did you mean" where a key or
//!   name is close (Spin stops at the first error). See [`ManifestErrors`].
//! - The behaviour is Spin's, ported from its source (each module names the file it follows);
//!   where this crate differs, the module docs say so and why. Features this host does not
//!   implement (files, SQLite, AI models, dependencies, Wagi, URL sources, other trigger types)
//!   are errors naming the key, never silently ignored.
//! - Values of secret variables never appear in messages.

mod allowed_hosts;
mod diagnostic;
mod headers;
mod id;
mod manifest;
mod routes;
mod template;
mod variables;
mod walk;

use std::path::Path;

pub use allowed_hosts::AllowedHosts;
pub use diagnostic::{Diagnostic, ManifestErrors};
pub use headers::spin_headers;
pub use manifest::{App, Component};
pub use routes::{RouteMatch, Router, CHAINED_CLIENT_ADDR, WELL_KNOWN_PREFIX};
pub use variables::{env_name, VariableInputs, ENV_PREFIX};

/// Loads and validates; `path` is the manifest file; sources are resolved relative to its
/// directory.
///
/// # Errors
/// Every problem found, or the read error, as [`ManifestErrors`].
pub fn load(path: &Path, vars: &VariableInputs) -> Result<App, ManifestErrors> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path)
        .map_err(|e| ManifestErrors::single(&file, Diagnostic::nowhere(format!("cannot read the manifest: {e}"), None)))?;
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parse(&file, &src, base, vars)
}

/// Parses and validates manifest text; `file_name` is used in messages, `base_dir` to resolve
/// relative component sources.
///
/// # Errors
/// Every problem found, as [`ManifestErrors`].
pub fn parse(file_name: &str, src: &str, base_dir: &Path, vars: &VariableInputs) -> Result<App, ManifestErrors> {
    let mut ck = walk::Checker::new(src);
    let app = ck.parse_root().and_then(|root| manifest::walk(&mut ck, root.get_ref(), base_dir, vars));
    ck.finish(file_name, app)
}

#[cfg(test)]
mod tests;
