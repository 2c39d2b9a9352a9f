//! Invalid rows still waiting in an errors report, and the certificate as
//! the service read it. A refused row is kept by its lab id until a later
//! file brings that lab id valid (whatever RNDS then answers): the result
//! that would otherwise never arrive stays visible to `status`, `/metrics`
//! and `[alertas]`. Rows without a lab id cannot be matched with their
//! correction: they are kept by file and line until a later file of the
//! same name (or its errors report) is dropped.

use rusqlite::params;

use super::{now_text, FileId, LedgerError, SqliteLedger};

/// `service_state` key of the certificate the service loaded.
pub(super) const CERTIFICATE_KEY: &str = "certificate";

impl SqliteLedger {
    /// One chunk's verdicts: `invalid` (lab id, line) rows wait from now on
    /// (a lab id already waiting keeps its first date and points at this
    /// file); `valid` lab ids are no longer waiting; the invalid rows
    /// `without_id` (their lines) wait by file and line.
    pub(crate) fn note_row_validity(
        &mut self,
        file: FileId,
        invalid: &[(String, u64)],
        valid: &[&str],
        without_id: &[u64],
    ) -> Result<(), LedgerError> {
        if invalid.is_empty() && valid.is_empty() && without_id.is_empty() {
            return Ok(());
        }
        let now = now_text();
        let tx = self.conn.transaction()?;
        {
            let mut corrected = tx.prepare_cached("DELETE FROM invalid_rows WHERE lab_id = ?1")?;
            for lab_id in valid {
                corrected.execute([lab_id])?;
            }
            let mut waiting = tx.prepare_cached(
                "INSERT INTO invalid_rows (lab_id, file_id, line, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (lab_id) DO UPDATE SET file_id = excluded.file_id,
                                                    line = excluded.line",
            )?;
            for (lab_id, line) in invalid {
                let line = i64::try_from(*line).unwrap_or(i64::MAX);
                waiting.execute(params![lab_id, file.0, line, now])?;
            }
            let mut unmatched = tx.prepare_cached(
                "INSERT OR IGNORE INTO invalid_rows_without_id (file_id, line, since)
                 VALUES (?1, ?2, ?3)",
            )?;
            for line in without_id {
                let line = i64::try_from(*line).unwrap_or(i64::MAX);
                unmatched.execute(params![file.0, line, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A file just recorded as `file` replaces the earlier files for which
    /// `replaces(name)` holds (the same name, or its errors report): their
    /// invalid rows without a lab id no longer wait.
    pub(crate) fn drop_rows_without_id_replaced_by(
        &mut self,
        file: FileId,
        replaces: impl Fn(&str) -> bool,
    ) -> Result<(), LedgerError> {
        let tx = self.conn.transaction()?;
        let earlier: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(
                "SELECT DISTINCT u.file_id, f.name FROM invalid_rows_without_id u
                 JOIN files f ON f.id = u.file_id WHERE u.file_id <> ?1",
            )?;
            let rows = stmt.query_map([file.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (id, name) in earlier {
            if replaces(&name) {
                tx.execute(
                    "DELETE FROM invalid_rows_without_id WHERE file_id = ?1",
                    [id],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Keeps what the service read from the certificate (its public part,
    /// as JSON), for `status` run without the PFX password.
    pub(crate) fn record_certificate(&mut self, public_part: &str) -> Result<(), LedgerError> {
        self.conn.execute(
            "INSERT INTO service_state (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                             updated_at = excluded.updated_at",
            params![CERTIFICATE_KEY, public_part, now_text()],
        )?;
        Ok(())
    }
}
