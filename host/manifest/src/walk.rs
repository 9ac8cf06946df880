//! Walking the spanned TOML tree (`toml::de::DeTable`): typed accessors that report a
//! [`Diagnostic`] at the exact span when a value has the wrong shape, and collect every problem
//! instead of stopping at the first. The same approach as the edge config walker
//! (`edge/core/src/config/walk.rs`), kept separate so this crate does not depend on the edge.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diagnostic::{Diagnostic, ManifestErrors};

/// A byte range in the manifest source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Span { start: r.start, end: r.end }
    }
}

/// A value in the tree and where it is.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a, 'i> {
    pub span: Span,
    pub value: &'a DeValue<'i>,
}

pub(crate) fn node<'a, 'i>(v: &'a Spanned<DeValue<'i>>) -> Node<'a, 'i> {
    Node { span: v.span().into(), value: v.get_ref() }
}

/// A key and where it is.
#[derive(Clone, Copy)]
pub(crate) struct Key<'a> {
    pub name: &'a str,
    pub span: Span,
}

/// The entries of a table in file order (the parsed table is sorted by key), so that problems
/// and components come out in the order they were written.
pub(crate) fn entries<'a, 'i>(t: &'a DeTable<'i>) -> Vec<(Key<'a>, Node<'a, 'i>)> {
    let mut v: Vec<_> = t.iter().map(|(k, v)| (Key { name: k.get_ref().as_ref(), span: k.span().into() }, node(v))).collect();
    v.sort_by_key(|(k, _)| k.span.start);
    v
}

pub(crate) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Collects diagnostics while the tree is walked.
pub(crate) struct Checker<'s> {
    pub src: &'s str,
    errors: Vec<Diagnostic>,
}

impl<'s> Checker<'s> {
    pub fn new(src: &'s str) -> Self {
        Checker { src, errors: Vec::new() }
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: Option<String>) {
        self.errors.push(Diagnostic::at(self.src, span.start..span.end, message, hint));
    }

    pub fn error_hint(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.error(span, message, Some(hint.into()));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Parses the document; syntax errors (all of them, with recovery) become diagnostics.
    pub fn parse_root(&mut self) -> Option<Spanned<DeTable<'s>>> {
        let (root, errs) = DeTable::parse_recoverable(self.src);
        for e in &errs {
            let span = e.span().unwrap_or(0..0);
            self.errors.push(Diagnostic::at(
                self.src,
                span,
                format!("TOML syntax: {}", e.message().trim()),
                Some("see https://toml.io for the syntax".into()),
            ));
        }
        errs.is_empty().then_some(root)
    }

    pub fn finish<T>(self, file: &str, value: Option<T>) -> Result<T, ManifestErrors> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => {
                let mut errors = self.errors;
                if errors.is_empty() {
                    errors.push(Diagnostic::nowhere("the manifest is invalid", None));
                }
                errors.sort_by_key(|d| d.position);
                errors.dedup();
                Err(ManifestErrors { file: file.to_owned(), errors })
            }
        }
    }

    pub fn wrong_type(&mut self, n: Node<'_, '_>, expected: &str, hint: &str) {
        self.error_hint(n.span, format!("expected {expected}, found {}", type_name(n.value)), hint);
    }

    pub fn table<'a, 'j>(&mut self, n: Node<'a, 'j>, what: &str) -> Option<&'a DeTable<'j>> {
        match n.value {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(n, "a table", &format!("{what} must be a table"));
                None
            }
        }
    }

    pub fn array<'a, 'j>(&mut self, n: Node<'a, 'j>, what: &str) -> Option<&'a [Spanned<DeValue<'j>>]> {
        match n.value {
            DeValue::Array(a) => Some(a.as_ref()),
            _ => {
                self.wrong_type(n, "an array", &format!("write {what} = [ ... ]"));
                None
            }
        }
    }

    pub fn string(&mut self, n: Node<'_, '_>) -> Option<String> {
        match n.value {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(n, "a string", "quote the value");
                None
            }
        }
    }

    pub fn boolean(&mut self, n: Node<'_, '_>) -> Option<bool> {
        match n.value {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(n, "a boolean", "write true or false");
                None
            }
        }
    }

    /// An array of strings, each with its span; wrong elements are reported and skipped.
    pub fn strings(&mut self, n: Node<'_, '_>, what: &str) -> Vec<(String, Span)> {
        let Some(items) = self.array(n, what) else { return Vec::new() };
        items
            .iter()
            .filter_map(|item| {
                let item = node(item);
                self.string(item).map(|s| (s, item.span))
            })
            .collect()
    }

    /// A table of string values, each with its key (in file order).
    pub fn string_table<'a>(&mut self, n: Node<'a, '_>, what: &str) -> Vec<(Key<'a>, String, Span)> {
        let Some(t) = self.table(n, what) else { return Vec::new() };
        entries(t).into_iter().filter_map(|(k, v)| self.string(v).map(|s| (k, s, v.span))).collect()
    }
}

