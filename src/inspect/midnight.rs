//! Dates disguised as instants: openDataSUS/e-SUS exports store a date as
//! Brasília midnight in UTC (`2020-07-27T03:00:00.000Z`). Converted to a
//! lab in Acre that instant falls on the previous day. A column whose
//! timestamps all sit at one UTC hour is flagged so the lab declares it a
//! date.
//!
//! Invariant: pure counting over cells; decides nothing about rows.

use chrono::{DateTime, Timelike};

/// Fewer values than this prove nothing.
const MIN_VALUES: u64 = 2;

/// A timestamp column whose every value sits at the same UTC hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MidnightColumn {
    pub header: String,
    /// The one UTC hour of every value (3 = Brasília midnight).
    pub utc_hour: u32,
    /// How many values were seen.
    pub values: u64,
    /// Whether every value is exactly on the hour (`HH:00:00.000`).
    pub on_the_hour: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct ColumnHours {
    values: u64,
    /// The UTC hour of the first value; None once a second hour appears or
    /// a non-empty value is not an instant with a zone.
    hour: Option<u32>,
    mixed: bool,
    on_the_hour: bool,
}

/// Per-column statistics of instants with an explicit zone.
#[derive(Debug, Clone)]
pub struct TimestampHours {
    columns: Vec<ColumnHours>,
    headers: Vec<String>,
}

impl TimestampHours {
    pub fn new(width: usize) -> TimestampHours {
        TimestampHours {
            columns: vec![ColumnHours::default(); width],
            headers: Vec::new(),
        }
    }

    /// Adds one row's cells.
    pub fn add_row(&mut self, cells: &[String]) {
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
            match stats.hour {
                None if stats.values == 0 => {
                    stats.hour = Some(utc.hour());
                    stats.on_the_hour = on_hour;
                }
                Some(h) if h == utc.hour() => stats.on_the_hour &= on_hour,
                _ => stats.mixed = true,
            }
            stats.values += 1;
        }
    }

    /// Names the columns (the header texts, in order).
    pub fn with_headers(mut self, headers: &[String]) -> TimestampHours {
        self.headers = headers.to_vec();
        self
    }

    /// The columns whose every value sat at one UTC hour.
    pub fn flagged(&self) -> Vec<MidnightColumn> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.mixed && c.values >= MIN_VALUES)
            .filter_map(|(i, c)| {
                Some(MidnightColumn {
                    header: self.headers.get(i).cloned().unwrap_or_default(),
                    utc_hour: c.hour?,
                    values: c.values,
                    on_the_hour: c.on_the_hour,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
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
                utc_hour: 3,
                values: 2,
                on_the_hour: true,
            }]
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
