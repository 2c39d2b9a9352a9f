//! Grouping of analyte rows for a pivot, streamed: a group is a run of
//! consecutive rows with the same key. Only the current group is held, plus
//! one 64-bit hash per group already closed, so memory stays bounded on a
//! million-row file (≈16 bytes per group). A key that comes back after its
//! group closed (rows far apart) is flagged `reopened`: the plan turns such
//! a group into an issue, never a merge with the earlier rows.
//!
//! Invariant: pure iterator over rows; knows key columns, not fields.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::input::{InputError, Row};

/// What the pipeline hands to the plan: one row, or one group of rows.
#[derive(Debug)]
pub(crate) enum Unit {
    Row(Row),
    Group(Group),
}

impl Unit {
    /// How many file rows the unit holds.
    pub(crate) fn rows(&self) -> usize {
        match self {
            Unit::Row(_) => 1,
            Unit::Group(g) => g.rows.len(),
        }
    }

    /// Bytes of text the unit holds: chunks are bounded by it too, so rows
    /// near the reader's caps cannot pile up in memory.
    pub(crate) fn text_bytes(&self) -> usize {
        let row_bytes = |row: &Row| row.cells.iter().map(String::len).sum::<usize>();
        match self {
            Unit::Row(row) => row_bytes(row),
            Unit::Group(g) => g.rows.iter().map(row_bytes).sum(),
        }
    }
}

/// Consecutive rows sharing one key.
#[derive(Debug, Default)]
pub(crate) struct Group {
    pub rows: Vec<Row>,
    /// The key was seen before, in a group that already closed.
    pub reopened: bool,
    /// The group hit `max_group_rows` and was cut.
    pub truncated: bool,
    /// Every key cell is empty: the row cannot be grouped.
    pub no_key: bool,
}

/// Turns a row stream into groups by `key_columns`.
pub(crate) struct Grouper<I> {
    rows: I,
    key_columns: Vec<usize>,
    max_rows: usize,
    pending: Option<Row>,
    closed: HashSet<u64>,
    /// A read error met while a group was open: returned after that group.
    error: Option<InputError>,
    failed: bool,
}

impl<I> Grouper<I> {
    pub(crate) fn new(rows: I, key_columns: Vec<usize>, max_rows: usize) -> Self {
        Grouper {
            rows,
            key_columns,
            max_rows: max_rows.max(1),
            pending: None,
            closed: HashSet::new(),
            error: None,
            failed: false,
        }
    }

    /// Hash of the key cells; None when they are all empty.
    fn key(&self, row: &Row) -> Option<u64> {
        let mut h = DefaultHasher::new();
        let mut any = false;
        for &i in &self.key_columns {
            let cell = row.cells.get(i).map_or("", |c| c.trim());
            any |= !cell.is_empty();
            cell.hash(&mut h);
        }
        any.then(|| h.finish())
    }
}

impl<I: Iterator<Item = Result<Row, InputError>>> Iterator for Grouper<I> {
    type Item = Result<Unit, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        if self.failed {
            return None;
        }
        let first = match self.pending.take() {
            Some(row) => row,
            None => match self.rows.next()? {
                Ok(row) => row,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            },
        };
        let Some(key) = self.key(&first) else {
            return Some(Ok(Unit::Group(Group {
                rows: vec![first],
                no_key: true,
                ..Group::default()
            })));
        };
        let mut group = Group {
            rows: vec![first],
            reopened: self.closed.contains(&key),
            ..Group::default()
        };
        loop {
            if group.rows.len() >= self.max_rows {
                group.truncated = true;
                break;
            }
            match self.rows.next() {
                None => break,
                Some(Err(e)) => {
                    // The rows read so far still form their group; the
                    // error ends the stream right after it.
                    self.failed = true;
                    self.error = Some(e);
                    return Some(Ok(Unit::Group(group)));
                }
                Some(Ok(row)) => {
                    if self.key(&row) == Some(key) {
                        group.rows.push(row);
                    } else {
                        self.pending = Some(row);
                        break;
                    }
                }
            }
        }
        self.closed.insert(key);
        Some(Ok(Unit::Group(group)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(keys: &[&str]) -> Vec<Result<Row, InputError>> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                Ok(Row {
                    line: i as u64 + 2,
                    cells: vec![k.to_string(), format!("v{i}")],
                    notes: Vec::new(),
                })
            })
            .collect()
    }

    fn groups(keys: &[&str], max: usize) -> Vec<(Vec<u64>, bool, bool, bool)> {
        Grouper::new(rows(keys).into_iter(), vec![0], max)
            .map(|u| match u {
                Ok(Unit::Group(g)) => (
                    g.rows.iter().map(|r| r.line).collect(),
                    g.reopened,
                    g.truncated,
                    g.no_key,
                ),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn consecutive_rows_with_one_key_form_one_group() {
        assert_eq!(
            groups(&["a", "a", "b", "c", "c"], 100),
            vec![
                (vec![2, 3], false, false, false),
                (vec![4], false, false, false),
                (vec![5, 6], false, false, false),
            ]
        );
    }

    #[test]
    fn a_key_coming_back_later_is_flagged_never_merged() {
        assert_eq!(
            groups(&["a", "b", "a"], 100),
            vec![
                (vec![2], false, false, false),
                (vec![3], false, false, false),
                (vec![4], true, false, false),
            ]
        );
    }

    #[test]
    fn oversized_groups_are_cut_and_flagged_and_empty_keys_stand_alone() {
        assert_eq!(
            groups(&["a", "a", "a", " ", " "], 2),
            vec![
                (vec![2, 3], false, true, false),
                (vec![4], true, false, false),
                (vec![5], false, false, true),
                (vec![6], false, false, true),
            ]
        );
    }
}
