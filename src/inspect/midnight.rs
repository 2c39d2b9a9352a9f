//! Dates disguised as instants: openDataSUS/e-SUS exports store a date as
//! local midnight in UTC (`2020-07-27T03:00:00.000Z` in Brasília,
//! `T05:00Z` in Acre). Converted to another zone that instant can fall on
//! the previous day. A timestamp column whose values all sit at one UTC
//! hour, or are all exactly on the hour (the Acre sample mixes 00, 03, 04
//! and 05 UTC), is flagged so the lab declares it a date.
//!
//! Invariant: pure counting over cells; decides nothing about rows.

use std::collections::BTreeSet;

use chrono::{DateTime, Timelike};

/// Fewer values than this prove nothing.
const MIN_VALUES: u64 = 2;

/// A timestamp column whose values look like dates stored as midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MidnightColumn {
    pub header: String,
    /// The UTC hours seen (3 = Brasília midnight, 5 = Acre midnight).
    pub utc_hours: Vec<u32>,
    /// How many values were seen.
    pub values: u64,
    /// Whether every value is exactly on the hour (`HH:00:00.000`).
    pub on_the_hour: bool,
}

#[derive(Debug, Clone, Default)]
struct ColumnHours {
    values: u64,
    hours: BTreeSet<u32>,
    /// A non-empty value was not an instant with a zone.
    mixed: bool,
    /// Every value so far was exactly on the hour.
    on_the_hour: bool,
}

/// Per-column statistics of instants with an explicit zone.
#[derive(Debug, Clone)]
pub(crate) struct TimestampHours {
    columns: Vec<ColumnHours>,
    headers: Vec<String>,
}

impl TimestampHours {
    pub(crate) fn new(width: usize) -> TimestampHours {
        TimestampHours {
            columns: vec![ColumnHours::default(); width],
            headers: Vec::new(),
        }
    }

    /// Adds one row's cells.
    pub(crate) fn add_row(&mut self, cells: &[String]) {
        for (stats, cell) in self.columns.iter_mut().zip(cells) {
            let text = cell.trim();
            if stats.mixed || text.is_empty() || crate::mapping::is_null(text) {
                continue;
            }
            // Only text that carries its own zone ("Z" or an offset) is an
            // instant whose UTC hour means something.
            let Ok(instant) = DateTime::parse_from_rfc3339(text) else {
                stats.mixed = true;
                continue;
            };
            let utc = instant.to_utc();
            let on_hour = utc.minute() == 0 && utc.second() == 0 && utc.nanosecond() == 0;
            stats.on_the_hour = on_hour && (stats.values == 0 || stats.on_the_hour);
            stats.hours.insert(utc.hour());
            stats.values += 1;
        }
    }

    /// Names the columns (the header texts, in order).
    pub(crate) fn with_headers(mut self, headers: &[String]) -> TimestampHours {
        self.headers = headers.to_vec();
        self
    }

    /// The columns whose values all sat at one UTC hour, or all exactly on
    /// the hour.
    pub(crate) fn flagged(&self) -> Vec<MidnightColumn> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.mixed && c.values >= MIN_VALUES)
            .filter(|(_, c)| c.hours.len() == 1 || c.on_the_hour)
            .map(|(i, c)| MidnightColumn {
                header: self.headers.get(i).cloned().unwrap_or_default(),
                utc_hours: c.hours.iter().copied().collect(),
                values: c.values,
                on_the_hour: c.on_the_hour,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(values: &[&str]) -> Vec<String> {
        values.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn dates_stored_as_brasilia_midnight_are_flagged_and_real_times_are_not() {
        let mut hours = TimestampHours::new(3);
        hours.add_row(&cells(&[
            "2020-07-27T03:00:00.000Z",
            "2020-07-27T03:00:10.517Z",
            "27/07/2020",
        ]));
        hours.add_row(&cells(&[
            "2020-07-03T03:00:00.000Z",
            "2020-07-28T14:31:02.000Z",
            "28/07/2020",
        ]));
        hours.add_row(&cells(&["", "null", ""]));
        let flagged = hours
            .with_headers(&cells(&["dataTeste", "dataNotificacao", "data_coleta"]))
            .flagged();
        assert_eq!(
            flagged,
            [MidnightColumn {
                header: "dataTeste".into(),
                utc_hours: vec![3],
                values: 2,
                on_the_hour: true,
            }]
        );
    }

    #[test]
    fn midnights_of_several_zones_are_flagged_real_times_at_one_hour_too() {
        let mut hours = TimestampHours::new(2);
        for (date, time) in [
            ("2020-07-27T03:00:00.000Z", "2020-07-27T14:05:00Z"),
            ("2020-07-27T05:00:00.000Z", "2020-07-27T14:31:10Z"),
            ("2020-07-28T04:00:00.000Z", "2020-07-28T14:59:59Z"),
        ] {
            hours.add_row(&cells(&[date, time]));
        }
        let flagged = hours.with_headers(&cells(&["dataTeste", "hora"])).flagged();
        let summary: Vec<(&str, Vec<u32>, bool)> = flagged
            .iter()
            .map(|m| (m.header.as_str(), m.utc_hours.clone(), m.on_the_hour))
            .collect();
        assert_eq!(
            summary,
            [
                ("dataTeste", vec![3, 4, 5], true),
                ("hora", vec![14], false)
            ]
        );
    }

    #[test]
    fn one_value_or_values_without_a_zone_prove_nothing() {
        let mut hours = TimestampHours::new(2);
        hours.add_row(&cells(&["2020-07-27T03:00:00Z", "2021-10-25T13:00:00"]));
        hours.add_row(&cells(&["", "2021-10-26T13:00:00"]));
        assert!(hours.flagged().is_empty());
    }
}
