//! Versioned schema: `PRAGMA user_version` is the number of migrations
//! applied; each migration runs in its own transaction with the version bump.

use std::path::Path;

use rusqlite::Connection;

use super::LedgerError;

/// Ordered migrations; index + 1 is the version they bring the file to.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: files, their reports, results per lab id, accepted versions.
    "CREATE TABLE files (
        id          INTEGER PRIMARY KEY,
        sha256      TEXT NOT NULL,
        name        TEXT NOT NULL,
        inbox       TEXT NOT NULL,
        work_path   TEXT NOT NULL,
        stored_path TEXT,
        claimed_at  TEXT NOT NULL,
        finished_at TEXT,
        state       TEXT NOT NULL CHECK (state IN ('processing', 'processed', 'failed'))
    );
    CREATE INDEX files_by_sha256 ON files (sha256);
    CREATE TABLE file_reports (
        id         INTEGER PRIMARY KEY,
        file_id    INTEGER NOT NULL REFERENCES files (id),
        kind       TEXT NOT NULL,
        path       TEXT NOT NULL,
        written_at TEXT NOT NULL
    );
    CREATE INDEX file_reports_by_file ON file_reports (file_id);
    CREATE TABLE results (
        lab_id        TEXT PRIMARY KEY,
        content_hash  TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN
                      ('sending', 'accepted', 'accepted_id_unknown', 'rejected', 'pending', 'unknown')),
        rnds_id       TEXT,
        replaces      TEXT,
        accepted_hash TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        file_id       INTEGER NOT NULL REFERENCES files (id),
        line          INTEGER NOT NULL,
        updated_at    TEXT NOT NULL,
        sent_at       TEXT
    ) WITHOUT ROWID;
    CREATE INDEX results_open ON results (state) WHERE state IN ('sending', 'unknown', 'pending');
    CREATE INDEX results_by_file ON results (file_id);
    CREATE TABLE result_history (
        id           INTEGER PRIMARY KEY,
        lab_id       TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        rnds_id      TEXT,
        replaces     TEXT,
        file_id      INTEGER NOT NULL REFERENCES files (id),
        line         INTEGER NOT NULL,
        accepted_at  TEXT NOT NULL
    );
    CREATE INDEX result_history_by_lab_id ON result_history (lab_id);",
    // 2: a report set being published: `staging` is the hidden folder its
    // complete files wait in until they are all moved into the outbox
    // (NULL once published). Recorded before the first move, so a restart
    // finishes the set instead of writing a second one.
    "ALTER TABLE file_reports ADD COLUMN staging TEXT;",
    // 3: indexes for `status` and `/metrics` (read while the service
    // writes): rows per state and per file per state, and acceptances
    // since an instant, without scanning every row.
    "CREATE INDEX results_by_state_file ON results (state, file_id);
    CREATE INDEX result_history_by_accepted_at ON result_history (accepted_at);",
    // 4: which result a lab id names: a keyed hash of the patient's CNS
    // (never the number) and the exam code, so a reused lab id is never
    // sent as a replacement of another patient's or exam's result. Rows
    // written before stay NULL until a re-drop of their exact content
    // shows them (`Ledger::learn_identity`). The key is random per ledger.
    "ALTER TABLE results ADD COLUMN subject_hash TEXT;
    ALTER TABLE results ADD COLUMN exam_code TEXT;
    CREATE TABLE identity_key (key BLOB NOT NULL);
    INSERT INTO identity_key (key) VALUES (randomblob(32));",
    // 5: invalid rows waiting in an errors report, by lab id, until a later
    // file brings that lab id valid (`since`: when it was first refused);
    // and what the service learnt that `status` cannot read on its own
    // (`certificate`: the PFX's public part, read with the password).
    "CREATE TABLE invalid_rows (
        lab_id  TEXT PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files (id),
        line    INTEGER NOT NULL,
        since   TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX invalid_rows_by_file ON invalid_rows (file_id);
    CREATE TABLE service_state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 6: invalid rows without a lab id, by file and line (no correction
    // can be matched to them by id): kept until a later file of the same
    // name, or its errors report, is dropped.
    "CREATE TABLE invalid_rows_without_id (
        file_id INTEGER NOT NULL REFERENCES files (id),
        line    INTEGER NOT NULL,
        since   TEXT NOT NULL,
        PRIMARY KEY (file_id, line)
    ) WITHOUT ROWID;",
];

pub(super) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = latest_version();
    if found > known {
        return Err(LedgerError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = index as i64 + 1;
        let step = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            // user_version lives in the file header, written by this same
            // transaction: a crash leaves either both or neither.
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        step(conn).map_err(|source| LedgerError::Migration { version, source })?;
    }
    Ok(())
}
