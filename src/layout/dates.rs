//! Columns declared as dates: openDataSUS/e-SUS exports store a *date* as
//! the UTC instant of Brasília midnight (`2020-07-27T03:00:00.000Z`).
//! Converted as an instant, it becomes the 26th for a lab in Acre. Declared
//! as a date (`date_only`), only the calendar date written in the cell is
//! kept: every Brazilian zone's midnight (UTC-2 to UTC-5) is written with
//! that same date, so the date never moves.
//!
//! Invariant: pure string functions; no zone, no clock.

use chrono::{DateTime, Timelike};

/// The calendar-date part of a date or date-time text: `2020-07-27` of
/// `2020-07-27T03:00:00.000Z`, `27/07/2020` of `27/07/2020 08:15`. A text
/// without a time part is returned as is (trimmed).
pub fn date_part(text: &str) -> &str {
    let t = text.trim();
    let bytes = t.as_bytes();
    // ISO: YYYY-MM-DD followed by `T` or a space.
    if bytes.len() > 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (bytes[10] == b'T' || bytes[10] == b't' || bytes[10] == b' ')
    {
        return &t[..10];
    }
    match t.find(char::is_whitespace) {
        Some(i) => &t[..i],
        None => t,
    }
}

/// When every non-empty value is a UTC instant (`…Z` or `…+00:00`) on the
/// hour, all at the same hour, that hour: the mark of dates stored as
/// local midnight in UTC (03 for Brasília, 05 for Acre). Such a column
/// should be declared in `date_only`. None when fewer than two values are
/// given or any value breaks the pattern.
pub fn same_utc_hour<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<u32> {
    let mut hour = None;
    let mut seen = 0usize;
    for value in values {
        let v = value.trim();
        if v.is_empty() {
            continue;
        }
        if !(v.ends_with('Z') || v.ends_with('z') || v.ends_with("+00:00")) {
            return None;
        }
        let t = DateTime::parse_from_rfc3339(v).ok()?;
        if t.minute() != 0 || t.second() != 0 || t.nanosecond() != 0 {
            return None;
        }
        match hour {
            None => hour = Some(t.hour()),
            Some(h) if h != t.hour() => return None,
            Some(_) => {}
        }
        seen += 1;
    }
    hour.filter(|_| seen >= 2)
}

/// When every non-empty value is a UTC instant exactly on the hour, at
/// 00 or between 02 and 05 (midnight of a Brazilian zone, UTC-2 to UTC-5,
/// possibly mixed in one export): dates stored as instants. A looser
/// sibling of [`same_utc_hour`] for exports written from several zones.
pub fn midnights_in_utc<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    let mut seen = 0usize;
    for value in values {
        let v = value.trim();
        if v.is_empty() {
            continue;
        }
        if !(v.ends_with('Z') || v.ends_with('z') || v.ends_with("+00:00")) {
            return false;
        }
        let Ok(t) = DateTime::parse_from_rfc3339(v) else {
            return false;
        };
        let on_the_hour = t.minute() == 0 && t.second() == 0 && t.nanosecond() == 0;
        if !on_the_hour || !matches!(t.hour(), 0 | 2..=5) {
            return false;
        }
        seen += 1;
    }
    seen >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_part_drops_the_time_of_every_form() {
        assert_eq!(date_part("2020-07-27T03:00:00.000Z"), "2020-07-27");
        assert_eq!(date_part(" 2020-07-27 05:00:00 "), "2020-07-27");
        assert_eq!(date_part("27/07/2020 08:15"), "27/07/2020");
        assert_eq!(date_part("27/07/2020"), "27/07/2020");
        assert_eq!(date_part("2020-07-27"), "2020-07-27");
    }

    #[test]
    fn same_utc_hour_flags_midnights_stored_in_utc() {
        let brasilia = ["2020-07-27T03:00:00.000Z", "", "2020-08-01T03:00:00.000Z"];
        assert_eq!(same_utc_hour(brasilia), Some(3));
        let acre = ["2020-07-27T05:00:00.000Z", "2020-07-28T05:00:00+00:00"];
        assert_eq!(same_utc_hour(acre), Some(5));
        // Real instants (different hours, minutes) and local texts are not flagged.
        assert_eq!(
            same_utc_hour(["2020-07-27T03:00:00Z", "2020-07-27T14:00:00Z"]),
            None
        );
        assert_eq!(
            same_utc_hour(["2020-07-27T03:10:00Z", "2020-07-28T03:10:00Z"]),
            None
        );
        assert_eq!(
            same_utc_hour(["2020-07-27T03:00:00-03:00", "2020-07-28T03:00:00-03:00"]),
            None
        );
        assert_eq!(same_utc_hour(["27/07/2020", "28/07/2020"]), None);
        assert_eq!(same_utc_hour(["2020-07-27T03:00:00Z"]), None);
    }

    #[test]
    fn midnights_of_several_zones_are_recognised() {
        let mixed = [
            "2020-06-08T04:00:00.000Z",
            "2020-05-27T05:00:00.000Z",
            "2020-07-15T00:00:00.000Z",
        ];
        assert!(midnights_in_utc(mixed));
        assert!(!midnights_in_utc([
            "2020-06-08T04:00:00.000Z",
            "2020-06-08T14:00:00.000Z"
        ]));
        assert!(!midnights_in_utc([
            "2020-06-08T04:00:10.517Z",
            "2020-06-09T04:00:00Z"
        ]));
    }
}
