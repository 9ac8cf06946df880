//! The in-instance tier: entries kept decoded in memory, bounded by bytes, least recently used
//! evicted first. One per [`crate::Edge`], so per Workers isolate or Spin component instance;
//! it also implements [`CacheStore`] (in the encoded form) for tests and adapters.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::{CacheKey, CacheStore, Entry, LocalFuture};

#[derive(Debug, Default)]
struct Inner {
    /// hash -> (entry, weight, last use)
    entries: HashMap<String, (Arc<Entry>, usize, u64)>,
    /// last use -> hash, oldest first
    order: BTreeMap<u64, String>,
    /// resource -> hashes of its variants
    resources: HashMap<String, HashSet<String>>,
    bytes: usize,
    tick: u64,
}

/// A bounded, least-recently-used store of decoded entries.
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    max_object: usize,
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// `capacity` bytes in all; entries weighing more than `max_object` are not kept.
    pub fn new(capacity: usize, max_object: usize) -> Self {
        MemoryStore { capacity, max_object, inner: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get_entry(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let (entry, _, used) = inner.entries.get_mut(key.hash())?;
        let (entry, old) = (entry.clone(), std::mem::replace(used, tick));
        inner.order.remove(&old);
        inner.order.insert(tick, key.hash().to_owned());
        Some(entry)
    }

    /// Keeps `entry`, evicting the least recently used until it fits. Returns whether it was kept.
    pub fn put_entry(&self, key: &CacheKey, entry: Arc<Entry>) -> bool {
        let weight = entry.weight();
        if weight > self.max_object.saturating_add(4096) || weight > self.capacity {
            return false;
        }
        let mut inner = self.lock();
        remove(&mut inner, key.hash());
        while inner.bytes + weight > self.capacity {
            let Some((_, oldest)) = inner.order.pop_first() else { break };
            remove(&mut inner, &oldest);
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.bytes += weight;
        inner.order.insert(tick, key.hash().to_owned());
        inner.resources.entry(key.resource().to_owned()).or_default().insert(key.hash().to_owned());
        inner.entries.insert(key.hash().to_owned(), (entry, weight, tick));
        true
    }

    pub fn remove(&self, key: &CacheKey) {
        remove(&mut self.lock(), key.hash());
    }

    /// Forgets every variant of a resource (RFC 9111 4.4).
    pub fn invalidate(&self, resource: &str) {
        let mut inner = self.lock();
        for hash in inner.resources.remove(resource).unwrap_or_default() {
            remove(&mut inner, &hash);
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn remove(inner: &mut Inner, hash: &str) {
    if let Some((entry, weight, used)) = inner.entries.remove(hash) {
        inner.bytes -= weight;
        inner.order.remove(&used);
        if let Some(set) = inner.resources.get_mut(&entry.resource) {
            set.remove(hash);
            if set.is_empty() {
                inner.resources.remove(&entry.resource);
            }
        }
    }
}

impl CacheStore for MemoryStore {
    fn max_value_bytes(&self) -> usize {
        self.max_object
    }

    fn get<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, Option<Bytes>> {
        Box::pin(async move { self.get_entry(key).map(|e| e.encode()) })
    }

    fn put<'a>(&'a self, key: &'a CacheKey, value: Bytes, _keep: Duration) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            if let Some(e) = Entry::decode(&value) {
                self.put_entry(key, Arc::new(e));
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a CacheKey) -> LocalFuture<'a, ()> {
        Box::pin(async move { self.remove(key) })
    }
}
