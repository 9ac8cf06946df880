//! A stored response: status, the headers a client gets, the body, and what the edge decided
//! about it (its freshness, stale windows and the library's policy for `Vary`, `Age` and
//! revalidation). [`Entry::encode`] gives the byte form shared tiers keep:
//! `VRG1`, a 4-byte big-endian length, the JSON metadata, then the body as is.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

/// Headers never stored: hop-by-hop fields, and what the edge sets on each answer itself.
const NOT_STORED: [&str; 12] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
    "age",
    "x-request-id",
    "cache-status",
];

const MAGIC: &[u8; 4] = b"VRG1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    #[serde(with = "http_serde::status_code")]
    pub status: StatusCode,
    #[serde(with = "http_serde::header_map")]
    pub headers: HeaderMap,
    #[serde(skip)]
    pub body: Bytes,
    /// When the response arrived (its age counts from here, plus its `Age` header).
    pub stored: SystemTime,
    /// Until when it answers without asking the origin.
    pub fresh_until: SystemTime,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
    /// The key's resource part, so an unsafe request can invalidate every variant.
    pub resource: String,
    /// When the request that fetched it began: what a purge compares with, since a fill that
    /// began before a purge carries what the origin had before it. Absent in entries written
    /// before purges existed (then [`stored`](Self::stored) counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<SystemTime>,
    pub semantics: http_cache_semantics::CachePolicy,
}

impl Entry {
    /// The headers worth storing from an origin response.
    pub fn storable_headers(headers: &HeaderMap) -> HeaderMap {
        let mut out = headers.clone();
        for name in NOT_STORED {
            out.remove(name);
        }
        out
    }

    /// Bytes this entry holds in memory, roughly: what the memory tier counts.
    pub fn weight(&self) -> usize {
        self.body.len() + self.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 32).sum::<usize>() + 512
    }

    /// When the request behind this entry began (see [`requested`](Self::requested)).
    pub fn requested_at(&self) -> SystemTime {
        self.requested.unwrap_or(self.stored)
    }

    pub fn is_fresh(&self, now: SystemTime) -> bool {
        now < self.fresh_until
    }

    /// Seconds of freshness left; negative once stale (`Cache-Status`'s `ttl`).
    pub fn ttl_secs(&self, now: SystemTime) -> i64 {
        match self.fresh_until.duration_since(now) {
            Ok(left) => left.as_secs() as i64,
            Err(past) => -(past.duration().as_secs().min(i64::MAX as u64) as i64),
        }
    }

    /// How long past freshness it is (zero while fresh).
    pub fn staleness(&self, now: SystemTime) -> Duration {
        now.duration_since(self.fresh_until).unwrap_or(Duration::ZERO)
    }

    /// How long a store should keep it: freshness, the stale windows, and a day to revalidate.
    pub fn keep(&self, now: SystemTime) -> Duration {
        let fresh = self.fresh_until.duration_since(now).unwrap_or(Duration::ZERO);
        fresh + self.stale_while_revalidate.max(self.stale_if_error) + Duration::from_secs(86_400)
    }

    /// The `Age` to send: the library's (its `Age` header plus time resident).
    pub fn age(&self, now: SystemTime) -> Duration {
        self.semantics.age(now)
    }

    pub fn etag(&self) -> Option<&str> {
        self.headers.get(header::ETAG).and_then(|v| v.to_str().ok())
    }

    pub fn last_modified(&self) -> Option<&str> {
        self.headers.get(header::LAST_MODIFIED).and_then(|v| v.to_str().ok())
    }

    /// The byte form for shared tiers.
    pub fn encode(&self) -> Bytes {
        let meta = serde_json::to_vec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(8 + meta.len() + self.body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&self.body);
        Bytes::from(out)
    }

    /// Reads [`encode`](Self::encode)'s form; anything else (another version, a truncated
    /// value) is `None`, which the cache treats as a miss.
    pub fn decode(raw: &Bytes) -> Option<Entry> {
        let rest = raw.strip_prefix(MAGIC.as_slice())?;
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let meta = rest.get(4..4usize.checked_add(len)?)?;
        let mut entry: Entry = serde_json::from_slice(meta).ok()?;
        entry.body = raw.slice(8 + len..);
        Some(entry)
    }
}
