//! The simulator's memory of accepted documents: which RNDS id is current
//! for each lab identifier, appended to a JSON-lines file and reloaded on
//! start.
//!
//! Invariant: knows stored documents, not HTTP.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::{SimError, StoredDocument};

pub struct Store {
    documents: Vec<StoredDocument>,
    /// lab identifier → index of its current document.
    current: HashMap<String, usize>,
    file: File,
    path: PathBuf,
}

/// Why a document cannot be stored.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The identifier already has a document and this is no replacement.
    Duplicate { current: String },
    /// A replacement for an identifier the simulator never accepted.
    UnknownIdentifier,
    /// A replacement whose target is not the identifier's current document.
    NotCurrent { target: String, current: String },
}

impl Store {
    /// Opens (creating) `path` and loads its documents. A line that does
    /// not parse (a crash mid-write) is skipped.
    pub fn open(path: &Path) -> Result<Store, SimError> {
        let io = |source| SimError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut store = Store {
            documents: Vec::new(),
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
            if let Ok(doc) = serde_json::from_str::<StoredDocument>(&line) {
                store.remember(doc);
            }
        }
        Ok(store)
    }

    fn remember(&mut self, doc: StoredDocument) {
        let index = self.documents.len();
        self.current.insert(doc.lab_id.clone(), index);
        self.documents.push(doc);
    }

    /// May a document for `lab_id` be stored? `replaces` is the RNDS id
    /// its `relatesTo` targets, which must be the identifier's current id.
    pub fn admit(&self, lab_id: &str, replaces: Option<&str>) -> Result<(), Refusal> {
        let current = self
            .current
            .get(lab_id)
            .map(|&i| self.documents[i].rnds_id.as_str());
        match (current, replaces) {
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

    /// Stores an admitted document: in memory, and appended to the file.
    pub fn insert(&mut self, doc: StoredDocument) -> Result<(), SimError> {
        let mut line = serde_json::to_vec(&doc).map_err(|e| SimError::Io {
            path: self.path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|source| SimError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.remember(doc);
        Ok(())
    }

    /// The current RNDS id of `lab_id`.
    pub fn current_id(&self, lab_id: &str) -> Option<&str> {
        self.current
            .get(lab_id)
            .map(|&i| self.documents[i].rnds_id.as_str())
    }

    pub fn documents(&self) -> &[StoredDocument] {
        &self.documents
    }
}
