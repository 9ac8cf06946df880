//! The shared tier's index of each resource's variants, so that an unsafe request invalidates
//! every stored variant of its URI there too (RFC 9111 4.4), not only its own.
//!
//! Neither shared tier can list keys by prefix (the Workers Cache API cannot list at all), and a
//! variant's key is a hash of the resource and the variant's headers, cookies or user. So each
//! fill adds its key's hash to a small record under the resource's own fixed key, and an
//! invalidation deletes every variant the record names, then the record. A record names at most
//! [`MAX_VARIANTS`]; adding one more deletes the oldest variant from the store, so a variant the
//! record does not name is never left behind. Neither store has compare-and-swap: two fills of
//! one resource at the same moment may each write the record without the other's hash, and that
//! variant then outlives an invalidation until it expires (the memory tiers are invalidated by
//! the instance that saw the request; other instances' memory tiers keep their copies until they
//! expire: docs/cache.md).

use std::time::Duration;

use bytes::Bytes;

use super::{CacheKey, CacheStore};

/// Variants indexed per resource.
pub const MAX_VARIANTS: usize = 32;

/// As long as any store keeps anything: the record is rewritten by each fill.
const KEEP: Duration = Duration::from_secs(10 * 365 * 86_400);

fn record_key(resource: &str) -> CacheKey {
    CacheKey::fixed(&format!("variants v1 {resource}"))
}

/// The hashes a record names (64 hex characters each, one per line); anything else is dropped.
fn decode(raw: Option<Bytes>) -> Vec<String> {
    let Some(raw) = raw else { return Vec::new() };
    std::str::from_utf8(&raw)
        .unwrap_or("")
        .lines()
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect()
}

/// Notes `key` as a variant of its resource, after it was stored.
pub async fn remember(store: &dyn CacheStore, key: &CacheKey) {
    let record = record_key(key.resource());
    let mut hashes = decode(store.get(&record).await);
    if hashes.iter().any(|h| h == key.hash()) {
        return;
    }
    hashes.push(key.hash().to_owned());
    while hashes.len() > MAX_VARIANTS {
        let oldest = hashes.remove(0);
        store.delete(&CacheKey::stored_as(oldest)).await;
    }
    store.put(&record, Bytes::from(hashes.join("\n")), KEEP).await;
}

/// Deletes every variant of `resource` the record names, `own` (which an older edge may have
/// stored without a record), and the record.
pub async fn forget_all(store: &dyn CacheStore, own: &CacheKey) {
    let record = record_key(own.resource());
    for hash in decode(store.get(&record).await) {
        if hash != own.hash() {
            store.delete(&CacheKey::stored_as(hash)).await;
        }
    }
    store.delete(own).await;
    store.delete(&record).await;
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::cache::LocalFuture;
    use crate::tests::block_on;

    /// A store that keeps any bytes by hash, as the Spin key-value store and the Cache API do.
    #[derive(Default)]
    struct Kv(RefCell<HashMap<String, Bytes>>);

    impl CacheStore for Kv {
        fn get<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, Option<Bytes>> {
            Box::pin(async move { self.0.borrow().get(key.hash()).cloned() })
        }
        fn put<'a>(&'a self, key: &'a CacheKey, value: Bytes, _keep: Duration) -> LocalFuture<'a, ()> {
            Box::pin(async move {
                self.0.borrow_mut().insert(key.hash().to_owned(), value);
            })
        }
        fn delete<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, ()> {
            Box::pin(async move {
                self.0.borrow_mut().remove(key.hash());
            })
        }
    }

    fn variant(resource: &str, n: usize) -> CacheKey {
        CacheKey::for_test(resource, &format!(" lang={n}"))
    }

    fn store_variant(kv: &Kv, key: &CacheKey) {
        block_on(kv.put(key, Bytes::from_static(b"entry"), KEEP));
        block_on(remember(kv, key));
    }

    #[test]
    fn an_invalidation_deletes_every_variant_of_the_resource_and_no_other() {
        let kv = Kv::default();
        let (a, b, other) = (variant("/p", 1), variant("/p", 2), variant("/q", 1));
        for k in [&a, &b, &other] {
            store_variant(&kv, k);
        }
        store_variant(&kv, &a);
        block_on(forget_all(&kv, &b));
        let held = kv.0.borrow();
        assert!(!held.contains_key(a.hash()) && !held.contains_key(b.hash()), "both variants of /p are gone");
        assert!(held.contains_key(other.hash()), "/q is untouched");
        assert!(!held.contains_key(record_key("/p").hash()), "and so is the record");
    }

    #[test]
    fn past_the_limit_the_oldest_variant_leaves_the_store_with_the_record() {
        let kv = Kv::default();
        let keys: Vec<CacheKey> = (0..=MAX_VARIANTS).map(|n| variant("/p", n)).collect();
        for k in &keys {
            store_variant(&kv, k);
        }
        assert!(!kv.0.borrow().contains_key(keys[0].hash()), "the oldest is deleted, not orphaned");
        block_on(forget_all(&kv, &keys[1]));
        let held = kv.0.borrow();
        assert!(keys.iter().all(|k| !held.contains_key(k.hash())), "nothing of /p is left");
    }

    #[test]
    fn a_damaged_record_names_nothing() {
        assert!(decode(Some(Bytes::from_static(b"../../etc\nnot-hex\n"))).is_empty());
        assert!(decode(Some(Bytes::from_static(&[0xff, 0xfe]))).is_empty());
    }
}
