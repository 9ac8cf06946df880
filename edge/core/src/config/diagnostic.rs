//! Config errors that point at the file: line, column, what is wrong and what to do.
//!
//! ```text
//! edge.toml:14:10: error: behaviour 2 uses origin "apii", which is not defined
//!   hint: define [origins.apii] or use one of: api, web
//! ```

use std::fmt;
use std::ops::Range;

/// One problem in an edge config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// `file:line:col: LEVEL: message`, and the hint indented on the next line.
    pub fn render(&self, file: &str, level: &str) -> String {
        let mut out = format!("{file}:{}:{}: {level}: {}", self.line, self.column, self.message);
        if let Some(h) = &self.hint {
            out.push_str(&format!("\n  hint: {h}"));
        }
        out
    }

    pub(crate) fn at(src: &str, span: Range<usize>, message: impl Into<String>, hint: Option<String>) -> Self {
        let (line, column) = line_col(src, span.start);
        Diagnostic { line, column, message: message.into(), hint }
    }
}

/// 1-based line and column (in chars) of a byte offset.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Every problem found in one file, in file order. `Display` renders them the way compilers do,
/// one `file:line:col: error: message` line each with an indented hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<Diagnostic>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.errors {
            writeln!(f, "{}", d.render(&self.file, "error"))?;
        }
        write!(f, "{} error{} in {}", self.errors.len(), if self.errors.len() == 1 { "" } else { "s" }, self.file)
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_chars() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, src.find('=').unwrap()), (1, 3));
        let second_eq = src.rfind('=').unwrap();
        assert_eq!(line_col(src, second_eq), (2, 4));
    }
}
