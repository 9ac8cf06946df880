//! Walking the spanned TOML tree: typed accessors that report a [`Diagnostic`] at the exact
//! span when a value has the wrong shape, and collect every problem instead of stopping at the
//! first (unknown keys, wrong types and bad values all come out in one run).

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostic::{ConfigErrors, Diagnostic, Lines};
use super::{Reference, Setting};

/// A byte range in the config source.
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

pub(crate) trait AsNode<'i> {
    fn node(&self) -> Node<'_, 'i>;
}

impl<'i> AsNode<'i> for Spanned<DeValue<'i>> {
    fn node(&self) -> Node<'_, 'i> {
        Node { span: self.span().into(), value: self.get_ref() }
    }
}

/// A table and where it is.
#[derive(Clone, Copy)]
pub(crate) struct TableRef<'a, 'i> {
    pub span: Span,
    pub table: &'a DeTable<'i>,
}

/// A key and where it is.
pub(crate) struct Key<'a> {
    pub value: &'a str,
    pub span: Span,
}

pub(crate) fn entries<'a, 'i>(t: TableRef<'a, 'i>) -> impl Iterator<Item = (Key<'a>, Node<'a, 'i>)> {
    t.table.iter().map(|(k, v)| (Key { value: k.get_ref().as_ref(), span: k.span().into() }, v.node()))
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn type_name(v: &DeValue<'_>) -> &'static str {
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

pub(crate) enum SettingKind {
    Url,
    Text,
}

/// Collects diagnostics while the tree is walked.
pub(crate) struct Checker<'i> {
    src: &'i str,
    /// Built at the first diagnostic: a valid file never needs it.
    lines: Option<Lines<'i>>,
    errors: Vec<Diagnostic>,
    /// What is probably wrong but does not make the file invalid ([`super::EdgeConfig::warnings`]).
    warnings: Vec<Diagnostic>,
}

impl<'i> Checker<'i> {
    pub fn new(src: &'i str) -> Self {
        Checker { src, lines: None, errors: Vec::new(), warnings: Vec::new() }
    }

    fn diagnostic(&mut self, span: std::ops::Range<usize>, message: impl Into<String>, hint: impl Into<String>) -> Diagnostic {
        let src = self.src;
        let lines = self.lines.get_or_insert_with(|| Lines::new(src));
        Diagnostic::at(lines, span, message, Some(hint.into()))
    }

    pub fn warn(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        let d = self.diagnostic(span.start..span.end, message, hint);
        self.warnings.push(d);
    }

    pub fn take_warnings(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.warnings)
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        let d = self.diagnostic(span.start..span.end, message, hint);
        self.errors.push(d);
    }

    pub fn error_at_start(&mut self, message: &str, hint: &str) {
        self.error(Span { start: 0, end: 0 }, message, hint);
    }

    /// Parses the document; syntax errors (all of them, with recovery) become diagnostics.
    pub fn parse_root(&mut self) -> Option<Spanned<DeTable<'i>>> {
        let (root, errs) = DeTable::parse_recoverable(self.src);
        for e in &errs {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_owned();
            let d = self.diagnostic(span, format!("TOML syntax: {msg}"), "see https://toml.io for the syntax");
            self.errors.push(d);
        }
        errs.is_empty().then_some(root)
    }

    pub fn finish<T>(mut self, file: &str, value: Option<T>) -> Result<T, ConfigErrors> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => {
                if self.errors.is_empty() {
                    self.error_at_start("the config is invalid", "run `verge check` for details");
                }
                let mut errors = self.errors;
                errors.sort_by_key(|d| (d.line, d.column));
                errors.dedup();
                Err(ConfigErrors { file: file.to_owned(), errors })
            }
        }
    }

    fn wrong_type(&mut self, n: Node<'_, '_>, expected: &str, hint: &str) {
        self.error(n.span, format!("expected {expected}, found {}", type_name(n.value)), hint);
    }

    pub fn table<'a, 'j>(&mut self, n: Node<'a, 'j>, what: &str) -> Option<TableRef<'a, 'j>> {
        match n.value {
            DeValue::Table(t) => Some(TableRef { span: n.span, table: t }),
            _ => {
                self.wrong_type(n, "a table", &format!("{what} must be a table"));
                None
            }
        }
    }

    pub fn array<'a, 'j>(&mut self, n: Node<'a, 'j>, what: &str) -> Option<&'a [Spanned<DeValue<'j>>]> {
        self.array_as(n, "an array", &format!("write {what} = [ ... ]"))
    }

    pub fn array_of_tables<'a, 'j>(&mut self, n: Node<'a, 'j>, what: &str) -> Option<&'a [Spanned<DeValue<'j>>]> {
        self.array_as(n, "an array of tables", &format!("write each entry as a [[{what}]] table"))
    }

    fn array_as<'a, 'j>(&mut self, n: Node<'a, 'j>, expected: &str, hint: &str) -> Option<&'a [Spanned<DeValue<'j>>]> {
        match n.value {
            DeValue::Array(a) => Some(a.as_ref()),
            _ => {
                self.wrong_type(n, expected, hint);
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

    pub fn int_in(&mut self, n: Node<'_, '_>, lo: i64, hi: i64) -> Option<i64> {
        let DeValue::Integer(i) = n.value else {
            self.wrong_type(n, "an integer", &format!("write a whole number from {lo} to {hi}"));
            return None;
        };
        let digits = i.as_str().replace('_', "");
        let digits = if i.radix() == 10 { digits.as_str() } else { digits.get(2..).unwrap_or("") };
        match i64::from_str_radix(digits, i.radix()) {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            _ => {
                self.error(n.span, format!("{} is out of range", i.as_str()), format!("use a whole number from {lo} to {hi}"));
                None
            }
        }
    }

    fn checked_string(&mut self, n: Node<'_, '_>, ok: impl Fn(&str) -> bool, what: &str, hint: &str) -> Option<String> {
        let s = self.string(n)?;
        if ok(&s) {
            Some(s)
        } else {
            self.error(n.span, format!("{s:?} is not a valid {what}"), hint);
            None
        }
    }

    pub fn bucket_name(&mut self, n: Node<'_, '_>) -> Option<String> {
        self.checked_string(
            n,
            |s| {
                (3..=63).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                    && s.as_bytes()[0].is_ascii_alphanumeric()
                    && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
                    && !s.contains("..")
            },
            "S3 bucket name",
            "bucket names are 3-63 characters of a-z, 0-9, '-' and '.', starting and ending with a letter or digit",
        )
    }

    pub fn region(&mut self, n: Node<'_, '_>) -> Option<String> {
        self.checked_string(
            n,
            |s| (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "region",
            "regions look like \"us-east-1\"",
        )
    }

    pub fn service_name(&mut self, n: Node<'_, '_>) -> Option<String> {
        self.checked_string(
            n,
            |s| (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "SigV4 service name",
            "service names look like \"execute-api\" or \"lambda\"",
        )
    }

    /// A literal value or `{ env = "NAME", default = "..." }`.
    pub fn setting(&mut self, n: Node<'_, '_>, kind: SettingKind) -> Option<Setting> {
        match n.value {
            DeValue::String(s) => {
                let s = s.to_string();
                match kind {
                    SettingKind::Text => {}
                    SettingKind::Url => {
                        if let Err(why) = check_base_url(&s) {
                            self.error(
                                n.span,
                                format!("{s:?} is not a usable base URL: {why}"),
                                "write it as http://host:port or https://host/prefix",
                            );
                            return None;
                        }
                    }
                }
                Some(Setting::Literal(s))
            }
            DeValue::Table(t) => {
                let mut f = Fields::new(self, TableRef { span: n.span, table: t }, "a setting", &["env", "default"]);
                let name = f.require(self, "env", "{ env = \"NAME\" }").and_then(|e| self.env_name(e));
                let default = match f.take("default") {
                    Some(d) => {
                        let s = self.string(d)?;
                        if let (SettingKind::Url, Err(why)) = (&kind, check_base_url(&s)) {
                            self.error(
                                d.span,
                                format!("{s:?} is not a usable base URL: {why}"),
                                "write it as http://host:port or https://host/prefix",
                            );
                            return None;
                        }
                        Some(s)
                    }
                    None => None,
                };
                Some(Setting::Env { name: name?, default })
            }
            _ => {
                self.wrong_type(n, "a string or { env = \"NAME\" }", "write the value in quotes or take it from the environment");
                None
            }
        }
    }

    /// `{ env = "NAME" }` or `{ secret = "NAME" }`; a literal string is refused so that no
    /// credential is ever written into the file.
    pub fn reference(&mut self, n: Node<'_, '_>) -> Option<Reference> {
        match n.value {
            DeValue::String(_) => {
                self.error(
                    n.span,
                    "credentials must be given by reference, never written inline",
                    "remove the value from the file (and rotate it if it was committed); write { env = \"NAME\" } or { secret = \"NAME\" }",
                );
                None
            }
            DeValue::Table(t) => {
                let table = TableRef { span: n.span, table: t };
                let mut f = Fields::new(self, table, "a credential reference", &["env", "secret"]);
                let env = f.take("env");
                let secret = f.take("secret");
                match (env, secret) {
                    (Some(e), None) => self.env_name(e).map(Reference::Env),
                    (None, Some(s)) => self.env_name(s).map(Reference::Secret),
                    _ => {
                        self.error(
                            n.span,
                            "a credential reference needs exactly one of env or secret",
                            "write { env = \"NAME\" } or { secret = \"NAME\" }",
                        );
                        None
                    }
                }
            }
            _ => {
                self.wrong_type(n, "{ env = \"NAME\" } or { secret = \"NAME\" }", "credentials are given by reference");
                None
            }
        }
    }

    fn env_name(&mut self, n: Node<'_, '_>) -> Option<String> {
        self.checked_string(
            n,
            |s| {
                !s.is_empty()
                    && s.len() <= 128
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !s.as_bytes()[0].is_ascii_digit()
            },
            "variable name",
            "names are letters, digits and '_', not starting with a digit",
        )
    }
}

/// A base URL for an origin: http or https, a host, no query or fragment, no userinfo.
pub fn check_base_url(s: &str) -> Result<(), &'static str> {
    let uri: http::Uri = s.parse().map_err(|_| "it does not parse as a URL")?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("the scheme must be http or https"),
    }
    let auth = uri.authority().ok_or("it has no host")?;
    if auth.as_str().contains('@') {
        return Err("it must not contain credentials");
    }
    if auth.host().is_empty() {
        return Err("it has no host");
    }
    if uri.query().is_some() || s.contains('#') {
        return Err("it must not have a query or fragment");
    }
    Ok(())
}

/// The keys of one table: unknown keys are reported when it is opened, the rest taken one by one.
pub(crate) struct Fields<'a, 'i> {
    what: String,
    span: Span,
    entries: Vec<(Key<'a>, Node<'a, 'i>)>,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub fn new(ck: &mut Checker<'_>, t: TableRef<'a, 'i>, what: &str, allowed: &[&str]) -> Self {
        let mut kept = Vec::new();
        for (k, v) in entries(t) {
            if allowed.contains(&k.value) {
                kept.push((k, v));
            } else {
                let hint = match closest(k.value, allowed) {
                    Some(s) => format!("did you mean `{s}`? {what} takes: {}", allowed.join(", ")),
                    None => format!("{what} takes: {}", allowed.join(", ")),
                };
                ck.error(k.span, format!("unknown key `{}` in {what}", k.value), hint);
            }
        }
        Fields { what: what.to_owned(), span: t.span, entries: kept }
    }

    /// Where the table is, for errors about the table as a whole.
    pub fn span(&self) -> Span {
        self.span
    }

    pub fn take(&mut self, key: &str) -> Option<Node<'a, 'i>> {
        let i = self.entries.iter().position(|(k, _)| k.value == key)?;
        Some(self.entries.swap_remove(i).1)
    }

    pub fn require(&mut self, ck: &mut Checker<'_>, key: &str, example: &str) -> Option<Node<'a, 'i>> {
        let n = self.take(key);
        if n.is_none() {
            ck.error(self.span, format!("{} is missing `{key}`", self.what), format!("add {example}"));
        }
        n
    }

    pub fn forbid(&mut self, ck: &mut Checker<'_>, keys: &[&str], hint: &str) {
        for key in keys {
            if let Some(i) = self.entries.iter().position(|(k, _)| k.value == *key) {
                let (k, _) = self.entries.swap_remove(i);
                ck.error(k.span, format!("`{key}` does not apply to {}", self.what), hint);
            }
        }
    }
}

/// The allowed key nearest to a misspelt one (edit distance at most 2).
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // The distance is at least the difference in length: a long key is not compared at all.
    let len = word.chars().count();
    candidates
        .iter()
        .filter(|c| c.chars().count().abs_diff(len) <= 2)
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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

/// The entries of a table of named tables (`[KIND.NAME]`), each name checked as an identifier
/// and each table parsed by `parse` (which reports its own errors). `None` if any failed.
pub(crate) fn named_tables<T>(
    ck: &mut Checker<'_>,
    node: Node<'_, '_>,
    kind: &str,
    table_name: &str,
    mut parse: impl FnMut(&mut Checker<'_>, &str, Node<'_, '_>) -> Option<T>,
) -> Option<Vec<T>> {
    let table = ck.table(node, &format!("[{table_name}]"))?;
    let mut out = Vec::new();
    let mut ok = true;
    for (name, value) in entries(table) {
        if !is_identifier(name.value) {
            ck.error(name.span, format!("{kind} name {:?} is not a valid name", name.value), "use letters, digits, '-' and '_' only");
            ok = false;
            continue;
        }
        match parse(ck, name.value, value) {
            Some(p) => out.push(p),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
