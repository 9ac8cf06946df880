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
    pub fn render<'a>(&'a self, file: &'a str, level: &'a str) -> impl fmt::Display + 'a {
        Rendered { d: self, file, level }
    }

    pub(crate) fn at(lines: &Lines, span: Range<usize>, message: impl Into<String>, hint: Option<String>) -> Self {
        let (line, column) = lines.line_col(span.start);
        Diagnostic { line, column, message: message.into(), hint }
    }
}

struct Rendered<'a> {
    d: &'a Diagnostic,
    file: &'a str,
    level: &'a str,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.d;
        write!(f, "{}:{}:{}: {}: {}", self.file, d.line, d.column, self.level, d.message)?;
        match &d.hint {
            Some(h) => write!(f, "\n  hint: {h}"),
            None => Ok(()),
        }
    }
}

/// Where each line of one source starts, found once (O(length)), so that each diagnostic's line
/// is a binary search and its column a count within its own line. A scan from the start of the
/// file per diagnostic made a file with many errors quadratic: 70 % of the `config` fuzz
/// target's time (8 KB inputs with hundreds of syntax errors), and `verge check` paid the same.
pub(crate) struct Lines<'s> {
    src: &'s str,
    /// Byte offset of each line's first byte.
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        Lines { src, starts: std::iter::once(0).chain(src.match_indices('\n').map(|(i, _)| i + 1)).collect() }
    }

    /// 1-based line and column (in chars) of a byte offset (clamped to the source; inside a
    /// character: the column of that character).
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let before = &self.src[self.starts[line - 1]..offset];
        (line, if before.is_ascii() { before.len() } else { before.chars().count() } + 1)
    }
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
        let lines = Lines::new(src);
        assert_eq!(lines.line_col(0), (1, 1));
        assert_eq!(lines.line_col(6), (2, 1));
        assert_eq!(lines.line_col(src.find('=').unwrap()), (1, 3));
        let second_eq = src.rfind('=').unwrap();
        assert_eq!(lines.line_col(second_eq), (2, 4));
        // The end of the file (and past it) is after the last line's newline.
        assert_eq!(lines.line_col(src.len()), (3, 1));
        assert_eq!(lines.line_col(src.len() + 10), (3, 1));
    }

    /// Against a scan from the start, at every byte offset of a file with multi-byte characters,
    /// empty lines and no final newline.
    #[test]
    fn the_index_agrees_with_a_scan_from_the_start() {
        let src = "ä = \"€\"\n\n[t]\r\n😀k = 1\nend";
        let lines = Lines::new(src);
        for offset in 0..=src.len() {
            let Some(before) = src.get(..offset) else { continue };
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            assert_eq!(lines.line_col(offset), (line, before[line_start..].chars().count() + 1), "offset {offset}");
        }
    }
}
