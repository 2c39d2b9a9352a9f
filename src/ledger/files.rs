//! The life cycle of a file taken from an inbox.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Row};

use super::{now_text, LedgerError, SqliteLedger};

/// Row id of a file in the ledger. Files are never deleted from the
/// ledger, so ids grow with admission: a larger id is a later admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FileId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// Claimed; its rows are being sent.
    Processing,
    /// Every row reached a final state (or was reported pending).
    Processed,
    /// The file could not be read.
    Failed,
}

impl FileState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            FileState::Processing => "processing",
            FileState::Processed => "processed",
            FileState::Failed => "failed",
        }
    }

    pub(super) fn parse(text: &str) -> Result<FileState, LedgerError> {
        Ok(match text {
            "processing" => FileState::Processing,
            "processed" => FileState::Processed,
            "failed" => FileState::Failed,
            other => return Err(LedgerError::Corrupt(format!("files.state = {other:?}"))),
        })
    }
}

/// Row id of a report set in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReportId(pub i64);

/// A report set recorded by [`Ledger::begin_publish`](super::Ledger::begin_publish) and not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnpublishedReport {
    pub id: ReportId,
    pub file_id: FileId,
    pub kind: String,
    /// Final path of its summary.
    pub summary: PathBuf,
    /// The hidden folder holding the files not moved yet.
    pub staging: PathBuf,
}

/// A file just claimed.
#[derive(Debug, Clone)]
pub(crate) struct NewFile<'a> {
    /// Hex SHA-256 of the file's bytes.
    pub sha256: &'a str,
    /// Name as the lab dropped it.
    pub name: &'a str,
    /// The inbox folder it came from.
    pub inbox: &'a Path,
    /// Where it lies while being processed.
    pub work_path: &'a Path,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileRecord {
    pub id: FileId,
    pub sha256: String,
    pub name: String,
    pub inbox: PathBuf,
    pub work_path: PathBuf,
    /// Where it was moved when finished.
    pub stored_path: Option<PathBuf>,
    pub claimed_at: String,
    pub finished_at: Option<String>,
    pub state: FileState,
    /// `(kind, path)` of the reports written for it, oldest first.
    pub reports: Vec<(String, PathBuf)>,
}

const FILE_COLUMNS: &str =
    "id, sha256, name, inbox, work_path, stored_path, claimed_at, finished_at, state";

pub(super) fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn file_from_row(row: &Row<'_>) -> rusqlite::Result<(FileRecord, String)> {
    Ok((
        FileRecord {
            id: FileId(row.get(0)?),
            sha256: row.get(1)?,
            name: row.get(2)?,
            inbox: PathBuf::from(row.get::<_, String>(3)?),
            work_path: PathBuf::from(row.get::<_, String>(4)?),
            stored_path: row.get::<_, Option<String>>(5)?.map(PathBuf::from),
            claimed_at: row.get(6)?,
            finished_at: row.get(7)?,
            state: FileState::Processing, // set by the caller after parsing
            reports: Vec::new(),
        },
        row.get(8)?,
    ))
}

impl SqliteLedger {
    /// Records a claimed file (state `processing`).
    pub(crate) fn record_file(&mut self, file: &NewFile<'_>) -> Result<FileId, LedgerError> {
        self.conn.execute(
            "INSERT INTO files (sha256, name, inbox, work_path, claimed_at, state)
             VALUES (?1, ?2, ?3, ?4, ?5, 'processing')",
            params![
                file.sha256,
                file.name,
                path_text(file.inbox),
                path_text(file.work_path),
                now_text()
            ],
        )?;
        Ok(FileId(self.conn.last_insert_rowid()))
    }

