//! The simulator's memory of accepted documents: which RNDS id is current
//! for each lab identifier, appended to a JSON-lines file and reloaded on
//! start. Each document is kept as its JSON line (the bundle as received,
//! not re-serialized), which is what `/_sim/documents` concatenates.
//!
//! Invariant: knows stored documents, not HTTP.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{SimError, StoredDocument};

struct Record {
    rnds_id: String,
    /// The document as one JSON object, without the newline.
    line: String,
}

pub(super) struct Store {
    records: Vec<Record>,
    /// lab identifier → index of its current document.
    current: HashMap<String, usize>,
    file: File,
    path: PathBuf,
}

/// Why a document cannot be stored.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The identifier already has a document and this is no replacement.
    Duplicate { current: String },
    /// A replacement for an identifier the simulator never accepted.
    UnknownIdentifier,
    /// A replacement whose target is not the identifier's current document.
    NotCurrent { target: String, current: String },
}

/// The fields of a stored line needed to rebuild the index.
#[derive(Deserialize)]
struct Keys {
    lab_id: String,
    rnds_id: String,
}

/// One stored document as a JSON line with exactly the keys of
/// [`StoredDocument`]. `bundle_json` must be one JSON value; a body that
/// spans lines is re-serialized compactly by the caller.
pub(super) fn document_line(
    lab_id: &str,
    rnds_id: &str,
    replaces: Option<&str>,
    profile: &str,
    received_at: &str,
    bundle_json: &str,
) -> String {
    let s = |v: &str| serde_json::Value::from(v).to_string();
    format!(
        "{{\"lab_id\":{},\"rnds_id\":{},\"replaces\":{},\"profile\":{},\"received_at\":{},\"bundle\":{}}}",
        s(lab_id),
        s(rnds_id),
        replaces.map_or_else(|| "null".to_string(), s),
        s(profile),
        s(received_at),
        bundle_json.trim()
    )
}

impl Store {
    /// Opens (creating) `path` and loads its documents. A line that does
    /// not parse (a crash mid-write) is skipped.
    pub(super) fn open(path: &Path) -> Result<Store, SimError> {
        let io = |source| SimError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut store = Store {
            records: Vec::new(),
            current: HashMap::new(),
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(io)?,
            path: path.to_path_buf(),
        };
        let reader = BufReader::new(File::open(path).map_err(io)?);
        for line in reader.lines() {
            let line = line.map_err(io)?;
            if let Ok(keys) = serde_json::from_str::<Keys>(&line) {
                store.remember(keys.lab_id, keys.rnds_id, line);
            }
        }
        Ok(store)
    }

    fn remember(&mut self, lab_id: String, rnds_id: String, line: String) {
        self.current.insert(lab_id, self.records.len());
        self.records.push(Record { rnds_id, line });
    }

    /// May a document for `lab_id` be stored? `replaces` is the RNDS id
    /// its `relatesTo` targets, which must be the identifier's current id.
    pub(super) fn admit(&self, lab_id: &str, replaces: Option<&str>) -> Result<(), Refusal> {
        match (self.current_id(lab_id), replaces) {
            (None, None) => Ok(()),
            (Some(current), None) => Err(Refusal::Duplicate {
                current: current.to_string(),
            }),
            (None, Some(_)) => Err(Refusal::UnknownIdentifier),
            (Some(current), Some(target)) if current == target => Ok(()),
            (Some(current), Some(target)) => Err(Refusal::NotCurrent {
                target: target.to_string(),
                current: current.to_string(),
            }),
        }
    }

    /// Stores an admitted document (`line` from [`document_line`]): appended
    /// to the file, then remembered.
    pub(super) fn insert(
        &mut self,
        lab_id: &str,
        rnds_id: &str,
        line: String,
    ) -> Result<(), SimError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file.write_all(&bytes).map_err(|source| SimError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.remember(lab_id.to_string(), rnds_id.to_string(), line);
        Ok(())
    }

    /// The current RNDS id of `lab_id`.
    pub(super) fn current_id(&self, lab_id: &str) -> Option<&str> {
        self.current
            .get(lab_id)
            .map(|&i| self.records[i].rnds_id.as_str())
    }

    /// Every document as a JSON array, oldest first.
    pub(super) fn documents_json(&self) -> String {
        let mut out =
            String::with_capacity(self.records.iter().map(|r| r.line.len() + 1).sum::<usize>() + 2);
        out.push('[');
        for (i, r) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&r.line);
        }
        out.push(']');
        out
    }

    /// Every document, parsed, oldest first.
    pub(super) fn documents(&self) -> Vec<StoredDocument> {
        self.records
            .iter()
            .filter_map(|r| serde_json::from_str(&r.line).ok())
            .collect()
    }
}
