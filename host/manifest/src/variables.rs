//! Values for application variables, found as `spin up` finds them: `--variable name=value`
//! first, then `SPIN_VARIABLE_NAME` in the environment (Spin's `EnvVariablesProvider`, which
//! also reads a `.env` file in the working directory when the variable is not in the process
//! environment), then the variable's `default`.
//!
//! Sources: `crates/variables/src/env.rs` (prefix `SPIN_VARIABLE`, name upper-cased, joined by
//! '_'; the process environment before `.env`), `crates/expressions/src/lib.rs` (providers are
//! asked in order, the default comes last; a required variable with no value fails at startup).

use std::collections::BTreeMap;
use std::path::Path;

/// The environment prefix Spin's environment provider uses.
pub const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// Inputs for variables: `SPIN_VARIABLE_*` from the process environment and `--variable k=v`
/// flags (the flags win).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariableInputs {
    /// Environment entries by their full name (`SPIN_VARIABLE_FOO_BAR`); other names are ignored.
    pub env: Vec<(String, String)>,
    /// `--variable name=value` flags by variable name; a later flag for the same name wins.
    pub cli: Vec<(String, String)>,
}

impl VariableInputs {
    /// The process environment's `SPIN_VARIABLE_*` entries (entries that are not UTF-8 are
    /// skipped), then those of `./.env` that the environment does not set, as Spin's
    /// environment provider looks there too.
    pub fn from_process(cli: Vec<(String, String)>) -> Self {
        let mut env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        if let Ok(text) = std::fs::read_to_string(Path::new(".env")) {
            for (k, v) in dotenv(&text) {
                if k.starts_with(ENV_PREFIX) && !env.iter().any(|(e, _)| *e == k) {
                    env.push((k, v));
                }
            }
        }
        VariableInputs { env, cli }
    }

    /// The value supplied for a variable, if any: the last `--variable` for it, else the
    /// environment's `SPIN_VARIABLE_NAME`.
    pub(crate) fn lookup(&self, name: &str) -> Option<&str> {
        if let Some((_, v)) = self.cli.iter().rev().find(|(k, _)| k == name) {
            return Some(v);
        }
        let key = env_name(name);
        self.env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
}

/// `foo_bar` -> `SPIN_VARIABLE_FOO_BAR`.
pub fn env_name(variable: &str) -> String {
    format!("{ENV_PREFIX}{}", variable.to_ascii_uppercase())
}

/// The subset of dotenv syntax a `.env` file for Spin variables needs: `KEY=value` lines,
/// optional `export `, `#` comments, single-quoted (literal) and double-quoted (with `\n`, `\"`,
/// `\\` escapes) values, unquoted values trimmed and cut at ` #`. Lines it does not understand
/// are skipped (dotenvy would report them; Spin then ignores the whole file).
fn dotenv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            continue;
        }
        let value = value.trim();
        let value = if let Some(rest) = value.strip_prefix('\'') {
            match rest.split_once('\'') {
                Some((v, _)) => v.to_owned(),
                None => continue,
            }
        } else if let Some(rest) = value.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = rest.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => v.push('\n'),
                        Some(other) => v.push(other),
                        None => break,
                    },
                    c => v.push(c),
                }
            }
            if !closed {
                continue;
            }
            v
        } else {
            value.split(" #").next().unwrap_or("").trim_end().to_owned()
        };
        out.push((key.to_owned(), value));
    }
    out
}

/// An application variable as declared in `[variables]`.
#[derive(Debug, Clone)]
pub(crate) struct Declared {
    pub default: Option<String>,
    pub required: bool,
    pub secret: bool,
}

/// The value of every declared variable that has one (supplied or default).
pub(crate) fn resolve(declared: &BTreeMap<String, Declared>, inputs: &VariableInputs) -> BTreeMap<String, String> {
    declared
        .iter()
        .filter_map(|(name, d)| {
            let value = inputs.lookup(name).map(str::to_owned).or_else(|| d.default.clone())?;
            Some((name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(default: Option<&str>, required: bool) -> Declared {
        Declared { default: default.map(str::to_owned), required, secret: false }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn cli_beats_env_beats_default() {
        let declared: BTreeMap<_, _> = [
            ("foo_bar".to_owned(), decl(Some("d"), false)),
            ("only_default".to_owned(), decl(Some("d"), false)),
            ("needed".to_owned(), decl(None, true)),
        ]
        .into();
        let inputs = VariableInputs {
            env: pairs(&[("SPIN_VARIABLE_FOO_BAR", "env"), ("SPIN_VARIABLE_NEEDED", "env")]),
            cli: pairs(&[("needed", "first"), ("needed", "cli")]),
        };
        let v = resolve(&declared, &inputs);
        assert_eq!(v["foo_bar"], "env");
        assert_eq!(v["only_default"], "d");
        assert_eq!(v["needed"], "cli", "flags win, the last one for a name");
        assert!(!resolve(&declared, &VariableInputs::default()).contains_key("needed"));
    }

    #[test]
    fn env_names_are_upper_case_with_prefix() {
        assert_eq!(env_name("foo_bar"), "SPIN_VARIABLE_FOO_BAR");
        let inputs = VariableInputs { env: pairs(&[("SPIN_VARIABLE_foo", "lower")]), cli: vec![] };
        assert_eq!(inputs.lookup("foo"), None, "Spin looks up the upper-case name only");
    }

    #[test]
    fn dotenv_subset() {
        let text = "# c\nexport SPIN_VARIABLE_A=1\nSPIN_VARIABLE_B = 'x # y'\nSPIN_VARIABLE_C=\"q\\\"\\n\"\nSPIN_VARIABLE_D=plain # note\nbad line\n=x\nSPIN_VARIABLE_E=\"open\n";
        assert_eq!(
            dotenv(text),
            pairs(&[("SPIN_VARIABLE_A", "1"), ("SPIN_VARIABLE_B", "x # y"), ("SPIN_VARIABLE_C", "q\"\n"), ("SPIN_VARIABLE_D", "plain")])
        );
    }
}
