//! One XLSX cell → the text a person sees in Excel: identifiers stored as
//! numbers as exact digits, date-times as ISO text rounded to the second
//! (Excel stores `13:00` as `0.54166666666…`, whose truncation reads
//! `12:59:59`), booleans in Portuguese.
//!
//! Invariant: pure; one cell at a time, no sheet or column knowledge.

use calamine::DataRef;
use chrono::{Days, NaiveDate};

use super::MAX_CELL_CHARS;

/// The cell's text, and the different text versions before the rounding
/// fix read from it (only for a date-time whose truncation differs).
pub(crate) fn cell_text(cell: &DataRef<'_>) -> (String, Option<String>) {
    let text = match cell {
        DataRef::Empty | DataRef::Error(_) => String::new(),
        DataRef::String(text) => super::decode::clean_cell(text),
        DataRef::SharedString(text) => super::decode::clean_cell(text),
        DataRef::Int(number) => number.to_string(),
        DataRef::Float(number) => number_text(*number),
        DataRef::Bool(true) => "VERDADEIRO".to_owned(),
        DataRef::Bool(false) => "FALSO".to_owned(),
        DataRef::DateTime(moment) if moment.is_datetime() => {
            return datetime_texts(moment.as_f64(), moment.to_ymd_hms_milli());
        }
        DataRef::DateTime(duration) => number_text(duration.as_f64()),
        DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => text.replacen('T', " ", 1),
    };
    (text, None)
}

/// Cuts a cell longer than [`MAX_CELL_CHARS`]; returns the kept text and,
/// when cut, how many characters it had.
pub(crate) fn cut_cell(mut text: String) -> (String, Option<usize>) {
    // Cheap for every normal cell: a byte length within the limit cannot
    // hold more characters than that.
    if text.len() <= MAX_CELL_CHARS {
        return (text, None);
    }
    let chars = text.chars().count();
    if chars <= MAX_CELL_CHARS {
        return (text, None);
    }
    let end = text
        .char_indices()
        .nth(MAX_CELL_CHARS)
        .map_or(text.len(), |(at, _)| at);
    text.truncate(end);
    (text, Some(chars))
}

/// `(rounded text, legacy text if different)` of a date-time serial, from
/// calamine's components (which truncate the time and carry milliseconds).
/// Rounding the milliseconds to the nearest second may carry into the next
/// day; a time-only cell (|serial| < 1) stops at 23:59:59 instead, as it
/// has no day to carry into.
fn datetime_texts(
    serial: f64,
    (year, month, day, hour, minute, second, milli): (u16, u8, u8, u8, u8, u8, u16),
) -> (String, Option<String>) {
    let time_only = serial.abs() < 1.0;
    let truncated = u32::from(hour) * 3600 + u32::from(minute) * 60 + u32::from(second);
    let legacy = format_moment(time_only, (year, month, day), truncated);
    let mut seconds = truncated + u32::from(milli >= 500);
    let mut date = (year, month, day);
    if seconds >= 86_400 {
        if time_only {
            seconds = 86_399;
        } else {
            let next = NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))
                .and_then(|d| d.checked_add_days(Days::new(1)));
            // Excel's fictitious 1900-02-29 has no successor in chrono; no
            // result is that old, so keep what calamine gave.
            let Some(next) = next else {
                return (legacy, None);
            };
            date = (
                u16::try_from(chrono::Datelike::year(&next)).unwrap_or(year),
                chrono::Datelike::month(&next) as u8,
                chrono::Datelike::day(&next) as u8,
            );
            seconds -= 86_400;
        }
    }
    let text = format_moment(time_only, date, seconds);
    if text == legacy {
        (text, None)
    } else {
        (text, Some(legacy))
    }
}

/// `HH:MM:SS` for a time-only cell, `YYYY-MM-DD` at midnight, else both.
fn format_moment(time_only: bool, (year, month, day): (u16, u8, u8), seconds: u32) -> String {
    let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if time_only {
        format!("{hour:02}:{minute:02}:{second:02}")
    } else if seconds == 0 {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }
}

/// Integral numbers as exact digits (a 15-digit CNS stays `700512345678901`);
/// others rounded to 15 significant digits, as Excel shows them, with a dot.
fn number_text(number: f64) -> String {
    if !number.is_finite() {
        return String::new();
    }
    if number.fract() == 0.0 {
        // f64 Display never uses an exponent and prints no `.0`.
        return format!("{number}");
    }
    let rounded: f64 = format!("{number:.14e}").parse().unwrap_or(number);
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use calamine::{ExcelDateTime, ExcelDateTimeType};

    use super::*;

    fn texts(serial: f64) -> (String, Option<String>) {
        let moment = ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false);
        cell_text(&DataRef::DateTime(moment))
    }

    #[test]
    fn numbers_read_as_people_see_them() {
        assert_eq!(number_text(700_512_345_678_901.0), "700512345678901");
        assert_eq!(number_text(38.5), "38.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(44355.0), "44355");
    }

    #[test]
    fn date_times_round_to_the_nearest_second() {
        // 25/10/2021 13:00 as Excel stores it.
        assert_eq!(
            texts(44494.54166666666),
            (
                "2021-10-25 13:00:00".into(),
                Some("2021-10-25 12:59:59".into())
            )
        );
        assert_eq!(texts(44494.5), ("2021-10-25 12:00:00".into(), None));
        assert_eq!(texts(44494.0), ("2021-10-25".into(), None));
        // A date a hair below midnight is the next day, date only.
        assert_eq!(
            texts(44_494.999_999_999),
            ("2021-10-26".into(), Some("2021-10-25 23:59:59".into()))
        );
        // Time-only cells: rounded, never past the end of the day.
        assert_eq!(
            texts(0.541_666_666_666_66),
            ("13:00:00".into(), Some("12:59:59".into()))
        );
        assert_eq!(texts(0.999_999_999_9).0, "23:59:59");
    }

    #[test]
    fn long_cells_are_cut_at_excels_limit() {
        let (kept, cut) = cut_cell("é".repeat(MAX_CELL_CHARS + 5));
        assert_eq!(kept.chars().count(), MAX_CELL_CHARS);
        assert_eq!(cut, Some(MAX_CELL_CHARS + 5));
        // Multi-byte text within the limit in characters is not cut.
        assert_eq!(cut_cell("é".repeat(MAX_CELL_CHARS)).1, None);
    }
}
