//! Names Spin validates: component IDs (`KebabId`), variable names (`LowerSnakeId` plus the
//! expression key rules) and key-value labels (kebab-case or snake_case).
//!
//! Ported from Spin's `crates/serde/src/id.rs` (`Id<DELIM, LOWER>::try_from`) and
//! `crates/expressions/src/lib.rs` (`Key::validate`); the messages are Spin's.

/// Spin's `Id<DELIM, LOWER>`: non-empty words separated by `delim`; each word starts with an
/// ASCII letter (or a digit, after the first word) and is all lowercase or all UPPERCASE
/// (all lowercase when `lower`); ':' is allowed inside words.
fn id(s: &str, delim: char, lower: bool) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    let wrong = match delim {
        '_' => Some('-'),
        '-' => Some('_'),
        _ => None,
    };
    if let Some(wrong) = wrong {
        if s.contains(wrong) {
            return Err(format!("words must be separated with {delim:?}, not {wrong:?}"));
        }
    }
    for (i, word) in s.split(delim).enumerate() {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            return Err(format!("{delim:?}-separated words must not be empty"));
        };
        if !(first.is_ascii_alphabetic() || (i > 0 && first.is_ascii_digit())) {
            return Err(format!("{delim:?}-separated words must start with an ASCII letter or digit; got {first:?}"));
        }
        let upper = first.is_ascii_uppercase();
        for ch in chars {
            if ch.is_ascii_digit() || ch == ':' {
            } else if !ch.is_ascii_alphanumeric() {
                return Err(format!("{delim:?}-separated words may only contain alphanumeric ASCII (plus ':' inside words); got {ch:?}"));
            } else if ch.is_ascii_uppercase() != upper {
                return Err(format!("{delim:?}-separated words must be all lowercase or all UPPERCASE; got {word:?}"));
            }
        }
        if lower && upper {
            return Err(format!("Lower-case identifiers must be all lowercase; got {s:?}"));
        }
    }
    Ok(())
}

/// A component ID (`KebabId`): `my-component`, `api2`.
pub(crate) fn kebab(s: &str) -> Result<(), String> {
    id(s, '-', false)
}

/// A key-value store or SQLite label: kebab-case or snake_case (`kebab_or_snake_case` in
/// `crates/manifest/src/schema/v2.rs`).
pub(crate) fn label(s: &str) -> Result<(), String> {
    kebab(s).or_else(|_| id(s, '_', false)).map_err(|_| "expected kebab-case or snake_case".into())
}

/// An application or component variable name: `LowerSnakeId` in the manifest schema, and the
/// expression resolver's `Key::validate` on top (which also refuses a trailing '_' and "__").
pub(crate) fn variable(s: &str) -> Result<(), String> {
    id(s, '_', true)?;
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(format!("invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."));
    }
    if !s.bytes().next().is_some_and(|b| b.is_ascii_lowercase()) {
        return Err("must start with a lowercase ASCII letter".into());
    }
    if !s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return Err("must end with a lowercase ASCII letter or digit".into());
    }
    if s.contains("__") {
        return Err("must not contain multiple consecutive underscores".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_ids_as_spin() {
        for ok in ["edge", "origin", "a-b-c", "api2", "a-1", "MY-COMP", "x:y"] {
            assert!(kebab(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a_b", "-a", "a-", "a--b", "1a", "mIxEd", "a.b", "é"] {
            assert!(kebab(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn variable_names_as_spin() {
        for ok in ["a", "abc", "a1b2c3", "a_1", "a_1_b_3", "foo_bar"] {
            assert!(variable(ok).is_ok(), "{ok}");
        }
        for bad in ["", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y", "FOO"] {
            assert!(variable(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_are_kebab_or_snake() {
        for ok in ["default", "snake_case", "kebab-case"] {
            assert!(label(ok).is_ok(), "{ok}");
        }
        for bad in ["b@dlabel", "camelCase", ""] {
            assert!(label(bad).is_err(), "{bad}");
        }
    }
}
