//! Date and time text as lab exports write it → a date or an instant in the
//! lab's zone. Accepted: `dd/mm/yyyy`, `dd/mm/yy`, `yyyy-mm-dd`, each with an
//! optional time (`HH:MM`, `HH:MM:SS`, fractions ignored, separated by a
//! space or `T`), an optional offset (`Z`, `-03:00`, `-0300`), and Excel
//! serial day numbers (`44350`, `44350.5`, 20000–80000). Local times get the
//! offset the tz database gives for that very date (Brazil had DST until
//! 2019); a time in a DST gap moves forward by the gap, an ambiguous one
//! takes the earlier instant. Text with an offset is converted to the lab's
//! zone.
//!
//! Invariant: pure; no clock, no row, no message text.

use chrono::{
    DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
};
use chrono_tz::Tz;

use crate::model::When;

/// Why a date or time was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateProblem {
    /// Not in any accepted format.
    Format,
    /// Well-formed but the day does not exist (`31/02/2021`, month 13).
    NonexistentDate,
    /// Well-formed but the time does not exist (`25:10`).
    NonexistentTime,
}

/// A parsed value before it is placed in the lab's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    /// Wall-clock date (and time) with no offset.
    Local(NaiveDate, Option<NaiveTime>),
    /// An instant whose offset the text gave.
    Absolute(DateTime<FixedOffset>),
}

const EXCEL_EPOCH_DAYS: std::ops::RangeInclusive<f64> = 20000.0..=80000.0;

/// Parses one date or date-time cell.
pub(crate) fn parse(text: &str) -> Result<Moment, DateProblem> {
    let text = text.trim();
    if let Some(moment) = excel_serial(text) {
        return Ok(moment);
    }
    let (date, rest) = date_part(text)?;
    let rest = rest.trim_start_matches([' ', 'T']);
    if rest.is_empty() {
        return Ok(Moment::Local(date, None));
    }
    let (time, rest) = time_part(rest)?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(Moment::Local(date, Some(time)));
    }
    let offset = offset_part(rest)?;
    let local = date.and_time(time);
    offset
        .from_local_datetime(&local)
        .single()
        .map(Moment::Absolute)
        .ok_or(DateProblem::Format)
}

/// Parses a time-only cell (`09:23`, `09:23:05`, or an Excel day fraction).
pub(crate) fn parse_time(text: &str) -> Result<NaiveTime, DateProblem> {
    let text = text.trim();
    if let Ok(fraction) = text.replace(',', ".").parse::<f64>() {
        if (0.0..1.0).contains(&fraction) && text.contains(['.', ',']) {
            return Ok(time_from_day_fraction(fraction));
        }
    }
    let (time, rest) = time_part(text)?;
    if rest.trim().is_empty() {
        Ok(time)
    } else {
        Err(DateProblem::Format)
    }
}

/// Places a parsed value in the lab's zone; `time` (a separate time column)
/// replaces any time of day the date cell had.
pub(crate) fn resolve(moment: Moment, time: Option<NaiveTime>, tz: Tz) -> When {
    let (date, own_time) = match moment {
        Moment::Local(d, t) => (d, t),
        Moment::Absolute(instant) => {
            if time.is_none() {
                return When::Instant(instant.with_timezone(&tz).fixed_offset());
            }
            (instant.with_timezone(&tz).date_naive(), None)
        }
    };
    match time.or(own_time) {
        Some(t) => When::Instant(local_instant(tz, date.and_time(t))),
        None => When::Date(date),
    }
}

/// The instant of a wall-clock time in `tz`: gap → forward by the gap's
/// length (the offset before the change applies), overlap → earlier.
pub(crate) fn local_instant(tz: Tz, local: NaiveDateTime) -> DateTime<FixedOffset> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.fixed_offset();
    }
    let before = tz
        .offset_from_local_datetime(&(local - Duration::days(1)))
        .earliest()
        .map_or_else(|| tz.offset_from_utc_datetime(&local).fix(), |o| o.fix());
    let utc = local - Duration::seconds(i64::from(before.local_minus_utc()));
    tz.from_utc_datetime(&utc).fixed_offset()
}

