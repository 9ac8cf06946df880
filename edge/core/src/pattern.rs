//! Path patterns with CloudFront semantics: case-sensitive, `*` matches any run of characters
//! (slashes included), `?` exactly one character, everything else itself. A leading `/` is
//! optional in the pattern, as in CloudFront (`images/*.jpg` and `/images/*.jpg` are the same).
//!
//! ```
//! use verge_edge::pattern::PathPattern;
//! let p = PathPattern::parse("/api/*").unwrap();
//! assert!(p.matches("/api/stats/daily"));
//! assert!(!p.matches("/apix"));
//! ```

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Lit(char),
    Any,  // '?'
    Star, // '*'
}

/// A compiled path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    tokens: Vec<Token>,
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the pattern is empty")]
    Empty,
    #[error("the pattern is longer than 255 characters")]
    TooLong,
    #[error("character {0:?} is not allowed in a path pattern")]
    BadChar(char),
    #[error("the pattern contains a query string ('?' followed by '='); patterns match paths only")]
    Query,
}

/// CloudFront's own limit on a path pattern's length.
pub const MAX_PATTERN_LEN: usize = 255;

impl PathPattern {
    /// Compiles a pattern.
    ///
    /// # Errors
    /// Empty, too long, containing whitespace, control characters, `#`, `%` or a backslash.
    pub fn parse(source: &str) -> Result<Self, PatternError> {
        if source.is_empty() {
            return Err(PatternError::Empty);
        }
        if source.chars().count() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong);
        }
        if source.contains('?') && source.contains('=') {
            return Err(PatternError::Query);
        }
        let body = if source == "*" { source } else { source.strip_prefix('/').unwrap_or(source) };
        let mut tokens = Vec::with_capacity(body.len() + 1);
        if source != "*" {
            tokens.push(Token::Lit('/'));
        }
        for c in body.chars() {
            tokens.push(match c {
                '*' => {
                    if tokens.last() == Some(&Token::Star) {
                        continue;
                    }
                    Token::Star
                }
                '?' => Token::Any,
                c if c.is_whitespace() || c.is_control() || matches!(c, '#' | '%' | '\\') => return Err(PatternError::BadChar(c)),
                c => Token::Lit(c),
            });
        }
        Ok(Self { source: source.to_owned(), tokens })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern is the catch-all `*`.
    pub fn is_catch_all(&self) -> bool {
        self.tokens == [Token::Star]
    }

    /// Whether `path` (normalised, starting with `/`) matches. Linear-time two-pointer glob
    /// matching with single-star backtracking: no pattern can make matching blow up.
    pub fn matches(&self, path: &str) -> bool {
        let p = &self.tokens;
        let s: Vec<char> = path.chars().collect();
        let (mut pi, mut si) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            match p.get(pi) {
                Some(Token::Any) => {
                    pi += 1;
                    si += 1;
                }
                Some(Token::Lit(c)) if *c == s[si] => {
                    pi += 1;
                    si += 1;
                }
                Some(Token::Star) => {
                    star = Some((pi, si));
                    pi += 1;
                }
                _ => match star {
                    Some((sp, ss)) => {
                        pi = sp + 1;
                        si = ss + 1;
                        star = Some((sp, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|t| *t == Token::Star)
    }

    /// Whether every path this pattern matches is also matched by `self`, so a behaviour with
    /// `other` listed after one with `self` can never be chosen.
    ///
    /// Sound (a `true` is always right), and exact for the patterns people write; for contrived
    /// pairs such as `*?` over `?*` it may answer `false`, which only means no warning.
    pub fn covers(&self, other: &PathPattern) -> bool {
        covers(&self.tokens, &other.tokens)
    }
}

/// Symbolic glob inclusion: `a` must match the token string `b`, where `a`'s `*` may absorb any
/// tokens of `b`, `a`'s `?` any single non-star token, and literals only equal literals.
fn covers(a: &[Token], b: &[Token]) -> bool {
    // dp[j] = a[..i] covers b[..j]
    let mut dp = vec![false; b.len() + 1];
    dp[0] = true;
    for ta in a {
        let mut next = vec![false; b.len() + 1];
        for j in 0..=b.len() {
            next[j] = match ta {
                Token::Star => dp[j] || (j > 0 && next[j - 1]),
                Token::Any => j > 0 && dp[j - 1] && b[j - 1] != Token::Star,
                Token::Lit(c) => j > 0 && dp[j - 1] && b[j - 1] == Token::Lit(*c),
            };
        }
        dp = next;
    }
    dp[b.len()]
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathPattern {
        PathPattern::parse(s).unwrap()
    }

    #[test]
    fn cloudfront_wildcards() {
        assert!(p("*").matches("/"));
        assert!(p("*").matches("/a/b.js"));
        assert!(p("/images/*.jpg").matches("/images/a/b.jpg"));
        assert!(p("images/*.jpg").matches("/images/x.jpg"));
        assert!(!p("/images/*.jpg").matches("/images/x.jpeg"));
        assert!(p("/a?c").matches("/abc"));
        assert!(!p("/a?c").matches("/ac"));
        assert!(!p("/API/*").matches("/api/x"), "case-sensitive");
        assert!(p("/api/*").matches("/api/"));
        assert!(!p("/api/*").matches("/api"));
        assert!(p("/index.html").matches("/index.html"));
        assert!(!p("/index.html").matches("/index.htm"));
        assert!(p("/*/x/*").matches("/a/x/b"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(PathPattern::parse(""), Err(PatternError::Empty));
        assert_eq!(PathPattern::parse("/a b"), Err(PatternError::BadChar(' ')));
        assert_eq!(PathPattern::parse("/a%2f"), Err(PatternError::BadChar('%')));
        assert_eq!(PathPattern::parse("/a\\b"), Err(PatternError::BadChar('\\')));
        assert_eq!(PathPattern::parse("/a?x=1"), Err(PatternError::Query));
        assert_eq!(PathPattern::parse(&"a".repeat(256)), Err(PatternError::TooLong));
    }

    #[test]
    fn shadowing() {
        assert!(p("*").covers(&p("/api/*")));
        assert!(p("/api/*").covers(&p("/api/v1/*")));
        assert!(p("/api/*").covers(&p("/api/stats")));
        assert!(p("/api/*").covers(&p("/api/?")));
        assert!(!p("/api/?").covers(&p("/api/*")));
        assert!(!p("/api/v1/*").covers(&p("/api/*")));
        assert!(p("/*.js").covers(&p("/static/*.js")));
        assert!(!p("/static/*.js").covers(&p("/*.js")));
        assert!(p("/a*").covers(&p("a*b")));
    }

    #[test]
    fn matching_is_linear_on_hostile_input() {
        let pat = p("/*a*a*a*a*a*a*a*a*b");
        let path = format!("/{}", "a".repeat(8000));
        assert!(!pat.matches(&path));
    }
}
