//! SQLite-only behaviour of the ledger file (WAL, `PRAGMA user_version`).

use super::*;

fn open(dir: &std::path::Path) -> Ledger {
    Ledger::open(&dir.join("ledger.sqlite")).unwrap()
}

fn a_file(ledger: &mut Ledger, sha: &str) -> FileId {
    ledger
        .record_file(&NewFile {
            sha256: sha,
            name: "exames.csv",
            inbox: std::path::Path::new("/srv/entrada"),
            work_path: std::path::Path::new("/srv/entrada/.rnds-drop/processando/exames.csv"),
        })
        .unwrap()
}

fn send(ledger: &mut Ledger, lab_id: &str, file_id: FileId) {
    ledger
        .begin_sending(&[Intent {
            lab_id: lab_id.into(),
            content_hash: "h1".into(),
            file_id,
            line: 2,
            replaces: None,
            identity: Identity {
                subject_hash: "paciente".into(),
                exam_code: "94309-2".into(),
            },
        }])
        .unwrap();
    ledger
        .record_outcomes(&[(
            lab_id.into(),
            LedgerOutcome::Accepted {
                rnds_id: "rnds-1".into(),
            },
        )])
        .unwrap();
}

#[test]
fn migrations_from_empty_reach_the_latest_version_in_wal() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    let version: i64 = ledger
        .sqlite_conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, Ledger::schema_version());
    assert!(version >= 1);
    let mode: String = ledger
        .sqlite_conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    drop(Ledger::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", Ledger::schema_version() + 1)
        .unwrap();
    drop(conn);
    let err = Ledger::open(&path).err().unwrap();
    assert!(
        matches!(err, LedgerError::NewerSchema { found, .. } if found == Ledger::schema_version() + 1)
    );
    assert!(err.to_string().contains("atualize o rnds-drop"), "{err}");
}

#[test]
fn a_reader_is_not_blocked_by_an_open_write_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(dir.path());
    let f = a_file(&mut writer, "aa");
    send(&mut writer, "LAB-1", f);

    writer
        .sqlite_conn()
        .execute_batch("BEGIN IMMEDIATE")
        .unwrap();
    writer
        .sqlite_conn()
        .execute(
            "UPDATE results SET state = 'sending' WHERE lab_id = 'LAB-1'",
            [],
        )
        .unwrap();
    let reader = open(dir.path());
    // Sees the last committed state, without waiting for the writer.
    assert_eq!(
        reader.get("LAB-1").unwrap().unwrap().state,
        ResultState::Accepted
    );
    writer.sqlite_conn().execute_batch("COMMIT").unwrap();
    assert_eq!(
        reader.get("LAB-1").unwrap().unwrap().state,
        ResultState::Sending
    );
}
