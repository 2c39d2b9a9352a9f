//! A lost or damaged ledger is refused, never silently taken as new; a new
//! one appears complete; the explicit fresh start keeps the old one aside.

use std::path::{Path, PathBuf};

use super::*;

fn with(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A ledger holding one claimed file, left open as a killed process
/// leaves it (no clean close: the records sit in its `-wal`).
fn killed_with_one_file(path: &Path) {
    let mut ledger = Ledger::open(path).unwrap();
    ledger
        .record_file(&NewFile {
            sha256: "ab",
            name: "lote.csv",
            inbox: Path::new("/srv/entrada"),
            work_path: Path::new("/srv/entrada/.rnds-drop/processando/lote.csv"),
        })
        .unwrap();
    std::mem::forget(ledger);
}

fn copy(from: &Path, to: &Path, suffixes: &[&str]) {
    for suffix in suffixes {
        std::fs::copy(with(from, suffix), with(to, suffix)).unwrap();
    }
}

#[test]
fn a_new_ledger_appears_complete_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registro.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let version: i64 = ledger
        .sqlite_conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, Ledger::schema_version());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "temporary file left: {names:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", ".in-use"] {
            let mode = std::fs::metadata(with(&path, suffix))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{suffix}");
        }
    }
    drop(ledger);
    assert!(!with(&path, ".in-use").exists(), "a clean close unmarks");
    assert!(Ledger::open(&path).is_ok());
}

#[test]
fn an_empty_ledger_file_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registro.sqlite");
    std::fs::write(&path, b"").unwrap();
    let err = Ledger::open(&path).err().unwrap();
    assert!(matches!(err, LedgerError::Emptied { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("vazio"), "{text}");
    assert!(text.contains("rnds-drop new-ledger"), "{text}");
    assert!(!text.contains("outro [ledger]"), "{text}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn a_file_without_our_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registro.sqlite");
    // What an older build left when its -wal was deleted: a WAL-mode
    // header, no tables.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .unwrap();
    drop(conn);
    assert!(std::fs::metadata(&path).unwrap().len() > 0);
    let err = Ledger::open(&path).err().unwrap();
    assert!(matches!(err, LedgerError::Incomplete { .. }), "{err}");
}

#[test]
fn a_ledger_whose_wal_was_deleted_after_a_kill_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registro.sqlite");
    killed_with_one_file(&path);

    // With its -wal the ledger opens and holds the record (the control).
    let intact = dir.path().join("intacto.sqlite");
    copy(&path, &intact, &["", "-wal", ".in-use"]);
    let ledger = Ledger::open(&intact).unwrap();
    assert_eq!(ledger.files_in_progress().unwrap().len(), 1);

    // Without it the record is gone: refused, not opened as a blank slate.
    let lost = dir.path().join("sem-wal.sqlite");
    copy(&path, &lost, &["", ".in-use"]);
    let err = Ledger::open(&lost).err().unwrap();
    assert!(matches!(err, LedgerError::WalLost { .. }), "{err}");
    assert!(err.to_string().contains("-wal"), "{err}");
    assert!(
        Ledger::open(&lost).is_err(),
        "still refused on the next try"
    );
}

#[test]
fn starting_fresh_keeps_the_old_ledger_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registro.sqlite");
    killed_with_one_file(&path);
    let damaged = dir.path().join("danificado.sqlite");
    copy(&path, &damaged, &["", ".in-use"]);
    assert!(Ledger::open(&damaged).is_err());

    let aside = Ledger::start_fresh(&damaged, "20261201T101500")
        .unwrap()
        .unwrap();
    assert!(aside.ends_with("danificado.sqlite.descartado-20261201T101500"));
    assert!(aside.exists());
    assert!(with(&aside, ".in-use").exists());
    let fresh = Ledger::open(&damaged).unwrap();
    assert!(fresh.files_in_progress().unwrap().is_empty());
}

#[test]
fn a_report_set_stays_unpublished_until_marked() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("registro.sqlite")).unwrap();
    let file = ledger
        .record_file(&NewFile {
            sha256: "ab",
            name: "lote.csv",
            inbox: Path::new("/srv/entrada"),
            work_path: Path::new("/srv/entrada/.rnds-drop/processando/lote.csv"),
        })
        .unwrap();
    let summary = Path::new("/srv/saida/lote.20261201T101500.resumo.json");
    let staging = Path::new("/srv/saida/.rnds-drop-staging/lote.20261201T101500");
    let report = ledger
        .begin_publish(file, "resumo", summary, staging)
        .unwrap();
    let open = ledger.unpublished_reports().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].staging, staging);
    assert_eq!(open[0].summary, summary);
    assert_eq!(open[0].file_id, file);
    ledger.end_publish(report).unwrap();
    assert!(ledger.unpublished_reports().unwrap().is_empty());
    let record = ledger.file(file).unwrap().unwrap();
    assert_eq!(
        record.reports,
        vec![("resumo".to_string(), summary.to_path_buf())]
    );
}

/// The refusal's advice must work: a backup taken after a clean close (no
/// `-wal` then) restored in place, plus what the message says to do, opens.
#[test]
fn restoring_a_backup_as_the_message_advises_opens_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registro.sqlite");
    drop(Ledger::open(&path).unwrap());
    let backup = dir.path().join("copia.sqlite");
    std::fs::copy(&path, &backup).unwrap();

    // The crash, then the -wal deleted (copied without it: the killed
    // connection still holds the originals open, which Windows refuses to
    // delete).
    let crashed = dir.path().join("parado.sqlite");
    killed_with_one_file(&crashed);
    std::fs::remove_file(&path).unwrap();
    copy(&crashed, &path, &["", ".in-use"]);
    let err = Ledger::open(&path).err().unwrap();
    assert!(matches!(err, LedgerError::WalLost { .. }), "{err}");

    std::fs::copy(&backup, &path).unwrap();
    let text = err.to_string();
    let mark = with(&path, ".in-use");
    assert!(
        text.contains(&mark.display().to_string()),
        "the advice must name the mark to remove after a restore: {text}"
    );
    std::fs::remove_file(&mark).unwrap();
    assert!(Ledger::open(&path).is_ok());
}

/// Two fresh starts within one second must not overwrite the ledger the
/// first one set aside.
#[test]
fn a_second_fresh_start_in_the_same_second_keeps_the_first_aside() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = dir.path().join("parado.sqlite");
    killed_with_one_file(&crashed);
    let path = dir.path().join("registro.sqlite");
    copy(&crashed, &path, &["", "-wal", ".in-use"]);
    let first = Ledger::start_fresh(&path, "20261201T101500")
        .unwrap()
        .unwrap();
    let second = Ledger::start_fresh(&path, "20261201T101500")
        .unwrap()
        .unwrap();
    assert_ne!(first, second);
    let kept = Ledger::open(&first).unwrap();
    assert_eq!(kept.files_in_progress().unwrap().len(), 1);
}
