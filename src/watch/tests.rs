use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::*;
use crate::config::{Inbox, InboxMode};

const SETTLE: Duration = Duration::from_millis(2000);

fn scanner(inbox: &Path) -> Scanner {
    Scanner::new(0, inbox, SETTLE).unwrap()
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

const CSV: &str = "id_exame;cns;resultado\nLAB-1;898001160059006;Detectável\n";

#[test]
fn hidden_temporary_and_lock_files_are_ignored() {
    for name in [
        ".oculto.csv",
        ".~lock.exames.xlsx#",
        "~$exames.xlsx",
        "exames.csv.tmp",
        "exames.xlsx.PART",
        "exames.csv.crdownload",
        ".rnds-drop",
    ] {
        assert!(
            super::rules::is_ignored_name(name),
            "{name} should be ignored"
        );
    }
    for name in [
        "exames.csv",
        "Exames 25-11.xlsx",
        "lote~1.csv",
        "tmp.csv",
        "partes.xlsx",
    ] {
        assert!(
            !super::rules::is_ignored_name(name),
            "{name} should be taken"
        );
    }
}

#[test]
fn a_file_becomes_ready_only_after_it_settles() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    fs::write(&file, CSV).unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();

    let first = scanner.poll(t0).unwrap();
    assert!(first.ready.is_empty());
    assert_eq!(first.next_check, Some(t0 + SETTLE));
    assert!(scanner.poll(t0 + SETTLE / 2).unwrap().ready.is_empty());
    assert_eq!(scanner.poll(t0 + SETTLE).unwrap().ready, [file]);
}

#[test]
fn a_file_still_growing_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    fs::write(&file, CSV).unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    for step in 1..=5u32 {
        append(&file, "LAB-2;898001160059006;Não detectável\n");
        let scan = scanner.poll(t0 + SETTLE * step).unwrap();
        assert!(scan.ready.is_empty(), "ready while growing at step {step}");
        assert_eq!(scan.next_check, Some(t0 + SETTLE * (step + 1)));
    }
    assert_eq!(scanner.poll(t0 + SETTLE * 6).unwrap().ready, [file]);
}

#[test]
fn an_empty_file_settles_like_any_other_and_is_claimed() {
    // Never left in the inbox silently: the service reads it and, still
    // empty on a second look, fails it with a report.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vazio.csv");
    fs::write(&file, "").unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    assert!(scanner.poll(t0).unwrap().ready.is_empty());
    assert_eq!(
        scanner.poll(t0 + SETTLE).unwrap().ready,
        std::slice::from_ref(&file)
    );
    let claimed = scanner.claim(&file).unwrap().expect("claimed");
    assert_eq!(claimed.look().unwrap().len, 0);
    assert!(!file.exists());
}

#[test]
fn reads_without_rows_are_counted_durably_per_version_and_cleared_on_finish() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bomba.csv");
    fs::write(&file, CSV).unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    scanner.poll(t0 + SETTLE).unwrap();
    let claimed = scanner.claim(&file).unwrap().expect("claimed");
    let look = claimed.look().unwrap();
    assert_eq!(claimed.begin_read(&look, 0).unwrap(), 0);
    assert_eq!(claimed.begin_read(&look, 0).unwrap(), 1);
    // A new process finds the count through its leftovers.
    let resumed = scanner.leftovers().unwrap().remove(0);
    assert_eq!(resumed.reads_without_rows(&look, 0), 2);
    resumed.clear_failed_reads();
    assert_eq!(claimed.reads_without_rows(&look, 0), 0);
    claimed.begin_read(&look, 0).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    claimed.finish(Disposition::Failed, day).unwrap();
    let markers = dir.path().join(".rnds-drop/tentativas");
    assert_eq!(fs::read_dir(markers).unwrap().count(), 0);
}

