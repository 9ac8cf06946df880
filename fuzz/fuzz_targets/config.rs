//! The edge config parser: any text gives a config or positioned errors, never a panic; an
//! accepted config has a catch-all last behaviour.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    match verge_edge::EdgeConfig::parse("fuzz.toml", src) {
        Ok(config) => {
            let _ = (config.references(), config.secrets());
        }
        Err(errors) => {
            let text = errors.to_string();
            assert!(!text.is_empty(), "a refused config says why");
        }
    }
});