/// How a key that this host does not implement is treated.
pub(crate) struct Unsupported<'h> {
    pub key: &'static str,
    pub hint: &'h str,
}

/// The keys of one table: unknown keys are reported when it is opened (with a "did you mean"
/// hint when one allowed key is close), keys of features this host does not implement are
/// reported as such, and the rest are taken one by one.
pub(crate) struct Fields<'a, 'i> {
    what: String,
    span: Span,
    entries: Vec<(Key<'a>, Node<'a, 'i>)>,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub fn new(
        ck: &mut Checker<'_>,
        table: &'a DeTable<'i>,
        span: Span,
        what: &str,
        allowed: &[&str],
        unsupported: &[Unsupported<'_>],
    ) -> Self {
        let mut kept = Vec::new();
        for (k, v) in entries(table) {
            if allowed.contains(&k.name) {
                kept.push((k, v));
            } else if let Some(u) = unsupported.iter().find(|u| u.key == k.name) {
                if !is_empty(v.value) {
                    ck.error_hint(k.span, format!("`{}` in {what} is not supported by this host", k.name), u.hint);
                }
            } else {
                let all: Vec<&str> = allowed.iter().copied().chain(unsupported.iter().map(|u| u.key)).collect();
                let hint = match closest(k.name, &all) {
                    Some(s) => format!("did you mean `{s}`? {what} takes: {}", allowed.join(", ")),
                    None => format!("{what} takes: {}", allowed.join(", ")),
                };
                ck.error_hint(k.span, format!("unknown key `{}` in {what}", k.name), hint);
            }
        }
        Fields { what: what.to_owned(), span, entries: kept }
    }

    pub fn take(&mut self, key: &str) -> Option<Node<'a, 'i>> {
        self.take_with_key(key).map(|(_, n)| n)
    }

    pub fn take_with_key(&mut self, key: &str) -> Option<(Key<'a>, Node<'a, 'i>)> {
        let i = self.entries.iter().position(|(k, _)| k.name == key)?;
        Some(self.entries.remove(i))
    }

    pub fn require(&mut self, ck: &mut Checker<'_>, key: &str, example: &str) -> Option<Node<'a, 'i>> {
        let n = self.take(key);
        if n.is_none() {
            ck.error_hint(self.span, format!("{} is missing `{key}`", self.what), format!("add {example}"));
        }
        n
    }
}

/// An empty array or table, or `false`: an unsupported feature declared empty or off asks for
/// nothing.
fn is_empty(v: &DeValue<'_>) -> bool {
    match v {
        DeValue::Boolean(b) => !b,
        DeValue::Array(a) => a.as_ref().is_empty(),
        DeValue::Table(t) => t.is_empty(),
        _ => false,
    }
}

/// The candidate nearest to a misspelt word (edit distance at most 2).
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates.iter().map(|c| (levenshtein(word, c), *c)).filter(|(d, _)| *d <= 2).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_near_keys_only() {
        assert_eq!(closest("compnent", &["component", "route"]), Some("component"));
        assert_eq!(closest("xyz", &["component", "route"]), None);
    }
}
