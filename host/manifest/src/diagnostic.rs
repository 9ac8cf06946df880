//! Manifest errors that point at the file: line, column, what is wrong and what to do.
//!
//! ```text
//! spin.toml:38:13: error: trigger 2 uses component "orign", which is not defined
//!   hint: did you mean "origin"? components: edge, origin
//! ```
//!
//! Spin's own loader stops at the first problem (`crates/manifest/src/error.rs` wraps one
//! `toml::de::Error`); this crate collects every problem in one run, like `verge check` does for
//! the edge config.

use std::fmt;
use std::ops::Range;

/// One problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line and column (in characters); `None` when the problem has no place in the file
    /// (the file could not be read).
    pub position: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub(crate) fn at(src: &str, span: Range<usize>, message: impl Into<String>, hint: Option<String>) -> Self {
        Diagnostic { position: Some(line_col(src, span.start)), message: message.into(), hint }
    }

    pub(crate) fn nowhere(message: impl Into<String>, hint: Option<String>) -> Self {
        Diagnostic { position: None, message: message.into(), hint }
    }
}

/// 1-based line and column (in chars) of a byte offset.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Every problem found in one manifest, in file order. `Display` renders them the way compilers
/// do, one `file:line:col: error: message` line each with an indented hint, then a count.
///
/// Not the tuple struct of the first sketch: the file name is needed to render the lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors {
    pub file: String,
    pub errors: Vec<Diagnostic>,
}

impl ManifestErrors {
    pub(crate) fn single(file: &str, d: Diagnostic) -> Self {
        ManifestErrors { file: file.to_owned(), errors: vec![d] }
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.errors {
            match d.position {
                Some((line, col)) => writeln!(f, "{}:{line}:{col}: error: {}", self.file, d.message)?,
                None => writeln!(f, "{}: error: {}", self.file, d.message)?,
            }
            if let Some(h) = &d.hint {
                writeln!(f, "  hint: {h}")?;
            }
        }
        let n = self.errors.len();
        write!(f, "{n} error{} in {}", if n == 1 { "" } else { "s" }, self.file)
    }
}

impl std::error::Error for ManifestErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_chars() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, src.rfind('=').unwrap()), (2, 4));
        // Inside a multi-byte character and past the end: clamped, no panic.
        assert_eq!(line_col(src, 8), (2, 2));
        assert_eq!(line_col(src, 999), (3, 1));
    }
}
