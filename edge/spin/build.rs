fn main() {
    verge_edge::embed::build_script(env!("CARGO_MANIFEST_DIR"));
}