/// The serial's value when `text` is an Excel serial day number.
fn serial_value(text: &str) -> Option<f64> {
    // Brazilian-locale exports write the fraction with a comma.
    let is_number = |b: u8| b.is_ascii_digit() || b == b'.' || b == b',';
    if text.is_empty() || !text.bytes().all(is_number) {
        return None;
    }
    let serial: f64 = text.replace(',', ".").parse().ok()?;
    EXCEL_EPOCH_DAYS.contains(&serial).then_some(serial)
}

/// Day 0 of Excel's 1900 system as its serials really count (the fake
/// 1900-02-29 makes 1899-12-30 the working epoch for dates after March 1900).
fn excel_day(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_signed(Duration::days(days))
}

/// The serial rounded to the nearest second as a whole, so a time a hair
/// below the hour (`13:00` is stored as `0.54166666666…`) reads as that
/// hour, and a hair below midnight as the next day.
fn excel_serial(text: &str) -> Option<Moment> {
    let seconds = (serial_value(text)? * 86_400.0).round() as i64;
    let date = excel_day(seconds.div_euclid(86_400))?;
    let second_of_day = seconds.rem_euclid(86_400) as u32;
    let time = (second_of_day > 0)
        .then(|| NaiveTime::from_num_seconds_from_midnight_opt(second_of_day, 0))
        .flatten();
    Some(Moment::Local(date, time))
}

/// How versions before the rounding fix read a serial: whole days, then
/// the fraction rounded but never past 23:59:59, and any fraction (even
/// one rounding to 00:00:00) made it a date-time.
fn legacy_excel_serial(text: &str) -> Option<Moment> {
    let serial = serial_value(text)?;
    let days = serial.trunc();
    let date = excel_day(days as i64)?;
    let fraction = serial - days;
    let time = (fraction > 0.0).then(|| time_from_day_fraction(fraction));
    Some(Moment::Local(date, time))
}

/// When `text` is an Excel serial that versions before the rounding fix
/// read as another moment, that moment as ISO text (which [`parse`] reads
/// back as exactly that moment); `None` otherwise.
pub(crate) fn legacy_serial_text(text: &str) -> Option<String> {
    let text = text.trim();
    let legacy = legacy_excel_serial(text)?;
    if Some(legacy) == excel_serial(text) {
        return None;
    }
    match legacy {
        Moment::Local(date, Some(time)) => Some(format!(
            "{} {}",
            date.format("%Y-%m-%d"),
            time.format("%H:%M:%S")
        )),
        Moment::Local(date, None) => Some(date.format("%Y-%m-%d").to_string()),
        Moment::Absolute(_) => None,
    }
}

fn time_from_day_fraction(fraction: f64) -> NaiveTime {
    let seconds = ((fraction * 86_400.0).round() as u32).min(86_399);
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0).unwrap_or(NaiveTime::MIN)
}

/// Leading run of ASCII digits: (value, digit count, rest).
fn number(text: &str) -> Option<(u32, usize, &str)> {
    let len = text.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || len > 4 {
        return None;
    }
    // At most four ASCII digits: no sign, no overflow to check.
    let value = text.as_bytes()[..len]
        .iter()
        .fold(0, |n, &d| n * 10 + u32::from(d - b'0'));
    Some((value, len, &text[len..]))
}

