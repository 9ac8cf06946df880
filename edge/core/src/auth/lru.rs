//! A bounded map that evicts the least recently used entry when full, for the identity caches
//! (verified tokens, API-key verdicts).
//!
//! Why not flush when full: a flood of unknown API keys (or garbage tokens) would then clear every
//! verdict and token the instance holds, so each valid caller costs a lookup or a signature again
//! (issue 12, finding 4). With LRU eviction a flood only pushes out entries nobody used since.
//!
//! Why not the `lru` crate: this is about forty lines of safe code over `HashMap` and `BTreeMap`
//! (the crate is a linked list over raw pointers), it needs no new dependency in a lockfile shared
//! by every build, and it builds wherever `std` collections do, both wasm targets included.
//! Every operation is O(log n).
//!
//! ```ignore
//! let mut c = Lru::new(2);
//! c.insert("a", 1);
//! c.insert("b", 2);
//! c.get(&"a");          // "a" is now the most recently used
//! c.insert("c", 3);     // evicts "b"
//! assert!(c.get(&"b").is_none());
//! ```

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    /// The value and the tick of its last use.
    map: HashMap<K, (V, u64)>,
    /// Last use -> key, oldest first.
    order: BTreeMap<u64, K>,
    tick: u64,
    capacity: usize,
}

impl<K: Clone + Eq + Hash, V> Lru<K, V> {
    pub fn new(capacity: usize) -> Self {
        Lru { map: HashMap::new(), order: BTreeMap::new(), tick: 0, capacity: capacity.max(1) }
    }

    fn touch(&mut self, key: &K) -> Option<u64> {
        let (_, used) = self.map.get_mut(key)?;
        self.order.remove(used);
        self.tick += 1;
        *used = self.tick;
        self.order.insert(self.tick, key.clone());
        Some(self.tick)
    }

    /// The value for `key`, which becomes the most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.touch(key)?;
        self.map.get(key).map(|(v, _)| v)
    }

    /// Inserts or replaces; when full, the least recently used entry makes room.
    pub fn insert(&mut self, key: K, value: V) {
        if let Some((v, _)) = self.map.get_mut(&key) {
            *v = value;
            self.touch(&key);
            return;
        }
        while self.map.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.map.remove(&oldest);
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.map.insert(key, (value, self.tick));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

impl<K: Clone + Eq + Hash, V> Default for Lru<K, V> {
    fn default() -> Self {
        Lru::new(super::MAX_CACHE_ENTRIES)
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn the_least_recently_used_entry_goes_first_and_size_stays_bounded() {
        let mut c = Lru::new(3);
        for k in ["a", "b", "c"] {
            c.insert(k, k.len());
        }
        assert!(c.get(&"a").is_some());
        c.insert("d", 1);
        assert!(c.get(&"b").is_none(), "b was the least recently used");
        assert!(c.get(&"a").is_some() && c.get(&"c").is_some() && c.get(&"d").is_some());
        c.insert("c", 9);
        assert_eq!(c.get(&"c"), Some(&9));
        for i in 0..1000 {
            c.insert(if i % 2 == 0 { "x" } else { "y" }, i);
            assert!(c.len() <= 3);
        }
        assert_eq!(c.len(), 3);
    }
}
