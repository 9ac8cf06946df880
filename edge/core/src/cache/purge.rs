//! Purge: an operator makes paths, or every path under a prefix, miss the cache.
//!
//! Neither shared tier can list its keys (the Workers Cache API has no listing at all; a key's
//! text holds the query, headers and caller, which a purge does not know), so a purge is not a
//! set of deletions. It is a **purge list** (Varnish calls these bans): `(path or prefix, time)`
//! pairs, kept in the shared tier beside the entries under one fixed key. An entry whose request
//! began at or before a ban's time, for a path the ban covers, is a miss, and is deleted when
//! found. The list is bounded ([`MAX_BANS`]): dropping the oldest ban raises the list's
//! `floor` to its time, so every entry requested before the floor misses too. Forgetting a ban
//! can therefore only purge more, never serve what an operator purged.
//!
//! Every instance keeps a copy of the list and re-reads the shared one at most every
//! `check_interval_s` (`[purge]`, default 5 s): an instance that did not take the purge request
//! serves a purged entry for at most that long. When the shared list is gone (the Cache API
//! evicted it, or it was never written), the instance writes its own copy back, or, with no
//! copy, a list whose floor is now: everything stored before is treated as purged.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use verge_edge::cache::purge::{Ban, PurgeList};
//! let t = |s| UNIX_EPOCH + Duration::from_secs(s);
//! let mut list = PurgeList::default();
//! list.add(vec![Ban::prefix("/assets/", t(100))]);
//! assert!(list.covers("/assets/app.js", t(99)));
//! assert!(!list.covers("/assets/app.js", t(101)), "fetched after the purge");
//! assert!(!list.covers("/index.html", t(99)));
//! ```

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{CacheKey, CacheStore};

/// The edge's own endpoint (before routing, so no behaviour shadows it).
pub const ENDPOINT: &str = "/.verge/purge";
/// Bans kept; past this the oldest are folded into the floor.
pub const MAX_BANS: usize = 256;
/// Paths and prefixes in one purge request.
pub const MAX_TARGETS: usize = 100;
/// The longest path or prefix accepted.
pub const MAX_TARGET_BYTES: usize = 1024;

/// Paths or prefixes purged at a time. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeList {
    /// Every entry requested at or before this is purged, whatever its path.
    #[serde(default)]
    pub floor_ms: u64,
    #[serde(default)]
    pub bans: Vec<Ban>,
}

/// One purged path (`prefix = false`) or prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub path: String,
    #[serde(default)]
    pub prefix: bool,
    pub at_ms: u64,
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis().min(u128::from(u64::MAX)) as u64)
}

impl Ban {
    pub fn path(path: &str, at: SystemTime) -> Self {
        Ban { path: path.to_owned(), prefix: false, at_ms: ms(at) }
    }

    pub fn prefix(prefix: &str, at: SystemTime) -> Self {
        Ban { path: prefix.to_owned(), prefix: true, at_ms: ms(at) }
    }

    fn matches(&self, path: &str) -> bool {
        if self.prefix {
            path.starts_with(&self.path)
        } else {
            path == self.path
        }
    }
}

impl PurgeList {
    /// Whether an entry for `path` whose request began at `requested` is purged.
    pub fn covers(&self, path: &str, requested: SystemTime) -> bool {
        let t = ms(requested);
        t <= self.floor_ms || self.bans.iter().any(|b| t <= b.at_ms && b.matches(path))
    }

    /// Adds bans, replacing older ones for the same target, and keeps at most [`MAX_BANS`]
    /// (the oldest dropped raise the floor).
    pub fn add(&mut self, bans: Vec<Ban>) {
        for ban in bans {
            self.bans.retain(|b| !(b.path == ban.path && b.prefix == ban.prefix && b.at_ms <= ban.at_ms));
            if !self.bans.iter().any(|b| b.path == ban.path && b.prefix == ban.prefix) {
                self.bans.push(ban);
            }
        }
        self.bans.sort_by_key(|b| b.at_ms);
        while self.bans.len() > MAX_BANS {
            let oldest = self.bans.remove(0);
            self.floor_ms = self.floor_ms.max(oldest.at_ms);
        }
        let floor = self.floor_ms;
        self.bans.retain(|b| b.at_ms > floor);
    }