#[test]
fn a_finished_file_that_changed_is_taken_back_into_processando() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lote.csv");
    fs::write(&file, CSV).unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    scanner.poll(t0 + SETTLE).unwrap();
    let claimed = scanner.claim(&file).unwrap().expect("claimed");
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let stored = claimed.finish(Disposition::Processed, day).unwrap();
    append(&stored, "LAB-2;898001160059006;Não detectável\n");
    let again = claimed.reclaim(&stored).unwrap();
    assert!(!stored.exists());
    assert_eq!(again.original_name, "lote.csv");
    assert_eq!(
        again.work_path,
        dir.path().join(".rnds-drop/processando/lote.csv")
    );
    assert!(!again.resumed);
    assert!(fs::read_to_string(&again.work_path)
        .unwrap()
        .ends_with("Não detectável\n"));
}

#[test]
fn symlinks_fifos_folders_and_ignored_names_are_never_ready() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("entrada");
    fs::create_dir(&inbox).unwrap();
    let outside = dir.path().join("fora.csv");
    fs::write(&outside, CSV).unwrap();
    // Symlinks need a privilege and FIFOs do not exist on Windows: there
    // the folder and the ignored names are the non-candidates.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, inbox.join("link.csv")).unwrap();
        make_fifo(&inbox.join("fila.csv"));
    }
    fs::create_dir(inbox.join("subpasta.csv")).unwrap();
    for name in [".oculto.csv", "~$exames.xlsx", "exames.csv.part"] {
        fs::write(inbox.join(name), CSV).unwrap();
    }
    fs::write(inbox.join("exames.csv"), CSV).unwrap();

    let mut scanner = scanner(&inbox);
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    let scan = scanner.poll(t0 + SETTLE).unwrap();
    assert_eq!(names(&scan.ready), ["exames.csv"]);
    // Only the regular file is tracked: nothing else is waiting to settle.
    assert_eq!(scanner.poll(t0 + SETTLE * 2).unwrap().next_check, None);
}

#[test]
fn claiming_renames_into_processando() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    fs::write(&file, CSV).unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    scanner.poll(t0 + SETTLE).unwrap();
    let claimed = scanner.claim(&file).unwrap().unwrap();
    assert_eq!(claimed.original_name, "exames.csv");
    assert_eq!(
        claimed.work_path,
        dir.path().join(".rnds-drop/processando/exames.csv")
    );
    assert!(!claimed.resumed);
    assert!(!file.exists());
    assert_eq!(fs::read_to_string(&claimed.work_path).unwrap(), CSV);
    // The claimed file is no longer in the inbox listing.
    assert!(scanner.poll(t0 + SETTLE * 2).unwrap().ready.is_empty());
}

#[test]
fn a_file_changed_after_it_was_found_ready_is_not_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    fs::write(&file, CSV).unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    scanner.poll(t0 + SETTLE).unwrap();
    append(&file, "LAB-3;898001160059006;Detectável\n");
    assert_eq!(scanner.claim(&file).unwrap(), None);
    assert!(file.exists());
}

#[test]
fn a_file_replaced_by_another_of_the_same_size_and_time_settles_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    fs::write(&file, CSV).unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    // Another file, same length and mtime, renamed over the name (a copy
    // tool replacing it): only its identity (inode / file index) differs.
    let other = dir.path().join("novo.csv.tmp");
    fs::write(&other, CSV).unwrap();
    let mtime = fs::metadata(&file).unwrap().modified().unwrap();
    fs::File::options()
        .write(true)
        .open(&other)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fs::rename(&other, &file).unwrap();
    assert!(scanner.poll(t0 + SETTLE).unwrap().ready.is_empty());
    assert_eq!(
        names(&scanner.poll(t0 + SETTLE * 2).unwrap().ready),
        ["exames.csv"]
    );
}

