//! Embedding the config file in an edge build: the adapters' build scripts call [`build_script`]
//! so that an invalid config fails the build with the same positioned errors `verge check`
//! prints, and the wasm carries only a config that parsed.

use std::path::{Path, PathBuf};

/// The build-time variable naming the config file to embed (default: `edge/edge.toml`).
pub const CONFIG_ENV: &str = "VERGE_EDGE_CONFIG";

/// For `build.rs`: validates the config and exports its absolute path as
/// `VERGE_EDGE_CONFIG_PATH` for `include_str!`. Exits the build with the errors otherwise.
pub fn build_script(manifest_dir: &str) {
    println!("cargo:rerun-if-env-changed={CONFIG_ENV}");
    let default = Path::new(manifest_dir).join("../edge.toml");
    let path: PathBuf = std::env::var_os(CONFIG_ENV).map(PathBuf::from).unwrap_or(default);
    let path = path.canonicalize().unwrap_or(path);
    println!("cargo:rerun-if-changed={}", path.display());
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read edge config {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    if let Err(errors) = crate::EdgeConfig::parse(&path.display().to_string(), &src) {
        // Cargo shows a failing build script's stderr.
        eprintln!("{errors}");
        std::process::exit(1);
    }
    println!("cargo:rustc-env=VERGE_EDGE_CONFIG_PATH={}", path.display());
}
