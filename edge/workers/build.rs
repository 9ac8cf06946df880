fn main() {
    // The deployment's wrangler.toml (override with VERGE_WRANGLER_TOML): a secret the edge config
    // reads must not be one of its plain [vars].
    println!("cargo:rerun-if-env-changed=VERGE_WRANGLER_TOML");
    let wrangler = std::env::var_os("VERGE_WRANGLER_TOML")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wrangler.toml"));
    verge_edge::embed::build_script_workers(env!("CARGO_MANIFEST_DIR"), &wrangler);
}