/// Windows only: Excel keeps a workbook open without delete sharing, so the
/// claim rename fails; the file is "not yet", never an error, and is taken
/// once closed. (On Unix an open file can always be renamed.)
#[cfg(windows)]
#[test]
fn a_file_held_open_by_another_program_is_claimed_once_closed() {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_SHARE_READ: u32 = 1;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    fs::write(&file, CSV).unwrap();
    let excel = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .share_mode(FILE_SHARE_READ)
        .open(&file)
        .unwrap();
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    assert_eq!(
        names(&scanner.poll(t0 + SETTLE).unwrap().ready),
        ["exames.csv"]
    );
    let logs = captured_logs(|| assert_eq!(scanner.claim(&file).unwrap(), None));
    assert!(logs.contains("aberto em outro programa"), "{logs}");
    assert!(file.exists());
    drop(excel);
    scanner.poll(t0 + SETTLE * 2).unwrap();
    assert_eq!(
        names(&scanner.poll(t0 + SETTLE * 3).unwrap().ready),
        ["exames.csv"]
    );
    assert!(scanner.claim(&file).unwrap().is_some());
}

fn claim_now(scanner: &mut Scanner, file: &Path) -> ClaimedFile {
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    scanner.poll(t0 + SETTLE).unwrap();
    scanner.claim(file).unwrap().unwrap()
}

#[test]
fn finishing_never_overwrites_and_files_by_day() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    let mut scanner = scanner(dir.path());
    let day = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();

    let mut stored = Vec::new();
    for round in 0..3 {
        fs::write(&file, format!("{CSV}round {round}\n")).unwrap();
        let claimed = claim_now(&mut scanner, &file);
        stored.push(claimed.finish(Disposition::Processed, day).unwrap());
    }
    let folder = dir.path().join(".rnds-drop/processados/2026/11/05");
    assert_eq!(
        stored,
        [
            folder.join("exames.csv"),
            folder.join("exames (2).csv"),
            folder.join("exames (3).csv")
        ]
    );
    assert!(fs::read_to_string(&stored[2])
        .unwrap()
        .ends_with("round 2\n"));

    fs::write(&file, CSV).unwrap();
    let failed = claim_now(&mut scanner, &file)
        .finish(Disposition::Failed, day)
        .unwrap();
    assert_eq!(failed, dir.path().join(".rnds-drop/falhas/exames.csv"));
}

#[test]
fn a_name_clash_in_processando_gets_a_suffix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    let mut scanner = scanner(dir.path());
    fs::write(&file, "primeira versão\n").unwrap();
    let first = claim_now(&mut scanner, &file);
    fs::write(&file, "segunda versão\n").unwrap();
    let second = claim_now(&mut scanner, &file);
    assert_eq!(second.original_name, "exames.csv");
    assert_eq!(
        second.work_path,
        dir.path().join(".rnds-drop/processando/exames (2).csv")
    );
    assert_eq!(
        fs::read_to_string(&first.work_path).unwrap(),
        "primeira versão\n"
    );
}