    /// When file `id` was claimed (`None`: no such file, or a time this
    /// version cannot read).
    pub(crate) fn file_claimed_at(
        &self,
        id: FileId,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, LedgerError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT claimed_at FROM files WHERE id = ?1",
                params![id.0],
                |row| row.get(0),
            )
            .optional()?;
        Ok(text
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|at| at.to_utc()))
    }

    /// Marks a file finished and records where it was moved.
    pub(crate) fn finish_file(
        &mut self,
        id: FileId,
        state: FileState,
        stored_path: &Path,
    ) -> Result<(), LedgerError> {
        self.conn.execute(
            "UPDATE files SET state = ?2, stored_path = ?3, finished_at = ?4 WHERE id = ?1",
            params![id.0, state.as_str(), path_text(stored_path), now_text()],
        )?;
        Ok(())
    }

    #[cfg(test)]
    /// Records a report written for a file (`kind` e.g. `resumo`, `erros`,
    /// `enviados`, `acompanhamento`).
    pub(crate) fn add_report(
        &mut self,
        id: FileId,
        kind: &str,
        path: &Path,
    ) -> Result<(), LedgerError> {
        self.conn.execute(
            "INSERT INTO file_reports (file_id, kind, path, written_at) VALUES (?1, ?2, ?3, ?4)",
            params![id.0, kind, path_text(path), now_text()],
        )?;
        Ok(())
    }

    /// Records that the complete report set in `staging` is about to be
    /// moved into place (its summary to `path`): before the first move, so
    /// that a crash in the middle is finished on the next start
    /// ([`Ledger::unpublished_reports`](super::Ledger::unpublished_reports)) rather than reported again.
    pub(crate) fn begin_publish(
        &mut self,
        id: FileId,
        kind: &str,
        path: &Path,
        staging: &Path,
    ) -> Result<ReportId, LedgerError> {
        self.conn.execute(
            "INSERT INTO file_reports (file_id, kind, path, written_at, staging)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id.0, kind, path_text(path), now_text(), path_text(staging)],
        )?;
        Ok(ReportId(self.conn.last_insert_rowid()))
    }

    /// Every file of the set is in place.
    pub(crate) fn end_publish(&mut self, report: ReportId) -> Result<(), LedgerError> {
        self.conn.execute(
            "UPDATE file_reports SET staging = NULL WHERE id = ?1",
            params![report.0],
        )?;
        Ok(())
    }

    /// Report sets whose publication a crash interrupted, oldest first.
    pub(crate) fn unpublished_reports(&self) -> Result<Vec<UnpublishedReport>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, file_id, kind, path, staging FROM file_reports
             WHERE staging IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UnpublishedReport {
                id: ReportId(r.get(0)?),
                file_id: FileId(r.get(1)?),
                kind: r.get(2)?,
                summary: PathBuf::from(r.get::<_, String>(3)?),
                staging: PathBuf::from(r.get::<_, String>(4)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    #[cfg(test)]
    /// The most recent file with these bytes.
    pub(crate) fn file_by_sha256(&self, sha256: &str) -> Result<Option<FileRecord>, LedgerError> {
        self.file_where("sha256 = ?1", sha256)
    }

    pub(crate) fn file(&self, id: FileId) -> Result<Option<FileRecord>, LedgerError> {
        self.file_where("id = ?1", id.0)
    }

    /// The latest file recorded before `before` with the same name from
    /// the same inbox (a writer that reopened a claimed file by name).
    pub(crate) fn earlier_file_named(
        &self,
        before: FileId,
        name: &str,
        inbox: &Path,
    ) -> Result<Option<FileRecord>, LedgerError> {
        let id: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM files WHERE name = ?1 AND inbox = ?2 AND id < ?3
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![name, path_text(inbox), before.0], |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => self.file(FileId(id)),
            None => Ok(None),
        }
    }

    /// Files still `processing` (claimed before a stop), oldest first.
    pub(crate) fn files_in_progress(&self) -> Result<Vec<FileRecord>, LedgerError> {
        let ids: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id FROM files WHERE state = 'processing' ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut files = Vec::with_capacity(ids.len());
        for id in ids {
            files.extend(self.file(FileId(id))?);
        }
        Ok(files)
    }

    fn file_where<P: rusqlite::ToSql>(
        &self,
        condition: &str,
        param: P,
    ) -> Result<Option<FileRecord>, LedgerError> {
        let found = {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE {condition} ORDER BY id DESC LIMIT 1"
            ))?;
            stmt.query_row([param], file_from_row).optional()?
        };
        let Some((mut record, state)) = found else {
            return Ok(None);
        };
        record.state = FileState::parse(&state)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, path FROM file_reports WHERE file_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([record.id.0], |r| {
            Ok((
                r.get::<_, String>(0)?,
                PathBuf::from(r.get::<_, String>(1)?),
            ))
        })?;
        record.reports = rows.collect::<rusqlite::Result<_>>()?;
        Ok(Some(record))
    }
}
