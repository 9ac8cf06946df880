//! Expiry for a shared store that has none of its own (Spin's key-value store keeps a value
//! until it is deleted), so that entries nobody asks for again do not pile up for ever.
//!
//! - Each value is stored framed with the time it may be dropped ([`frame`]); a read of a value
//!   past that time is a miss, and the reader deletes it ([`unframe`]).
//! - Beside each value, an empty marker key names the time and the value's key
//!   ([`marker`]). A sweep lists the store's keys, and for each marker that is due, deletes the
//!   value if its own frame says it is due (a later write may have given it longer), then the
//!   marker ([`due`]). Sweeps run after a fill, at most once per [`SWEEP_EVERY`] per instance
//!   and across instances (a shared record of the last sweep), and delete at most
//!   [`SWEEP_MAX`] markers each.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};

/// How often a sweep may run.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The most markers one sweep deletes (the rest wait for the next).
pub const SWEEP_MAX: usize = 500;
/// Key prefix of the markers.
pub const MARKER_PREFIX: &str = "verge-cache-exp/";
/// The shared record of the last sweep (seconds since the epoch, decimal).
pub const LAST_SWEEP_KEY: &str = "verge-cache-sweep";

const MAGIC: &[u8; 4] = b"VXP1";

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `value` with the time it may be dropped.
pub fn frame(value: &[u8], until: SystemTime) -> Bytes {
    let mut b = BytesMut::with_capacity(value.len() + 12);
    b.put_slice(MAGIC);
    b.put_u64(secs(until));
    b.put_slice(value);
    b.freeze()
}

/// What reading a stored value finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Still kept: the value.
    Live(Bytes),
    /// Past its time: delete it.
    Due,
}

/// The value inside a frame, unless it is due at `now`. A value without a frame (written before
/// frames) is live as it is.
pub fn unframe(raw: Bytes, now: SystemTime) -> Read {
    if raw.len() < 12 || &raw[..4] != MAGIC {
        return Read::Live(raw);
    }
    let until = u64::from_be_bytes(raw[4..12].try_into().unwrap_or([0; 8]));
    if until <= secs(now) {
        Read::Due
    } else {
        Read::Live(raw.slice(12..))
    }
}

/// The marker key for `name` (a value's key) kept until `until`. Zero-padded seconds, so that
/// markers sort by time.
pub fn marker(name: &str, until: SystemTime) -> String {
    format!("{MARKER_PREFIX}{:012}/{name}", secs(until))
}

/// For a key the store lists: the value's key, when it is a marker due at `now`.
pub fn due(key: &str, now: SystemTime) -> Option<&str> {
    let rest = key.strip_prefix(MARKER_PREFIX)?;
    let (until, name) = rest.split_once('/')?;
    let until: u64 = until.parse().ok()?;
    (until <= secs(now) && !name.is_empty()).then_some(name)
}

/// Whether a sweep is due, given the shared record of the last one.
pub fn sweep_due(last: Option<&[u8]>, now: SystemTime) -> bool {
    let last = last.and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0);
    secs(now) >= last.saturating_add(SWEEP_EVERY.as_secs())
}

/// The shared record's value for a sweep starting at `now`.
pub fn sweep_record(now: SystemTime) -> String {
    secs(now).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn a_framed_value_is_live_until_its_time_then_due() {
        let raw = frame(b"entry", at(1_000));
        assert_eq!(unframe(raw.clone(), at(999)), Read::Live(Bytes::from_static(b"entry")));
        assert_eq!(unframe(raw, at(1_000)), Read::Due);
        assert_eq!(unframe(Bytes::from_static(b"old entry"), at(5_000)), Read::Live(Bytes::from_static(b"old entry")), "unframed: as is");
    }

    #[test]
    fn markers_name_their_value_and_sort_by_time() {
        let m = marker("verge-cache/abc", at(1_000));
        assert_eq!(m, "verge-cache-exp/000000001000/verge-cache/abc");
        assert!(marker("x", at(999)) < marker("x", at(1_000)));
        assert_eq!(due(&m, at(1_000)), Some("verge-cache/abc"));
        assert_eq!(due(&m, at(999)), None, "not yet");
        for other in ["verge-cache/abc", "verge-cache-exp/soon/x", "verge-cache-exp/000000000001/", "verge-cache-exp/1"] {
            assert_eq!(due(other, at(u64::MAX / 2)), None, "{other}");
        }
    }

    #[test]
    fn sweeps_are_spaced_by_the_shared_record() {
        assert!(sweep_due(None, at(100)));
        assert!(!sweep_due(Some(sweep_record(at(100)).as_bytes()), at(159)));
        assert!(sweep_due(Some(b"100"), at(160)));
        assert!(sweep_due(Some(b"garbage"), at(100)), "an unreadable record does not stop sweeps");
    }
}
