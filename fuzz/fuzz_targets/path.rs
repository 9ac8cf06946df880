//! Path normalisation: never a panic; a normalised path has no empty, `.` or `..` segment, and
//! normalising it again (after encoding it back to the wire) gives the same path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use verge_edge::path::NormalPath;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(p) = NormalPath::parse(raw) else { return };
    let s = p.as_str();
    assert!(s.starts_with('/'));
    let inner = s.trim_start_matches('/').trim_end_matches('/');
    if !inner.is_empty() {
        assert!(inner.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".."), "{raw:?} -> {s:?}");
    }
    let again = NormalPath::parse(&NormalPath::encode(s)).expect("a normalised path parses again");
    assert_eq!(again.as_str(), s, "normalisation is idempotent for {raw:?}");
    let _ = p.object_key();
    let _ = p.has_extension();
});
