//! Query-string parameters, decoded once, with 400s that name the parameter.

use crate::problem::ApiError;

pub struct Query(Vec<(String, String)>);

fn decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).ok_or(())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

impl Query {
    /// # Errors
    /// 400 naming a parameter that is badly encoded or given twice.
    pub fn parse(q: Option<&str>) -> Result<Self, ApiError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k).map_err(|()| ApiError::invalid("query", "a parameter name is not valid percent-encoded UTF-8"))?;
            let v = decode(v).map_err(|()| ApiError::invalid(&k, format!("`{k}` is not valid percent-encoded UTF-8")))?;
            if out.iter().any(|(ek, _)| *ek == k) {
                return Err(ApiError::invalid(&k, format!("`{k}` is given twice")));
            }
            out.push((k, v));
        }
        Ok(Query(out))
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.as_str())
    }

    /// `limit` within `1..=max`, `default` when absent.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| ApiError::invalid("limit", format!("`limit` must be a whole number from 1 to {max}"))),
        }
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
