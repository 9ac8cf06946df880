//! The edge cache: CloudFront-style cache policies over RFC 9111 shared-cache semantics.
//!
//! - [`key`]: what makes two requests one entry (method group, normalised path, the query, chosen
//!   headers and cookies, the caller for `per_user` policies).
//! - [`policy`]: whether a response may be stored and for how long, over `http-cache-semantics`
//!   plus what it lacks (`CDN-Cache-Control`, `stale-while-revalidate`, `stale-if-error`, the
//!   policy's TTL bounds).
//! - [`entry`]: a stored response (policy, headers, body) and its byte form for shared tiers.
//! - [`memory`]: the bounded in-instance tier (least recently used by bytes).
//! - [`flight`]: request collapsing: one origin request per key per instance.
//! - [`conditional`]: answers made from an entry: 304/412, HEAD, a single byte range.
//! - [`status`]: the `Cache-Status` field (RFC 9211).
//! - [`purge`]: the purge list (paths and prefixes purged, and when) and its per-instance copy.
//! - [`expiry`]: expiry for a shared store without any (Spin's key-value store): framed values,
//!   markers and sweeps.
//! - [`variants`]: the shared tier's record of each resource's variants, for invalidation.
//!
//! The phase that uses them is `stages::cache`; it runs after identity, so a protected response
//! never reaches a caller who may not have it.
//!
//! ## Stores
//! The memory tier belongs to the [`crate::Edge`] (one per isolate or component instance). A
//! shared tier, where a runtime has one, comes from [`crate::Platform::cache`] as a
//! [`CacheStore`]: values are whole serialised entries ([`entry::Entry::encode`]) under a
//! key's [`CacheKey::hash`] (Spin key-value) or [`CacheKey::url`] (the Workers Cache API keys
//! `Request`s by URL). A store may refuse values over [`CacheStore::max_value_bytes`] (Spin
//! clouds cap values at 1 MB).

pub mod conditional;
pub mod entry;
pub mod expiry;
pub mod flight;
pub mod key;
pub mod memory;
pub mod policy;
pub mod purge;
pub mod status;
#[cfg(test)]
mod tests;
pub mod variants;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

pub use entry::Entry;
pub use key::CacheKey;
pub use memory::MemoryStore;

/// A boxed future that need not be `Send` (Workers' JS-backed types are not).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A place to keep serialised entries. Methods take `&self` and return boxed futures so that a
/// platform can hand out `&dyn CacheStore`.
pub trait CacheStore {
    /// The largest value this store keeps; larger entries are not offered to it.
    fn max_value_bytes(&self) -> usize {
        usize::MAX
    }

    /// The value stored under `key`, if any. A store may forget anything at any time.
    fn get<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, Option<Bytes>>;

    /// Stores `value` under `key`; `keep` is how long it is worth keeping (freshness plus the
    /// stale windows plus time to revalidate), a hint for stores with their own expiry.
    fn put<'a>(&'a self, key: &'a CacheKey, value: Bytes, keep: Duration) -> LocalFuture<'a, ()>;

    /// Forgets `key`.
    fn delete<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, ()>;

    /// How far this store is shared, in words for operators (the purge endpoint's answer).
    fn reach(&self) -> &'static str {
        "this instance"
    }
}
