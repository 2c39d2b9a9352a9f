//! The status vocabulary of `schemas/statuses.toml`: which statuses mean a
//! released result and which mean "not a result (yet)".
//!
//! Invariant: data only; loads its embedded table once.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::mapping::value_key;

const STATUSES: &str = include_str!("../../schemas/statuses.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusKind {
    Send,
    Skip,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusFile {
    send: Vec<String>,
    skip: Vec<String>,
}

fn table() -> &'static Result<HashMap<String, StatusKind>, String> {
    static CELL: OnceLock<Result<HashMap<String, StatusKind>, String>> = OnceLock::new();
    CELL.get_or_init(|| {
        let file: StatusFile = toml::from_str(STATUSES).map_err(|e| e.to_string())?;
        let mut map = HashMap::new();
        for (list, kind) in [
            (&file.send, StatusKind::Send),
            (&file.skip, StatusKind::Skip),
        ] {
            for wording in list {
                if map
                    .insert(value_key(wording), kind)
                    .is_some_and(|k| k != kind)
                {
                    return Err(format!("status {wording:?} has two meanings"));
                }
            }
        }
        Ok(map)
    })
}

/// The meaning of a status key (already [`value_key`]ed), if known.
pub(super) fn status_kind(key: &str) -> Option<StatusKind> {
    table().as_ref().ok()?.get(key).copied()
}

#[cfg(test)]
/// A defect of the embedded table (the tests assert there is none).
pub(crate) fn statuses_defect() -> Option<String> {
    table().as_ref().err().cloned()
}
