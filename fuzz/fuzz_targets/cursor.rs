//! Cursor decoding: any string is a key the origin sealed or a 400, never a panic; nothing
//! but a sealed cursor opens.
#![no_main]
use libfuzzer_sys::fuzz_target;
use verge_origin::cursor::CursorKey;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let key = CursorKey::new(b"fuzz-cursor-key-0123456789abcdef");
    assert!(key.open("orders p1", s).is_err(), "an unsealed cursor opened: {s:?}");
    // A sealed one round-trips whatever JSON it carries.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
        let sealed = key.seal("ctx", &v);
        // (Values compared loosely: serde_json may round a float differently on the way back.)
        assert!(key.open("ctx", &sealed).is_ok(), "a sealed cursor opens");
        assert!(key.open("other", &sealed).is_err());
    }
});
