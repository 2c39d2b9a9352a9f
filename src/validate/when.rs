//! The row's collection and release moments: format, the lab's zone, not
//! in the future, collection not after release.
//!
//! Invariant: pure; "now" comes from the settings.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

use super::check::Check;
use super::dates;
use super::messages::{date_reason, label};
use crate::model::{Field, When};

/// Date cell (+ optional time cell) → When, with the format and future rules.
fn moment(c: &mut Check, date_field: Field, time_field: Field) -> Option<When> {
    let Some(text) = c.value(date_field) else {
        c.required_empty(date_field);
        return None;
    };
    let parsed = dates::parse(text);
    if let Err(problem) = parsed {
        let message = format!(
            "{}: \"{text}\" não é uma data válida ({}).",
            c.place(date_field),
            date_reason(problem)
        );
        c.push(Some(date_field), "data_invalida", message);
    }
    let time = match c.value(time_field) {
        Some(t) => match dates::parse_time(t) {
            Ok(time) => Some(time),
            Err(problem) => {
                let message = format!(
                    "{}: \"{t}\" não é um horário válido ({}; use hh:mm, ex.: 09:30).",
                    c.place(time_field),
                    date_reason(problem)
                );
                c.push(Some(time_field), "data_invalida", message);
                return None;
            }
        },
        None => None,
    };
    let when = dates::resolve(parsed.ok()?, time, c.settings.timezone);
    if is_future(c, &when) {
        let message = format!(
            "{}: {} \"{text}\" está no futuro. Confira a data (dia/mês/ano) e o relógio do \
             sistema do laboratório.",
            c.place(date_field),
            label(date_field)
        );
        c.push(Some(date_field), "data_futura", message);
        return None;
    }
    Some(when)
}

fn is_future(c: &Check, when: &When) -> bool {
    match when {
        When::Instant(t) => *t > c.settings.now,
        When::Date(d) => *d > today(c),
    }
}

fn today(c: &Check) -> NaiveDate {
    c.settings
        .now
        .with_timezone(&c.settings.timezone)
        .date_naive()
}

pub(super) fn collected(c: &mut Check) -> Option<When> {
    moment(c, Field::CollectionDate, Field::CollectionTime)
}

/// The release instant, and whether the file gave its time of day.
pub(super) fn issued(c: &mut Check) -> Option<(DateTime<FixedOffset>, bool)> {
    match moment(c, Field::IssuedDate, Field::IssuedTime)? {
        When::Instant(t) => Some((t, true)),
        When::Date(d) => {
            let midnight = d.and_time(NaiveTime::MIN);
            Some((dates::local_instant(c.settings.timezone, midnight), false))
        }
    }
}

pub(super) fn collection_before_release(
    c: &mut Check,
    collected: When,
    issued: DateTime<FixedOffset>,
    issued_has_time: bool,
) {
    let tz = c.settings.timezone;
    let after = match collected {
        When::Instant(t) if issued_has_time => t > issued,
        When::Instant(t) => {
            t.with_timezone(&tz).date_naive() > issued.with_timezone(&tz).date_naive()
        }
        When::Date(d) => d > issued.with_timezone(&tz).date_naive(),
    };
    if after {
        let message = format!(
            "{}: a coleta (\"{}\") é posterior à liberação do resultado (\"{}\", coluna \"{}\"). \
             Confira as duas datas.",
            c.place(Field::CollectionDate),
            c.raw(Field::CollectionDate).trim(),
            c.raw(Field::IssuedDate).trim(),
            c.column(Field::IssuedDate)
        );
        c.push(
            Some(Field::CollectionDate),
            "coleta_apos_liberacao",
            message,
        );
    }
}
