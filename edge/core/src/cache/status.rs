//! `Cache-Status` (RFC 9211): what the edge's cache did for a response, under the cache name
//! `verge`. Examples: `verge; hit; ttl=120`, `verge; fwd=uri-miss; stored`,
//! `verge; fwd=stale; fwd-status=304; stored`, `verge; hit; ttl=-4; detail=stale-while-revalidate`.

use std::fmt::Write;

/// Why the cache forwarded a request (RFC 9211 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// Not handled by the cache (an error the edge answered, an object over the size limit).
    Bypass,
    /// Not GET or HEAD.
    Method,
    /// Nothing stored for the key.
    UriMiss,
    /// An entry for the key, for other values of its `Vary` headers.
    VaryMiss,
    /// A stale entry, revalidated or refetched.
    Stale,
}

impl Fwd {
    fn as_str(self) -> &'static str {
        match self {
            Fwd::Bypass => "bypass",
            Fwd::Method => "method",
            Fwd::UriMiss => "uri-miss",
            Fwd::VaryMiss => "vary-miss",
            Fwd::Stale => "stale",
        }
    }
}

/// One `Cache-Status` member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStatus {
    pub hit: bool,
    pub fwd: Option<Fwd>,
    pub fwd_status: Option<u16>,
    pub ttl: Option<i64>,
    pub stored: bool,
    /// Whether the request waited for another's forward request to the same key, and that
    /// answer served it (`collapsed`) or not (`collapsed=?0`, it then went on by itself).
    pub collapsed: Option<bool>,
    pub detail: Option<&'static str>,
}

impl CacheStatus {
    pub fn hit(ttl: i64) -> Self {
        CacheStatus { hit: true, ttl: Some(ttl), ..Self::default() }
    }

    pub fn forwarded(fwd: Fwd) -> Self {
        CacheStatus { fwd: Some(fwd), ..Self::default() }
    }

    pub fn header_value(&self) -> String {
        let mut s = String::from("verge");
        if self.hit {
            s.push_str("; hit");
        }
        if let Some(f) = self.fwd {
            let _ = write!(s, "; fwd={}", f.as_str());
        }
        if let Some(c) = self.fwd_status {
            let _ = write!(s, "; fwd-status={c}");
        }
        if let Some(t) = self.ttl {
            let _ = write!(s, "; ttl={t}");
        }
        if self.stored {
            s.push_str("; stored");
        }
        match self.collapsed {
            Some(true) => s.push_str("; collapsed"),
            Some(false) => s.push_str("; collapsed=?0"),
            None => {}
        }
        if let Some(d) = self.detail {
            let _ = write!(s, "; detail={d}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc_9211_members() {
        assert_eq!(CacheStatus::hit(120).header_value(), "verge; hit; ttl=120");
        let miss = CacheStatus { stored: true, ..CacheStatus::forwarded(Fwd::UriMiss) };
        assert_eq!(miss.header_value(), "verge; fwd=uri-miss; stored");
        let reval = CacheStatus { fwd_status: Some(304), stored: true, ..CacheStatus::forwarded(Fwd::Stale) };
        assert_eq!(reval.header_value(), "verge; fwd=stale; fwd-status=304; stored");
        assert!(sfv::Parser::new(&reval.header_value()).parse::<sfv::List>().is_ok(), "a valid structured field");
        let waited = CacheStatus { collapsed: Some(true), ttl: Some(59), ..CacheStatus::forwarded(Fwd::UriMiss) };
        assert_eq!(waited.header_value(), "verge; fwd=uri-miss; ttl=59; collapsed");
        let alone = CacheStatus { collapsed: Some(false), ..CacheStatus::forwarded(Fwd::UriMiss) };
        assert_eq!(alone.header_value(), "verge; fwd=uri-miss; collapsed=?0");
        for s in [waited, alone] {
            assert!(sfv::Parser::new(&s.header_value()).parse::<sfv::List>().is_ok(), "a valid structured field");
        }
    }
}