fn date_part(text: &str) -> Result<(NaiveDate, &str), DateProblem> {
    let (first, first_len, rest) = number(text).ok_or(DateProblem::Format)?;
    let sep = rest.chars().next().ok_or(DateProblem::Format)?;
    if !matches!(sep, '/' | '-' | '.') {
        return Err(DateProblem::Format);
    }
    let (second, second_len, rest) = number(&rest[1..]).ok_or(DateProblem::Format)?;
    if !rest.starts_with(sep) || second_len > 2 {
        return Err(DateProblem::Format);
    }
    let (third, third_len, rest) = number(&rest[1..]).ok_or(DateProblem::Format)?;
    let (year, month, day) = match (first_len, third_len) {
        (4, 1 | 2) if sep == '-' => (first as i32, second, third),
        (1 | 2, 4) => (third as i32, second, first),
        (1 | 2, 2) => (2000 + third as i32, second, first),
        _ => return Err(DateProblem::Format),
    };
    if !(1900..=2999).contains(&year) {
        return Err(DateProblem::Format);
    }
    NaiveDate::from_ymd_opt(year, month, day)
        .map(|d| (d, rest))
        .ok_or(DateProblem::NonexistentDate)
}

fn two_digits(text: &str, max_len: usize) -> Option<(u32, &str)> {
    let (value, len, rest) = number(text)?;
    (len <= max_len).then_some((value, rest))
}

fn time_part(text: &str) -> Result<(NaiveTime, &str), DateProblem> {
    let (hour, rest) = two_digits(text, 2).ok_or(DateProblem::Format)?;
    let rest = rest.strip_prefix(':').ok_or(DateProblem::Format)?;
    let (minute, mut rest) = two_digits(rest, 2).ok_or(DateProblem::Format)?;
    let mut second = 0;
    if let Some(after) = rest.strip_prefix(':') {
        let (s, after) = two_digits(after, 2).ok_or(DateProblem::Format)?;
        second = s;
        rest = after;
        if let Some(after) = rest.strip_prefix(['.', ',']) {
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
        }
    }
    NaiveTime::from_hms_opt(hour, minute, second)
        .map(|t| (t, rest))
        .ok_or(DateProblem::NonexistentTime)
}