#[test]
fn a_missing_inbox_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Scanner::new(0, &dir.path().join("não-existe"), SETTLE).unwrap_err();
    assert!(matches!(err, WatchError::InboxMissing { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn a_work_folder_on_another_volume_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    // Another volume without privileges: the tmpfs at /dev/shm.
    let other = match tempfile::tempdir_in("/dev/shm") {
        Ok(other) => other,
        Err(e) => return crate::test_skip::skipped(&format!("no folder in /dev/shm ({e})")),
    };
    if fs::metadata(other.path()).unwrap().dev() == fs::metadata(dir.path()).unwrap().dev() {
        return crate::test_skip::skipped("/dev/shm is on the temp dir's volume");
    }
    std::os::unix::fs::symlink(other.path(), dir.path().join(".rnds-drop")).unwrap();
    let err = Scanner::new(0, dir.path(), SETTLE).unwrap_err();
    assert!(matches!(err, WatchError::OtherVolume { .. }), "{err}");
    assert!(err.to_string().contains("mesmo disco"));
}

fn inbox_config(path: &Path, mode: InboxMode, settle_ms: u64) -> Inbox {
    Inbox {
        path: path.to_path_buf(),
        outbox: path.with_extension("saida"),
        mode,
        settle_ms,
        sheet: None,
        columns: Default::default(),
        exam_codes: Default::default(),
        defaults: None,
        layout: None,
        values: Default::default(),
        select: Default::default(),
        targets: Vec::new(),
        analytes: None,
        compose: Default::default(),
        date_only: Vec::new(),
    }
}

/// Long enough that a test passing before it proves something else woke
/// the scan.
const NEVER: Duration = Duration::from_secs(3600);

async fn next_within(inboxes: &mut Inboxes, limit: Duration) -> ClaimedFile {
    tokio::time::timeout(limit, inboxes.next_ready())
        .await
        .expect("no file became ready")
}

#[tokio::test]
async fn leftovers_in_processando_are_returned_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = tempfile::tempdir().unwrap();
    let processing = dir.path().join(".rnds-drop/processando");
    fs::create_dir_all(&processing).unwrap();
    fs::write(processing.join("interrompido.csv"), CSV).unwrap();
    fs::write(dir.path().join("novo.csv"), CSV).unwrap();
    let settings = WatchSettings {
        scan_interval: NEVER,
        poll_period: Duration::from_millis(20),
    };
    let config = [
        inbox_config(first.path(), InboxMode::Poll, 10),
        inbox_config(dir.path(), InboxMode::Poll, 10),
    ];
    let mut inboxes = Inboxes::new(&config, settings).unwrap();

    let resumed = next_within(&mut inboxes, Duration::from_secs(10)).await;
    assert!(resumed.resumed);
    assert_eq!(resumed.inbox_index, 1);
    assert_eq!(resumed.work_path, processing.join("interrompido.csv"));
    let fresh = next_within(&mut inboxes, Duration::from_secs(10)).await;
    assert!(!fresh.resumed);
    assert_eq!(fresh.original_name, "novo.csv");
    assert_eq!(fresh.work_path, processing.join("novo.csv"));
}

#[tokio::test]
async fn a_file_event_wakes_a_scan_before_the_interval_in_watch_mode() {
    let dir = tempfile::tempdir().unwrap();
    let settings = WatchSettings {
        scan_interval: NEVER,
        poll_period: NEVER,
    };
    let mut inboxes =
        Inboxes::new(&[inbox_config(dir.path(), InboxMode::Watch, 50)], settings).unwrap();
    // The start-up scan finds nothing; only the event can wake the next one.
    let waiting = tokio::time::timeout(Duration::from_millis(200), inboxes.next_ready()).await;
    assert!(waiting.is_err());
    fs::write(dir.path().join("exames.csv"), CSV).unwrap();
    let claimed = next_within(&mut inboxes, Duration::from_secs(20)).await;
    assert_eq!(claimed.original_name, "exames.csv");
}

#[tokio::test]
async fn poll_mode_finds_a_file_without_events() {
    let dir = tempfile::tempdir().unwrap();
    let settings = WatchSettings {
        scan_interval: NEVER,
        poll_period: Duration::from_millis(50),
    };
    let mut inboxes =
        Inboxes::new(&[inbox_config(dir.path(), InboxMode::Poll, 50)], settings).unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(200), inboxes.next_ready()).await;
    assert!(waiting.is_err());
    fs::write(dir.path().join("exames.csv"), CSV).unwrap();
    let claimed = next_within(&mut inboxes, Duration::from_secs(20)).await;
    assert_eq!(claimed.original_name, "exames.csv");
    assert!(claimed.work_path.exists());
}

#[tokio::test]
async fn a_file_being_written_is_not_claimed_until_it_settles() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exames.csv");
    let settings = WatchSettings {
        scan_interval: NEVER,
        poll_period: Duration::from_millis(20),
    };
    let mut inboxes =
        Inboxes::new(&[inbox_config(dir.path(), InboxMode::Poll, 1500)], settings).unwrap();
    fs::write(&file, CSV).unwrap();
    let writer = std::thread::spawn({
        let file = file.clone();
        move || {
            for i in 0..10 {
                std::thread::sleep(Duration::from_millis(50));
                append(&file, &format!("LAB-{i};898001160059006;Detectável\n"));
            }
        }
    });
    let claimed = next_within(&mut inboxes, Duration::from_secs(30)).await;
    writer.join().unwrap();
    // Every append happened before the claim: the file was complete.
    let text = fs::read_to_string(&claimed.work_path).unwrap();
    assert!(
        text.ends_with("LAB-9;898001160059006;Detectável\n"),
        "{text}"
    );
}

