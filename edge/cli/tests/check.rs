//! The operator's view: run the built `verge` binary on config files and read what it prints.
mod common;

use common::verge;

#[test]
fn the_shipped_config_is_valid() {
    let (code, out, _) = verge(&["check"]);
    assert_eq!(code, 0);
    // The count follows the file (others add behaviours); what matters is that every one is read.
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../edge.toml")).unwrap();
    let behaviours = src.lines().filter(|l| l.trim() == "[[behaviours]]").count();
    let origins = src.lines().filter(|l| l.starts_with("[origins.")).count();
    assert_eq!(out.trim(), format!("edge/edge.toml: ok ({origins} origins, {behaviours} behaviours)"));
}

#[test]
fn every_error_of_every_file_is_printed_with_position_and_hint() {
    let (code, _, err) = verge(&["check", "edge/core/tests/ui/unknown_keys.toml", "edge/core/tests/ui/shadowed.toml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "edge/core/tests/ui/unknown_keys.toml:13:1: error: unknown key `orign` in behaviour 1\n  hint: did you mean `origin`?"
        ),
        "{err}"
    );
    assert!(err.contains("4 errors in edge/core/tests/ui/unknown_keys.toml"), "{err}");
    assert!(err.contains("edge/core/tests/ui/shadowed.toml:12:8: error: behaviour 2"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(verge(&[]).0, 2);
    assert_eq!(verge(&["check", "no/such/file.toml"]).0, 1);
}

#[test]
fn warnings_are_printed_with_position_and_do_not_fail_the_check() {
    let (code, out, err) = verge(&["check", "edge/core/tests/ui/issuer_slash.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("edge/core/tests/ui/issuer_slash.toml: ok"), "{out}");
    assert!(
        err.contains("edge/core/tests/ui/issuer_slash.toml:15:10: warning: [auth.jwt.api] issuer differs from [auth.oidc] issuer only by a trailing slash\n  hint: "),
        "{err}"
    );
}