fn offset_part(text: &str) -> Result<FixedOffset, DateProblem> {
    if text == "Z" || text == "z" {
        return FixedOffset::east_opt(0).ok_or(DateProblem::Format);
    }
    let sign = match text.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(DateProblem::Format),
    };
    let body: String = text[1..].chars().filter(|&c| c != ':').collect();
    if !body.bytes().all(|b| b.is_ascii_digit()) || !(body.len() == 2 || body.len() == 4) {
        return Err(DateProblem::Format);
    }
    let hours: i32 = body[..2].parse().map_err(|_| DateProblem::Format)?;
    let minutes: i32 = if body.len() == 4 {
        body[2..].parse().map_err(|_| DateProblem::Format)?
    } else {
        0
    };
    if hours > 14 || minutes > 59 {
        return Err(DateProblem::Format);
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or(DateProblem::Format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::{Manaus, Rio_Branco, Sao_Paulo};

    fn fhir(text: &str, tz: Tz) -> String {
        resolve(parse(text).unwrap(), None, tz).to_fhir()
    }

    #[test]
    fn brazilian_and_iso_dates_with_and_without_time() {
        assert_eq!(fhir("08/06/2021", Sao_Paulo), "2021-06-08");
        assert_eq!(fhir("8/6/21", Sao_Paulo), "2021-06-08");
        assert_eq!(fhir("2021-06-08", Sao_Paulo), "2021-06-08");
        assert_eq!(
            fhir("08/06/2021 09:23", Sao_Paulo),
            "2021-06-08T09:23:00-03:00"
        );
        assert_eq!(
            fhir("08/06/2021 09:23:41", Sao_Paulo),
            "2021-06-08T09:23:41-03:00"
        );
        assert_eq!(
            fhir("2021-06-08T09:23:41", Manaus),
            "2021-06-08T09:23:41-04:00"
        );
        assert_eq!(
            fhir("2021-06-08 09:23", Rio_Branco),
            "2021-06-08T09:23:00-05:00"
        );
    }

    #[test]
    fn utc_text_is_converted_to_the_labs_zone() {
        // samples/dados-ac.head.csv: local midnight in Acre written as 05:00Z.
        assert_eq!(
            fhir("2020-06-01T05:00:00.000Z", Rio_Branco),
            "2020-06-01T00:00:00-05:00"
        );
        assert_eq!(
            fhir("2020-07-27T03:00:00.000Z", Sao_Paulo),
            "2020-07-27T00:00:00-03:00"
        );
        assert_eq!(
            fhir("2021-06-08T09:23:00-0300", Manaus),
            "2021-06-08T08:23:00-04:00"
        );
    }

    #[test]
    fn offsets_follow_the_dst_of_that_date() {
        assert_eq!(
            fhir("01/12/2018 10:00", Sao_Paulo),
            "2018-12-01T10:00:00-02:00"
        );
        assert_eq!(
            fhir("01/12/2019 10:00", Sao_Paulo),
            "2019-12-01T10:00:00-03:00"
        );
        // DST began 2018-11-04 00:00 → 01:00: 00:30 does not exist, moves forward.
        assert_eq!(
            fhir("04/11/2018 00:30", Sao_Paulo),
            "2018-11-04T01:30:00-02:00"
        );
        // DST ended 2019-02-17 00:00 → 2019-02-16 23:00: 23:30 happens twice.
        assert_eq!(
            fhir("16/02/2019 23:30", Sao_Paulo),
            "2019-02-16T23:30:00-02:00"
        );
    }

    #[test]
    fn excel_serials_and_time_columns() {
        assert_eq!(fhir("44350", Sao_Paulo), "2021-06-03");
        assert_eq!(fhir("44350.5", Sao_Paulo), "2021-06-03T12:00:00-03:00");
        assert_eq!(fhir("44350,5", Sao_Paulo), "2021-06-03T12:00:00-03:00");
        let with_time = resolve(
            parse("03/06/2021").unwrap(),
            parse_time("14:05").ok(),
            Sao_Paulo,
        );
        assert_eq!(with_time.to_fhir(), "2021-06-03T14:05:00-03:00");
        assert_eq!(
            parse_time("0,75").map(|t| t.to_string()),
            Ok("18:00:00".into())
        );
        assert_eq!(
            parse_time("9:05:07").map(|t| t.to_string()),
            Ok("09:05:07".into())
        );
        assert_eq!(parse_time("25:00"), Err(DateProblem::NonexistentTime));
        assert_eq!(parse_time("depois"), Err(DateProblem::Format));
    }

    #[test]
    fn excel_serials_round_to_the_second_and_remember_the_old_reading() {
        // 25/10/2021 13:00 as Excel stores it, typed out as text.
        assert_eq!(
            fhir("44494.54166666666", Sao_Paulo),
            "2021-10-25T13:00:00-03:00"
        );
        assert_eq!(legacy_serial_text("44494.54166666666"), None);
        // A hair below midnight: the next day; old versions said 23:59:59.
        assert_eq!(fhir("44494.99999999999", Sao_Paulo), "2021-10-26");
        assert_eq!(
            legacy_serial_text("44494.99999999999").as_deref(),
            Some("2021-10-25 23:59:59")
        );
        // A fraction under half a second is the date alone now.
        assert_eq!(fhir("44494.000001", Sao_Paulo), "2021-10-25");
        assert_eq!(
            legacy_serial_text("44494,000001").as_deref(),
            Some("2021-10-25 00:00:00")
        );
        assert_eq!(legacy_serial_text("44494"), None);
        assert_eq!(legacy_serial_text("25/10/2021 13:00"), None);
    }

    #[test]
    fn impossible_and_malformed_dates() {
        assert_eq!(parse("31/02/2021"), Err(DateProblem::NonexistentDate));
        assert_eq!(parse("2021-13-01"), Err(DateProblem::NonexistentDate));
        assert_eq!(parse("08/06/2021 24:10"), Err(DateProblem::NonexistentTime));
        for bad in [
            "",
            "ontem",
            "08062021",
            "2021/06",
            "08/06/2021 9h",
            "123",
            "08/06/0021",
            "44350,5x",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