/// Log lines written while `f` runs.
fn captured_logs(f: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = sink.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[cfg(unix)]
#[test]
fn a_non_regular_file_is_warned_about_once_per_path() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("alvo.txt.tmp"), CSV).unwrap();
    std::os::unix::fs::symlink(dir.path().join("alvo.txt.tmp"), dir.path().join("link.csv"))
        .unwrap();
    make_fifo(&dir.path().join("fila.csv"));
    let mut scanner = scanner(dir.path());
    let t0 = Instant::now();
    let logs = captured_logs(|| {
        for step in 0..4 {
            scanner.poll(t0 + SETTLE * step).unwrap();
        }
    });
    assert_eq!(logs.matches("link simbólico").count(), 1, "{logs}");
    assert_eq!(logs.matches("FIFO").count(), 1, "{logs}");
    assert!(
        logs.contains("link.csv") && logs.contains("fila.csv"),
        "{logs}"
    );
    // Ignored names are skipped silently.
    assert!(!logs.contains("alvo.txt.tmp"), "{logs}");
}

#[cfg(unix)]
fn make_fifo(path: &Path) {
    use rustix::fs::{mkfifoat, Mode, CWD};
    mkfifoat(CWD, path, Mode::RUSR | Mode::WUSR).unwrap();
}

#[test]
fn only_spreadsheets_are_ready_and_not_while_libreoffice_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("entrada");
    fs::create_dir(&inbox).unwrap();
    for name in [
        "pfx.senha",
        "notas.pdf",
        "sem-extensao",
        "~$exames.xlsx",
        "exames.CSV",
        "lote.txt",
        "planilha.XLSX",
        "calc.ods",
        "aberta.xlsx",
        "certificado.PFX",
        "chave.key",
        "rnds-drop.toml",
        "antigo.XLS",
        "macros.xlsm",
        "binaria.xlsb",
        "pagina.htm",
        "pagina.Html",
    ] {
        fs::write(inbox.join(name), CSV).unwrap();
    }
    // LibreOffice's lock beside a workbook it has open.
    let lock = inbox.join(".~lock.aberta.xlsx#");
    fs::write(&lock, ",usuario,host,07.12.2026 10:00,file:///home;\n").unwrap();

    let mut scanner = scanner(&inbox);
    let t0 = Instant::now();
    scanner.poll(t0).unwrap();
    let scan = scanner.poll(t0 + SETTLE).unwrap();
    assert_eq!(
        names(&scan.ready),
        [
            "antigo.XLS",
            "binaria.xlsb",
            "calc.ods",
            "exames.CSV",
            "lote.txt",
            "macros.xlsm",
            "pagina.Html",
            "pagina.htm",
            "planilha.XLSX"
        ]
    );
    fs::remove_file(&lock).unwrap();
    let scan = scanner.poll(t0 + SETTLE * 2).unwrap();
    assert!(names(&scan.ready).contains(&"aberta.xlsx".to_string()));
}

/// Review finding 1: back from several instances to one process, the files
/// an instance left in `processando/<instance>/` are resumed by the lone
/// process (nobody else would finish them); its own leftovers too.
#[test]
fn a_lone_process_resumes_what_instances_left_in_their_folders() {
    let dir = tempfile::tempdir().unwrap();
    let scanner = scanner(dir.path());
    let processing = dir.path().join(".rnds-drop").join("processando");
    fs::create_dir_all(processing.join("servidor-1")).unwrap();
    fs::write(processing.join("servidor-1").join("meio.csv"), CSV).unwrap();
    fs::write(processing.join("proprio.csv"), CSV).unwrap();
    let resumed: Vec<PathBuf> = scanner
        .leftovers()
        .unwrap()
        .into_iter()
        .map(|c| c.work_path)
        .collect();
    assert_eq!(
        resumed,
        vec![
            processing.join("proprio.csv"),
            processing.join("servidor-1").join("meio.csv"),
        ]
    );
}
