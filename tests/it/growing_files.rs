//! Files that are still being written, empty files and files that keep
//! failing, against the real binary (`rnds-drop run`) and the simulator:
//! a writer pausing longer than `settle_ms` (between rows, or in the middle
//! of one) loses no row and never has a half row sent; a file written to
//! after it reached `processados/` is read again; an empty file and a file
//! whose reading was interrupted twice end in `falhas/` with a reason.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::service::demo::{drop_file, report_of, write_workspace_config, Workspace};
use rnds_drop::simulator::{self, SimOptions, Simulator};
use rnds_drop::watch::Scanner;

/// The inbox's `settle_ms` in these tests. A file is complete only after
/// ten times this without change once it was seen changing after its claim.
const SETTLE_MS: u64 = 200;

/// Pauses of the slow writers: longer than `settle_ms` (so the file is
/// claimed mid-write), shorter than ten times it.
const PAUSE: Duration = Duration::from_millis(1_000);

const CNS: [&str; 5] = [
    "759010928159013",
    "939548620579868",
    "782880729022279",
    "918058887180334",
    "146557210140018",
];

const HEADER: &str =
    "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n";

fn lab_id(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:04}")
}

/// One complete row (with its line terminator).
fn row(prefix: &str, i: usize) -> String {
    let result = if i.is_multiple_of(4) {
        "Detectável"
    } else {
        "Não detectável"
    };
    format!(
        "{};PACIENTE {i};{};03/11/2026 08:15;03/11/2026 16:40;94309-2;{result};SWNAFA;RT-PCR\n",
        lab_id(prefix, i),
        CNS[i % CNS.len()]
    )
}

struct Service {
    _tmp: tempfile::TempDir,
    sim: Option<Simulator>,
    ws: Workspace,
    child: Option<Child>,
}

impl Service {
    async fn new() -> Service {
        let tmp = tempfile::tempdir().unwrap();
        let sim = simulator::start(SimOptions::new(tmp.path().join("simulador")))
            .await
            .unwrap();
        let (ws, _config) =
            write_workspace_config(sim.files(), tmp.path(), SETTLE_MS, "watch").unwrap();
        Service {
            _tmp: tmp,
            sim: Some(sim),
            ws,
            child: None,
        }
    }

    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
            .args(["run", "--config"])
            .arg(&self.ws.config_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the rnds-drop binary starts");
        self.child = Some(child);
    }

    fn sim(&self) -> &Simulator {
        self.sim.as_ref().unwrap()
    }

    /// Documents stored by the simulator, counted by lab id.
    fn stored(&self) -> BTreeMap<String, usize> {
        let mut by_id = BTreeMap::new();
        for d in self.sim().documents() {
            *by_id.entry(d.lab_id).or_insert(0) += 1;
        }
        by_id
    }

    fn summaries(&self, stem: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.ws.outbox)
            .unwrap()
            .flatten()
            .filter(|e| report_of(&e.file_name().to_string_lossy(), stem))
            .map(|e| e.path())
            .collect();
        found.sort();
        found
    }

    /// Waits until `n` summaries of `stem` exist; returns them oldest first.
    async fn reports(&mut self, stem: &str, n: usize, within: Duration) -> Vec<PathBuf> {
        let deadline = Instant::now() + within;
        loop {
            let found = self.summaries(stem);
            if found.len() >= n {
                return found;
            }
            if let Some(child) = self.child.as_mut() {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "the service exited early"
                );
            }
            assert!(
                Instant::now() < deadline,
                "{n} report(s) of {stem} expected, found {}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, and a clean exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            let exit = child.wait().unwrap();
            assert!(exit.success(), "SIGTERM ends the service cleanly: {exit:?}");
        }
    }

    fn work(&self, folder: &str) -> PathBuf {
        self.ws.inbox.join(".rnds-drop").join(folder)
    }

    /// Waits until a file named `name` lies under `.rnds-drop/<folder>/`
    /// (the reports are written just before the file is moved).
    async fn moved_to(&self, folder: &str, name: &str) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = files_in(&self.work(folder))
                .into_iter()
                .find(|p| p.file_name().is_some_and(|n| n == name))
            {
                return found;
            }
            assert!(Instant::now() < deadline, "{name} never reached {folder}/");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap_or_default()
}