    /// Both lists' bans and the higher floor: what either instance purged stays purged.
    pub fn merge(&mut self, other: &PurgeList) {
        self.floor_ms = self.floor_ms.max(other.floor_ms);
        self.add(other.bans.clone());
    }

    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(raw: &[u8]) -> Option<Self> {
        serde_json::from_slice(raw).ok()
    }
}

/// The body of `POST /.verge/purge`: `{"paths": ["/index.html"], "prefixes": ["/assets/"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub prefixes: Vec<String>,
}

impl PurgeRequest {
    /// Reads and checks a request body: JSON, 1 to [`MAX_TARGETS`] targets, each an absolute
    /// path of at most [`MAX_TARGET_BYTES`] in normalised form (paths are normalised as the
    /// edge normalises request paths; a prefix must already be: no `%`, `\`, `.`/`..` or empty
    /// segments, since it is compared with normalised paths as text).
    ///
    /// # Errors
    /// What is wrong, for a 400 answer.
    pub fn parse(body: &[u8]) -> Result<PurgeRequest, String> {
        let mut req: PurgeRequest =
            serde_json::from_slice(body).map_err(|e| format!("the body must be {{\"paths\": [...], \"prefixes\": [...]}}: {e}"))?;
        let n = req.paths.len() + req.prefixes.len();
        if n == 0 || n > MAX_TARGETS {
            return Err(format!("name 1 to {MAX_TARGETS} paths or prefixes; this names {n}"));
        }
        for p in req.paths.iter_mut() {
            *p = crate::path::NormalPath::parse(p)
                .map_err(|e| format!("path {:?}: {e}", crate::log::clip(p, 80)))
                .and_then(|n| if p.len() > MAX_TARGET_BYTES { Err(format!("a path is over {MAX_TARGET_BYTES} bytes")) } else { Ok(n) })?
                .as_str()
                .to_owned();
        }
        for p in &req.prefixes {
            let segments_ok = p.strip_prefix('/').is_some_and(|rest| {
                let mut segs: Vec<&str> = rest.split('/').collect();
                if segs.last() == Some(&"") {
                    segs.pop();
                }
                segs.iter().all(|s| !s.is_empty() && *s != "." && *s != "..")
            });
            let chars_ok = p.chars().all(|c| !c.is_control() && !matches!(c, '%' | '\\' | '?' | '#'));
            if !segments_ok || !chars_ok || p.len() > MAX_TARGET_BYTES {
                return Err(format!(
                    "prefix {:?} is not a normalised absolute path (no %, \\, ?, #, . or .. or empty segments)",
                    crate::log::clip(p, 80)
                ));
            }
        }
        Ok(req)
    }

    /// The bans this request makes at `now`.
    pub fn bans(&self, now: SystemTime) -> Vec<Ban> {
        let paths = self.paths.iter().map(|p| Ban::path(p, now));
        paths.chain(self.prefixes.iter().map(|p| Ban::prefix(p, now))).collect()
    }
}

/// The shared list's key in a [`CacheStore`].
pub fn list_key() -> CacheKey {
    CacheKey::fixed("verge purge list v1")
}

/// How long the shared tier should keep the list: as long as any store keeps anything.
const LIST_KEEP: Duration = Duration::from_secs(10 * 365 * 86_400);

/// This instance's copy of the list and when it was last read from the shared tier.
#[derive(Debug, Default)]
pub struct PurgeState {
    copy: Mutex<Option<(PurgeList, SystemTime)>>,
}

