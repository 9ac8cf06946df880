//! UTC calendar dates without a date library: `YYYY-MM-DD` parsed strictly, days since the epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use verge_signing::days_from_civil;

/// A UTC calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub i64);

impl Day {
    /// Parses `YYYY-MM-DD` (years 1970-9999), refusing dates that do not exist.
    pub fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| s.get(r).filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?.parse::<i64>().ok();
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if y < 1970 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return None;
        }
        Some(Day(days_from_civil(y, m, d)))
    }

    pub fn of(t: SystemTime) -> Day {
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Day(secs.div_euclid(86_400))
    }

    /// `(year, month, day)`, Howard Hinnant's `civil_from_days`.
    pub fn civil(self) -> (i64, i64, i64) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let day = Day((d.as_secs() / 86_400) as i64);
    let s = d.as_secs() % 86_400;
    format!("{day}T{:02}:{:02}:{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parse_and_print_round_trip() {
        for s in ["1970-01-01", "2000-02-29", "2026-11-21", "2100-12-31"] {
            assert_eq!(Day::parse(s).unwrap().to_string(), s);
        }
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "26-01-01", "2026-01-32", "+026-01-01", "1969-12-31"] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
        assert_eq!(Day::parse("2026-11-22").unwrap().0 - Day::parse("2026-11-21").unwrap().0, 1);
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_305_600_123);
        assert_eq!(rfc3339(t), "2026-11-22T00:00:00.123Z");
        assert_eq!(Day::of(t).to_string(), "2026-11-22");
    }
}

/// Parses an RFC 3339 timestamp (`2026-11-21T10:00:00Z`, `...T10:00:00.123+02:00`) into
/// milliseconds since the epoch. Fractions beyond milliseconds are truncated.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let day = Day::parse(s.get(..10)?)?;
    let num = |r: std::ops::Range<usize>| s.get(r).filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?.parse::<i64>().ok();
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        ms = format!("{:0<3}", &f[..digits.min(3)]).parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (rest.get(1..3)?.parse::<i64>().ok()?, rest.get(4..6)?.parse::<i64>().ok()?);
            if rest.len() != 6 || rest.as_bytes()[3] != b':' || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    Some((day.0 * 86_400 + h * 3600 + m * 60 + sec - offset_min * 60) * 1000 + ms)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch: fixed width, so it sorts as text.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let day = Day(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{day}T{:02}:{:02}:{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, ms.rem_euclid(1000))
}

#[cfg(test)]
mod rfc3339_tests {
    use super::*;

    #[test]
    fn timestamps_normalise_to_utc() {
        let z = parse_rfc3339_ms("2026-11-21T10:00:00Z").unwrap();
        assert_eq!(parse_rfc3339_ms("2026-11-21T12:00:00+02:00"), Some(z));
        assert_eq!(parse_rfc3339_ms("2026-11-21T10:00:00.5Z"), Some(z + 500));
        assert_eq!(format_ms(z + 7), "2026-11-21T10:00:00.007Z");
        for bad in [
            "2026-11-21",
            "2026-11-21T25:00:00Z",
            "2026-11-21T10:00:00",
            "2026-11-21T10:00:00+2:00",
            "2026-02-30T00:00:00Z",
            "2026-11-21T10:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
