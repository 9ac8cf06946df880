//! Snapshot tests: each `tests/ui/NAME.toml` must produce exactly `tests/ui/NAME.err` (the
//! rendered errors, or `ok`). `BLESS=1 cargo test -p verge-spin-manifest` rewrites the snapshots
//! after a deliberate change (`VERGE_BLESS=1`, as for the edge config, works too). Variables
//! come from nowhere: every required variable is missing.

use std::path::Path;

use verge_spin_manifest::{parse, VariableInputs};

#[test]
fn ui_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let bless = std::env::var_os("BLESS").is_some() || std::env::var_os("VERGE_BLESS").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut seen = 0;
    let mut failed = Vec::new();
    for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "toml")) {
        let src = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let actual = match parse(&name, &src, Path::new("/app"), &VariableInputs::default()) {
            Ok(_) => "ok\n".to_owned(),
            Err(e) => format!("{e}\n"),
        };
        let snap = path.with_extension("err");
        if bless {
            std::fs::write(&snap, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&snap).unwrap_or_default();
        if actual != expected {
            failed.push(format!("{}:\n--- expected\n{expected}--- actual\n{actual}", snap.display()));
        }
        seen += 1;
    }
    assert!(failed.is_empty(), "snapshots differ (BLESS=1 to accept):\n{}", failed.join("\n"));
    assert!(seen >= 9, "expected the ui snapshots to be present, found {seen}");
}