impl PurgeState {
    fn get(&self) -> Option<(PurgeList, SystemTime)> {
        self.copy.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set(&self, list: PurgeList, read: SystemTime) {
        *self.copy.lock().unwrap_or_else(PoisonError::into_inner) = Some((list, read));
    }

    /// The list to judge entries by: this instance's copy, re-read from `shared` when older than
    /// `interval`.
    pub async fn current(&self, shared: Option<&dyn CacheStore>, now: SystemTime, interval: Duration) -> PurgeList {
        match self.get() {
            Some((list, read)) if now.duration_since(read).map_or(true, |age| age < interval) => list,
            _ => self.reread(shared, now).await,
        }
    }

    /// Reads the shared list, merges this instance's copy into it, and writes it back when the
    /// shared one lacked something (evicted, a lost concurrent write, never written).
    async fn reread(&self, shared: Option<&dyn CacheStore>, now: SystemTime) -> PurgeList {
        let mine = self.get().map(|(l, _)| l);
        let Some(store) = shared else {
            let list = mine.unwrap_or_default();
            self.set(list.clone(), now);
            return list;
        };
        let key = list_key();
        let stored = store.get(&key).await.and_then(|raw| PurgeList::decode(&raw));
        let list = match (stored, mine) {
            (Some(mut s), Some(m)) => {
                let before = s.clone();
                s.merge(&m);
                if s != before {
                    store.put(&key, s.encode(), LIST_KEEP).await;
                }
                s
            }
            (Some(s), None) => s,
            (None, Some(m)) => {
                store.put(&key, m.encode(), LIST_KEEP).await;
                m
            }
            (None, None) => {
                // Nothing says what was purged before: everything stored before now is (not what
                // this very request is about to fetch, hence the millisecond less).
                let fresh = PurgeList { floor_ms: ms(now).saturating_sub(1), bans: Vec::new() };
                store.put(&key, fresh.encode(), LIST_KEEP).await;
                fresh
            }
        };
        self.set(list.clone(), now);
        list
    }

    /// Adds bans: to the shared list (read afresh, then written, then read again to check that
    /// a concurrent purge did not overwrite it; retried twice) and to this instance's copy.
    pub async fn add(&self, shared: Option<&dyn CacheStore>, bans: Vec<Ban>, now: SystemTime) -> PurgeList {
        let mut list = self.reread(shared, now).await;
        list.add(bans.clone());
        self.set(list.clone(), now);
        if let Some(store) = shared {
            let key = list_key();
            for _ in 0..3 {
                store.put(&key, list.encode(), LIST_KEEP).await;
                let back = store.get(&key).await.and_then(|raw| PurgeList::decode(&raw));
                match back {
                    Some(back) if bans.iter().all(|b| back.bans.contains(b) || b.at_ms <= back.floor_ms) => {
                        list = back;
                        break;
                    }
                    Some(back) => list.merge(&back),
                    // A store that keeps nothing (Workers on *.workers.dev): this instance only.
                    None => break,
                }
            }
            self.set(list.clone(), now);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn purge_requests_are_checked_and_paths_normalised() {
        let ok = PurgeRequest::parse(br#"{"paths": ["/a/./b%2Dc"], "prefixes": ["/assets/", "/"]}"#).unwrap();
        assert_eq!(ok.paths, vec!["/a/b-c"]);
        assert_eq!(ok.bans(t(1)).len(), 3);
        for bad in [
            &br#"{}"#[..],
            br#"{"paths": []}"#,
            br#"{"paths": ["relative"]}"#,
            br#"{"prefixes": ["/a/../b/"]}"#,
            br#"{"prefixes": ["/a%2Fb"]}"#,
            br#"{"prefixes": ["//x"]}"#,
            br#"{"prefix": ["/x"]}"#,
            b"not json",
        ] {
            assert!(PurgeRequest::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_full_list_folds_its_oldest_bans_into_the_floor_and_purges_more_never_less() {
        let mut list = PurgeList::default();
        for i in 0..(MAX_BANS as u64 + 10) {
            list.add(vec![Ban::path(&format!("/p{i}"), t(1000 + i))]);
        }
        assert_eq!(list.bans.len(), MAX_BANS);
        assert_eq!(list.floor_ms, 1009 * 1000);
        assert!(list.covers("/p0", t(1000)), "a dropped ban still purges through the floor");
        assert!(list.covers("/unrelated", t(1005)), "the floor purges everything before it");
        assert!(!list.covers("/p0", t(1010)), "fetched after the floor and its own ban");
        assert!(list.covers("/p265", t(1265)));
    }

    #[test]
    fn a_newer_ban_replaces_an_older_one_for_the_same_target_and_merges_keep_both_sides() {
        let mut a = PurgeList::default();
        a.add(vec![Ban::prefix("/assets/", t(10))]);
        a.add(vec![Ban::prefix("/assets/", t(20))]);
        assert_eq!(a.bans.len(), 1);
        assert!(a.covers("/assets/x", t(15)));
        let mut b = PurgeList { floor_ms: 5000, bans: vec![Ban::path("/index.html", t(30))] };
        b.merge(&a);
        assert!(b.covers("/assets/x", t(20)) && b.covers("/index.html", t(30)) && b.covers("/any", t(5)));
        assert_eq!(PurgeList::decode(&b.encode()), Some(b));
    }
}
