//! Columns declared as dates: openDataSUS/e-SUS exports store a *date* as
//! the UTC instant of Brasília midnight (`2020-07-27T03:00:00.000Z`).
//! Converted as an instant, it becomes the 26th for a lab in Acre. Declared
//! as a date (`date_only`), only the calendar date written in the cell is
//! kept: every Brazilian zone's midnight (UTC-2 to UTC-5) is written with
//! that same date, so the date never moves.
//!
//! (`inspect::midnight` flags a column that looks like such dates.)
//!
//! Invariant: pure string functions; no zone, no clock.

/// The calendar-date part of a date or date-time text: `2020-07-27` of
/// `2020-07-27T03:00:00.000Z`, `27/07/2020` of `27/07/2020 08:15`. A text
/// without a time part is returned as is (trimmed).
pub(crate) fn date_part(text: &str) -> &str {
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
}