/// Lab ids of `enviados.csv` beside a summary, with their status.
fn sent_rows(summary_path: &Path) -> BTreeMap<String, String> {
    let path = summary_path
        .to_string_lossy()
        .replace(".resumo.json", ".enviados.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.trim_start_matches('\u{feff}').lines().skip(1) {
        // linha;id_exame;id_rnds;situacao
        let cells: Vec<&str> = line.split(';').collect();
        if let [_, id, _, status] = cells[..] {
            rows.insert(id.to_owned(), status.to_owned());
        }
    }
    rows
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The text of the first `"method"` object in a bundle.
fn method_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(text) = map.get("method").and_then(|m| m["text"].as_str()) {
                return Some(text.to_owned());
            }
            map.values().find_map(method_text)
        }
        serde_json::Value::Array(items) => items.iter().find_map(method_text),
        _ => None,
    }
}

/// Writes `parts` to `path` through one open handle, pausing `PAUSE` after
/// each part but the last, the way a LIS job writing per batch does.
/// Returns, per pause, whether the inbox file had already been claimed
/// (renamed away) when the writer resumed.
fn slow_writer(path: PathBuf, parts: Vec<String>) -> std::thread::JoinHandle<Vec<bool>> {
    std::thread::spawn(move || {
        let mut file = std::fs::File::create(&path).unwrap();
        let mut claimed_while_writing = Vec::new();
        let last = parts.len() - 1;
        for (i, part) in parts.into_iter().enumerate() {
            file.write_all(part.as_bytes()).unwrap();
            file.flush().unwrap();
            if i < last {
                std::thread::sleep(PAUSE);
                claimed_while_writing.push(!path.exists());
            }
        }
        claimed_while_writing
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_pausing_longer_than_settle_ms_between_rows_loses_no_row() {
    let mut service = Service::new().await;
    service.start();
    // Four batches of five rows, a pause after each one.
    let parts: Vec<String> = (0..4)
        .map(|batch| {
            let mut text = if batch == 0 {
                HEADER.to_owned()
            } else {
                String::new()
            };
            for i in batch * 5 + 1..=batch * 5 + 5 {
                text.push_str(&row("LENTO", i));
            }
            text
        })
        .collect();
    let writer = slow_writer(service.ws.inbox.join("lento.csv"), parts);
    let claimed = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert!(
        claimed.iter().any(|c| *c),
        "the file was never claimed while being written: the test proves nothing"
    );

    let reports = service.reports("lento", 1, Duration::from_secs(60)).await;
    // One report with every row: the file was not complete while it changed.
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_total"), 20, "{s}");
    assert_eq!(count(&s, "rows_sent"), 20, "{s}");
    let sent = sent_rows(&reports[0]);
    let expected: Vec<String> = (1..=20).map(|i| lab_id("LENTO", i)).collect();
    assert_eq!(sent.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(sent.values().all(|status| status == "enviado"), "{sent:?}");

    let stored = service.stored();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(stored.values().all(|n| *n == 1), "stored twice: {stored:?}");
    // The archived file holds the 20 rows the report speaks of.
    let archived = service.moved_to("processados", "lento.csv").await;
    let text = std::fs::read_to_string(&archived).unwrap();
    assert_eq!(text.lines().count(), 21);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_pausing_in_the_middle_of_a_row_never_has_the_half_row_sent() {
    let mut service = Service::new().await;
    service.start();
    // Row 4 is cut before its method ("RT-PCR"): read as it stands it would
    // be valid, with the default method filled in.
    let row4 = row("MEIO", 4);
    let cut = row4.find("RT-PCR").unwrap();
    let mut first = HEADER.to_owned();
    for i in 1..=3 {
        first.push_str(&row("MEIO", i));
    }
    first.push_str(&row4[..cut]);
    let rest = format!("{}{}", &row4[cut..], row("MEIO", 5));
    let writer = slow_writer(service.ws.inbox.join("meio.csv"), vec![first, rest]);
    let claimed = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        claimed,
        [true],
        "the file was not claimed during the pause: the test proves nothing"
    );

    let reports = service.reports("meio", 1, Duration::from_secs(60)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_total"), 5, "{s}");
    assert_eq!(count(&s, "rows_sent"), 5, "{s}");

    let documents = service.sim().documents();
    let mut ids: Vec<&str> = documents.iter().map(|d| d.lab_id.as_str()).collect();
    ids.sort();
    let expected: Vec<String> = (1..=5).map(|i| lab_id("MEIO", i)).collect();
    assert_eq!(ids, expected, "every row once, no replacement");
    assert!(documents.iter().all(|d| d.replaces.is_none()));
    for d in &documents {
        assert_eq!(
            method_text(&d.bundle).as_deref(),
            Some("RT-PCR"),
            "{} carries the file's method",
            d.lab_id
        );
    }
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_to_after_it_reached_processados_is_read_again() {
    let mut service = Service::new().await;
    service.start();
    let path = service.ws.inbox.join("depois.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    let mut text = HEADER.to_owned();
    for i in 1..=5 {
        text.push_str(&row("DEPOIS", i));
    }
    file.write_all(text.as_bytes()).unwrap();
    file.flush().unwrap();

    let first = service.reports("depois", 1, Duration::from_secs(30)).await;
    assert_eq!(count(&summary(&first[0]), "rows_sent"), 5);
    let archived = service.moved_to("processados", "depois.csv").await;

    // The writer still holds the file: its next rows land in processados/.
    let mut more = String::new();
    for i in 6..=8 {
        more.push_str(&row("DEPOIS", i));
    }
    file.write_all(more.as_bytes()).unwrap();
    file.flush().unwrap();
    assert_eq!(
        std::fs::read_to_string(&archived).unwrap().lines().count(),
        9
    );

    let reports = service.reports("depois", 2, Duration::from_secs(60)).await;
    let second = summary(&reports[1]);
    assert_eq!(count(&second, "rows_total"), 8, "{second}");
    assert_eq!(count(&second, "rows_sent"), 3, "{second}");
    assert_eq!(count(&second, "rows_already_sent"), 5, "{second}");
    let sent = sent_rows(&reports[1]);
    assert_eq!(sent["DEPOIS-0006"], "enviado");
    assert!(sent["DEPOIS-0001"].starts_with("já enviado"), "{sent:?}");

    let stored = service.stored();
    let expected: Vec<String> = (1..=8).map(|i| lab_id("DEPOIS", i)).collect();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(stored.values().all(|n| *n == 1), "stored twice: {stored:?}");
    drop(file);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_files_end_in_falhas_with_a_reason_and_the_next_file_is_taken() {
    let mut service = Service::new().await;
    service.start();
    drop_file(&service.ws.inbox, "vazio.csv", b"").unwrap();
    drop_file(&service.ws.inbox, "vazia.xlsx", b"").unwrap();
    // Taken from the inbox after settling: never left there silently.
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.ws.inbox.join("vazio.csv").exists()
        || service.ws.inbox.join("vazia.xlsx").exists()
    {
        assert!(Instant::now() < deadline, "empty files left in the inbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut good = HEADER.to_owned();
    for i in 1..=3 {
        good.push_str(&row("BOM", i));
    }
    drop_file(&service.ws.inbox, "bom.csv", good.as_bytes()).unwrap();

    // The good file does not wait for the empty ones' second look.
    let reports = service.reports("bom", 1, Duration::from_secs(10)).await;
    assert_eq!(count(&summary(&reports[0]), "rows_sent"), 3);

    for stem in ["vazio", "vazia"] {
        let reports = service.reports(stem, 1, Duration::from_secs(30)).await;
        let s = summary(&reports[0]);
        let reason = s["error"].as_str().unwrap_or_default();
        assert!(reason.contains("vazio (0 bytes)"), "{s}");
    }
    service.moved_to("falhas", "vazio.csv").await;
    service.moved_to("falhas", "vazia.xlsx").await;
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_whose_reading_was_interrupted_twice_goes_to_falhas() {
    let mut service = Service::new().await;
    // A first run creates the ledger (a missing one is not created where
    // processando/ shows earlier work).
    service.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The work folders are prepared after the ledger is open.
    while !(service.ws.ledger.exists() && service.work("tentativas").is_dir()) {
        assert!(Instant::now() < deadline, "the service never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    service.stop();
    let mut text = HEADER.to_owned();
    text.push_str(&row("BOMBA", 1));
    drop_file(&service.ws.inbox, "bomba.csv", text.as_bytes()).unwrap();
    // What two runs killed while reading it leave behind: the file claimed
    // into processando/ and two reads begun that produced no row.
    let mut scanner = Scanner::new(0, &service.ws.inbox, Duration::ZERO).unwrap();
    let ready = scanner.poll(Instant::now()).unwrap().ready;
    let claimed = scanner.claim(&ready[0]).unwrap().expect("claimed");
    let look = claimed.look().unwrap();
    claimed.begin_read(&look).unwrap();
    claimed.begin_read(&look).unwrap();

    service.start();
    let reports = service.reports("bomba", 1, Duration::from_secs(30)).await;
    let s = summary(&reports[0]);
    let reason = s["error"].as_str().unwrap_or_default();
    assert!(reason.contains("interrompida 2 vezes"), "{s}");
    assert!(service.sim().documents().is_empty());
    service.moved_to("falhas", "bomba.csv").await;
    // The service goes on with the next file.
    let mut good = HEADER.to_owned();
    good.push_str(&row("BOM", 1));
    drop_file(&service.ws.inbox, "bom.csv", good.as_bytes()).unwrap();
    let reports = service.reports("bom", 1, Duration::from_secs(10)).await;
    assert_eq!(count(&summary(&reports[0]), "rows_sent"), 1);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_without_a_final_line_break_is_read_whole_once_quiet() {
    let mut service = Service::new().await;
    service.start();
    let mut text = HEADER.to_owned();
    text.push_str(&row("SEMFIM", 1));
    text.push_str(row("SEMFIM", 2).trim_end());
    drop_file(&service.ws.inbox, "semfim.csv", text.as_bytes()).unwrap();
    let reports = service.reports("semfim", 1, Duration::from_secs(30)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_total"), 2, "{s}");
    assert_eq!(count(&s, "rows_sent"), 2, "{s}");
    let documents = service.sim().documents();
    assert_eq!(documents.len(), 2);
    assert!(documents
        .iter()
        .all(|d| method_text(&d.bundle).as_deref() == Some("RT-PCR")));
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_copied_with_a_pause_is_read_once_complete_not_failed() {
    let mut service = Service::new().await;
    service.start();
    let book = rnds_drop::service::demo::example_xlsx().unwrap();
    let half = book.len() / 2;
    let parts = vec![book[..half].to_vec(), book[half..].to_vec()];
    let path = service.ws.inbox.join("copia.xlsx");
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&parts[0]).unwrap();
        file.flush().unwrap();
        std::thread::sleep(PAUSE);
        let claimed = !path.exists();
        file.write_all(&parts[1]).unwrap();
        file.flush().unwrap();
        claimed
    });
    let claimed = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert!(
        claimed,
        "not claimed during the pause: the test proves nothing"
    );

    let reports = service.reports("copia", 1, Duration::from_secs(30)).await;
    let s = summary(&reports[0]);
    assert!(s["error"].is_null(), "{s}");
    assert_eq!(count(&s, "rows_sent"), 2, "{s}");
    assert_eq!(count(&s, "rows_invalid"), 1, "{s}");
    service.moved_to("processados", "copia.xlsx").await;
    assert!(files_in(&service.work("falhas")).is_empty());
    service.stop();
}
