//! `spin:variables@3.0.0`: a component reads the variables its manifest section declares, with
//! their templates resolved against the application's `[variables]` at startup (from
//! `SPIN_VARIABLE_*`, `--variable` and defaults; a missing required one stops the host first).

use wasmtime::component::Accessor;

use crate::bindings::variables::{self, Error};
use crate::bindings::{Spin, SpinView};

/// Spin's rule for variable names: lowercase ASCII letters, digits and `_`, starting with a letter.
fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl<T> variables::HostWithStore<T> for Spin {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> wasmtime::Result<Result<String, Error>> {
        if !valid_name(&name) {
            return Ok(Err(Error::InvalidName(format!("invalid variable name {name:?}: use lowercase letters, digits and '_'"))));
        }
        Ok(accessor.with(|mut access| {
            let view = access.get();
            view.ctx.component.variables.get(&name).cloned().ok_or_else(|| Error::Undefined(format!("no variable for {name:?}")))
        }))
    }
}

impl variables::Host for SpinView<'_> {}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_spin() {
        assert!(super::valid_name("verge_origin_url"));
        assert!(super::valid_name("a1"));
        assert!(!super::valid_name("Verge"));
        assert!(!super::valid_name("1a"));
        assert!(!super::valid_name("a-b"));
        assert!(!super::valid_name(""));
    }
}
