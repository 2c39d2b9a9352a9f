//! End-to-end: real folders, the real watcher, the real ledger and the
//! simulator over HTTPS with mutual TLS, in-process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{send_files, ServiceError};
use crate::config::Config;
use crate::demo::{drop_file, report_of, write_workspace_config, Workspace};
use crate::simulator::{self, Faults, SimOptions, Simulator};

/// Valid CNS numbers (check digits right).
const CNS: [&str; 5] = [
    "759010928159013",
    "939548620579868",
    "782880729022279",
    "918058887180334",
    "146557210140018",
];
const HEADER: &str =
    "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia";

/// A lab export with `n` rows `T-<prefix>-000001`…; rows whose number is in
/// `invalid` get a CNS that fails its check digits; rows in `changed` get
/// another result than the original file.
fn export(prefix: &str, n: usize, invalid: &[usize], changed: &[usize]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for i in 1..=n {
        let cns = if invalid.contains(&i) {
            "123456789012345"
        } else {
            CNS[i % CNS.len()]
        };
        let detected = (i % 3 == 0) ^ changed.contains(&i);
        let result = if detected {
            "Detectável"
        } else {
            "Não detectável"
        };
        out.push_str(&format!(
            "T-{prefix}-{i:06};PACIENTE {i};{cns};03/11/2026 08:15;03/11/2026 16:40;94309-2;{result};Swab nasofaríngeo;RT-PCR\n"
        ));
    }
    out
}

fn lab_id(prefix: &str, i: usize) -> String {
    format!("T-{prefix}-{i:06}")
}

struct Harness {
    _tmp: tempfile::TempDir,
    sim: Option<Simulator>,
    ws: Workspace,
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    service: Option<JoinHandle<Result<(), ServiceError>>>,
    /// The daemon's clock: a test moves it instead of waiting out delays.
    clock: super::clock::Clock,
}

/// Watch mode, no faults, the default token lifetime.
async fn plain_harness() -> Harness {
    harness(
        "watch",
        Faults::default(),
        simulator::DEFAULT_TOKEN_LIFETIME,
    )
    .await
}

async fn harness(mode: &str, faults: Faults, token_lifetime: Duration) -> Harness {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulator::start(SimOptions {
        faults,
        token_lifetime,
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let (ws, mut config) = write_workspace_config(sim.files(), tmp.path(), 200, mode).unwrap();
    config.service.scan_interval_s = 1;
    config.service.shutdown_grace_s = 5;
    config.rnds.max_retries = 3;
    config.rnds.backoff_base_ms = 20;
    config.rnds.backoff_max_ms = 300;
    config.rnds.timeout_s = 5;
    Harness {
        _tmp: tmp,
        sim: Some(sim),
        ws,
        config,
        stop: None,
        service: None,
        clock: super::clock::Clock::default(),
    }
}

impl Harness {
    fn sim(&self) -> &Simulator {
        self.sim.as_ref().unwrap()
    }

    fn start(&mut self) {
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.service = Some(tokio::spawn(super::daemon::run_on_clock(
            self.config.clone(),
            async move {
                let _ = stopped.await;
            },
            self.clock.clone(),
        )));
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(service) = self.service.take() {
            service.await.unwrap().unwrap();
        }
    }

    /// The summaries of `stem` now, oldest first.
    fn reports_now(&self, stem: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.ws.outbox)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| report_of(&e.file_name().to_string_lossy(), stem))
            .map(|e| e.path())
            .collect();
        found.sort();
        found
    }

    /// Waits until `n` summaries of `stem` exist; returns them oldest first.
    async fn reports(&self, stem: &str, n: usize, within: Duration) -> Vec<PathBuf> {
        let deadline = Instant::now() + within;
        loop {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&self.ws.outbox)
                .unwrap()
                .filter_map(Result::ok)
                .filter(|e| report_of(&e.file_name().to_string_lossy(), stem))
                .map(|e| e.path())
                .collect();
            found.sort();
            if found.len() >= n {
                return found;
            }
            if let Some(service) = &self.service {
                assert!(!service.is_finished(), "the service stopped");
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} reports of {stem} after {within:?}: {found:?}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Lab id → every RNDS id stored for it, oldest first.
    fn stored(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in self.sim().documents() {
            by_id.entry(d.lab_id).or_default().push(d.rnds_id);
        }
        by_id
    }
}

/// The daemon's longest wait before a file is tried again.
const MAX_BACK_OFF: Duration = Duration::from_secs(60);

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {summary}"))
}

/// `enviados.csv` next to a `resumo.json`: `(line, lab id, rnds id, status)`.
fn sent_rows(summary_path: &Path) -> Vec<(String, String, String, String)> {
    let name = summary_path
        .to_string_lossy()
        .replace(".resumo.json", ".enviados.csv");
    let text = std::fs::read_to_string(&name).unwrap();
    text.trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| {
            let mut r = csv::ReaderBuilder::new()
                .delimiter(b';')
                .has_headers(false)
                .from_reader(l.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            (
                rec[0].to_string(),
                rec[1].to_string(),
                rec[2].to_string(),
                rec[3].to_string(),
            )
        })
        .collect()
}

#[test]
fn report_names_never_overwrite_and_sort_in_order() {
    use super::paths::{OutputPaths, Received};
    let dir = tempfile::tempdir().unwrap();
    let at = Received::example("2026-11-03T16:40:00-03:00");
    let first = OutputPaths::timestamped(dir.path(), "lote", "lote.csv", &at);
    assert!(first
        .reports
        .summary
        .ends_with("lote.20261103T164000_csv.resumo.json"));
    std::fs::write(&first.reports.summary, b"{}").unwrap();
    let second = OutputPaths::timestamped(dir.path(), "lote", "lote.csv", &at);
    assert!(second
        .reports
        .summary
        .ends_with("lote.20261103T164000_csv_2.resumo.json"));
    assert!(first.reports.summary < second.reports.summary);
    std::fs::write(&second.reports.summary, b"{}").unwrap();
    let third = OutputPaths::timestamped(dir.path(), "lote", "lote.csv", &at);
    assert!(third
        .reports
        .sent_csv
        .ends_with("lote.20261103T164000_csv_3.enviados.csv"));

    // Twins (`lote.csv` and `lote.xlsx` received in the same second): each
    // report says whose it is.
    let twin = OutputPaths::timestamped(dir.path(), "lote", "lote.XLSX", &at);
    assert!(twin
        .reports
        .summary
        .ends_with("lote.20261103T164000_xlsx.resumo.json"));
    // A file without an extension: the instant alone.
    let bare = OutputPaths::timestamped(dir.path(), "lote", "lote", &at);
    assert!(bare
        .reports
        .summary
        .ends_with("lote.20261103T164000.resumo.json"));

    assert!(report_of("lote.20261103T164000.resumo.json", "lote"));
    assert!(report_of("lote.20261103T164000_2.resumo.json", "lote"));
    assert!(report_of("lote.20261103T164000_2_xlsx.resumo.json", "lote"));
    assert!(report_of("lote.20261103T164000_csv.resumo.json", "lote"));
    assert!(!report_of(
        "lote-corrigido.20261103T164000.resumo.json",
        "lote"
    ));
    assert!(!report_of("lote.20261103T164000.enviados.csv", "lote"));
    assert!(!report_of("lote.resumo.json", "lote"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_file_is_sent_once_then_already_sent_then_replaced() {
    let mut h = plain_harness().await;
    h.start();

    // 1. A CSV with 10 rows, one invalid: the 9 valid rows reach RNDS.
    let first = export("a", 10, &[4], &[]);
    drop_file(&h.ws.inbox, "lote.csv", first.as_bytes()).unwrap();
    let reports = h.reports("lote", 1, Duration::from_secs(20)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_valid"), 9);
    assert_eq!(count(&s, "rows_invalid"), 1);
    assert_eq!(count(&s, "rows_sent"), 9);
    let stored = h.stored();
    let expected: BTreeSet<String> = (1..=10)
        .filter(|&i| i != 4)
        .map(|i| lab_id("a", i))
        .collect();
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(stored.values().all(|ids| ids.len() == 1), "{stored:?}");
    let sent = sent_rows(&reports[0]);
    assert_eq!(sent.len(), 9);
    for (_, lab, rnds, status) in &sent {
        assert_eq!(status, "enviado");
        assert_eq!(&stored[lab][0], rnds, "enviados.csv id of {lab}");
    }
    let errors = std::fs::read_to_string(
        reports[0]
            .to_string_lossy()
            .replace(".resumo.json", ".erros.csv"),
    )
    .unwrap();
    assert!(errors.contains(&lab_id("a", 4)), "{errors}");
    let processed = h.ws.inbox.join(".rnds-drop/processados");
    // The report is committed first, then the source leaves processando/.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !walk(&processed).iter().any(|p| p.ends_with("lote.csv")) {
        assert!(
            Instant::now() < deadline,
            "lote.csv never reached processados/"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 2. The same file again: nothing new; every row "já enviado".
    drop_file(&h.ws.inbox, "lote.csv", first.as_bytes()).unwrap();
    let reports = h.reports("lote", 2, Duration::from_secs(20)).await;
    let s = summary(&reports[1]);
    assert_eq!(count(&s, "rows_already_sent"), 9);
    assert_eq!(count(&s, "rows_sent"), 0);
    assert_eq!(h.sim().documents().len(), 9);
    let sent = sent_rows(&reports[1]);
    assert!(sent.iter().all(
        |(_, lab, rnds, status)| status.starts_with("já enviado em ")
            && status.len() == "já enviado em dd/mm/aaaa hh:mm".len()
            && &stored[lab][0] == rnds
    ));

    // 3. A corrected file: same ids (invalid row fixed is not part of it),
    // two results changed → exactly two replacements, the rest already sent.
    let corrected = export("a", 10, &[4], &[2, 7]);
    drop_file(&h.ws.inbox, "lote-corrigido.csv", corrected.as_bytes()).unwrap();
    let reports = h
        .reports("lote-corrigido", 1, Duration::from_secs(20))
        .await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_replaced"), 2);
    assert_eq!(count(&s, "rows_already_sent"), 7);
    assert_eq!(count(&s, "rows_sent"), 0);
    let docs = h.sim().documents();
    assert_eq!(docs.len(), 11);
    let replacements: Vec<_> = docs.iter().filter(|d| d.replaces.is_some()).collect();
    assert_eq!(replacements.len(), 2);
    for r in &replacements {
        assert!([lab_id("a", 2), lab_id("a", 7)].contains(&r.lab_id));
        assert_eq!(r.replaces.as_deref(), Some(stored[&r.lab_id][0].as_str()));
    }
    let sent = sent_rows(&reports[0]);
    let replaced: Vec<_> = sent.iter().filter(|r| r.3 == "substituído").collect();
    assert_eq!(replaced.len(), 2);
    for (_, lab, rnds, _) in replaced {
        assert_eq!(h.stored()[lab].last(), Some(rnds));
    }

    // 4. A scheduled export rewriting the same file with two new rows:
    // only those go out.
    let grown = export("a", 12, &[4], &[2, 7]);
    drop_file(&h.ws.inbox, "lote.csv", grown.as_bytes()).unwrap();
    let reports = h.reports("lote", 3, Duration::from_secs(20)).await;
    let s = summary(&reports[2]);
    assert_eq!(count(&s, "rows_sent"), 2);
    assert_eq!(count(&s, "rows_already_sent"), 9);
    assert_eq!(h.sim().documents().len(), 13);
    h.stop().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_of_ten_thousand_rows_stores_each_valid_row_once() {
    let h = plain_harness().await;
    let mut config = h.config.clone();
    config.rnds.max_in_flight = 16;
    let invalid: Vec<usize> = (1..=10_000).filter(|i| i % 1000 == 0).collect();
    let file = h.ws.root.join("grande.csv");
    std::fs::write(&file, export("g", 10_000, &invalid, &[])).unwrap();
    let out = h.ws.root.join("relatorios");
    let mut progress = |_: usize, _: u64| {};
    let sent = send_files(&config, std::slice::from_ref(&file), &out, &mut progress)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    let s = &sent[0].summary;
    assert_eq!(s.rows_total, 10_000);
    assert_eq!(s.rows_invalid, 10);
    assert_eq!(s.rows_sent, Some(9_990));
    assert_eq!(s.rows_pending, Some(0));
    let stored = h.stored();
    assert_eq!(stored.len(), 9_990);
    assert!(stored.values().all(|ids| ids.len() == 1));
    let rows = sent_rows(&sent[0].paths.summary);
    assert_eq!(rows.len(), 9_990);
    assert!(rows
        .iter()
        .all(|(_, lab, rnds, st)| st == "enviado" && &stored[lab][0] == rnds));
    assert!(out.join("grande.bundles.ndjson").exists());

    // Sent again: nothing goes out a second time.
    let again = send_files(&config, &[file], &out, &mut progress)
        .await
        .unwrap();
    assert_eq!(again[0].summary.rows_already_sent, Some(9_990));
    assert_eq!(h.sim().documents().len(), 9_990);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_reads_the_ledger_in_batches_never_a_point_read_per_row() {
    let h = plain_harness().await;
    let rows = 3 * crate::pipeline::CHUNK_ROWS;
    let file = h.ws.root.join("lote.csv");
    std::fs::write(&file, export("b", rows, &[], &[])).unwrap();
    let out = h.ws.root.join("relatorios");
    let mut progress = |_: usize, _: u64| {};
    let sent = send_files(&h.config, std::slice::from_ref(&file), &out, &mut progress)
        .await
        .unwrap();
    assert_eq!(sent[0].summary.rows_sent, Some(rows as u64));
    let (point, batched) = crate::ledger::read_counts::of(&h.config.ledger.path);
    assert_eq!(point, 0, "point reads of the chunks");
    // Per chunk: one read before deciding, one per round (one round here).
    assert!(batched <= 2 * 3, "{batched} batched reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_in_the_middle_of_a_file_leaves_rows_pending_then_sends_them_once() {
    let faults = Faults {
        latency_ms: 10,
        ..Faults::default()
    };
    let mut h = harness("watch", faults, simulator::DEFAULT_TOKEN_LIFETIME).await;
    h.config.rnds.max_in_flight = 4;
    h.config.rnds.max_retries = 2;
    h.config.service.pending_report_after_s = 1;
    h.start();
    drop_file(
        &h.ws.inbox,
        "surto.csv",
        export("o", 400, &[], &[]).as_bytes(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.sim().documents().len() < 40 {
        assert!(Instant::now() < deadline, "sending never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The issue's scenario: RNDS refuses connections for 30 s mid-file.
    // The service's back-off (1, 2, 4 … 60 s) reaches past it: once RNDS
    // is back, the test moves the daemon's clock past the back-off instead
    // of waiting it out on the wall clock.
    let outage = Duration::from_secs(30);
    let back = Instant::now() + outage;
    h.sim().outage(outage);
    let deadline = Instant::now() + Duration::from_secs(150);
    while h.reports_now("surto").len() < 2 {
        assert!(Instant::now() < deadline, "no final report");
        if Instant::now() > back {
            h.clock.skip(MAX_BACK_OFF);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reports = h.reports("surto", 2, Duration::from_secs(1)).await;
    let pending = summary(&reports[0]);
    assert!(count(&pending, "rows_pending") > 0, "{pending}");
    assert!(sent_rows(&reports[0]).iter().any(|r| r.3 == "pendente"));
    let last = summary(reports.last().unwrap());
    assert_eq!(count(&last, "rows_pending"), 0, "{last}");
    assert_eq!(count(&last, "rows_sent"), 400);
    let stored = h.stored();
    assert_eq!(stored.len(), 400);
    assert!(
        stored.values().all(|ids| ids.len() == 1),
        "a row was stored twice"
    );
    let rows = sent_rows(reports.last().unwrap());
    assert!(rows
        .iter()
        .all(|(_, lab, rnds, st)| st == "enviado" && &stored[lab][0] == rnds));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_short_tokens_still_store_every_row_exactly_once() {
    let faults = Faults {
        error_5xx_rate: 0.10,
        rate_429: 0.05,
        retry_after_s: 1,
        lost_answer_rate: 0.02,
        ..Faults::default()
    };
    let mut h = harness("watch", faults, Duration::from_secs(3)).await;
    h.config.rnds.max_retries = 8;
    h.start();
    drop_file(
        &h.ws.inbox,
        "instavel.csv",
        export("f", 600, &[5], &[]).as_bytes(),
    )
    .unwrap();
    let reports = h.reports("instavel", 1, Duration::from_secs(90)).await;
    // Rows may be reported pending first; wait for the final report.
    let mut reports = reports;
    let deadline = Instant::now() + Duration::from_secs(90);
    while count(&summary(reports.last().unwrap()), "rows_pending") > 0 {
        assert!(Instant::now() < deadline, "rows still pending");
        reports = h
            .reports("instavel", reports.len() + 1, Duration::from_secs(90))
            .await;
    }
    let stored = h.stored();
    assert_eq!(stored.len(), 599);
    assert!(
        stored.values().all(|ids| ids.len() == 1),
        "a row was stored twice"
    );
    let s = summary(reports.last().unwrap());
    assert_eq!(count(&s, "rows_sent"), 599);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_slow_writer_and_poll_mode() {
    let mut h = harness("poll", Faults::default(), simulator::DEFAULT_TOKEN_LIFETIME).await;
    h.config.inbox[0].settle_ms = 600;
    h.start();

    // An XLSX workbook.
    let book = crate::demo::example_xlsx().unwrap();
    drop_file(&h.ws.inbox, "planilha.xlsx", &book).unwrap();
    let reports = h.reports("planilha", 1, Duration::from_secs(20)).await;
    let s = summary(&reports[0]);
    assert_eq!(s["format"], "xlsx");
    assert_eq!(count(&s, "rows_sent"), 2);
    assert_eq!(count(&s, "rows_invalid"), 1);
    assert!(reports[0]
        .to_string_lossy()
        .replace(".resumo.json", ".erros.xlsx")
        .parse::<PathBuf>()
        .unwrap()
        .exists());

    // A file written slowly (a line every 100 ms, well under settle_ms,
    // from a plain thread so the service's work cannot delay the writer) is
    // taken only once complete: all its rows are in one report.
    h.stop().await;
    h.config.inbox[0].settle_ms = 1_500;
    h.start();
    let text = export("s", 12, &[], &[]);
    let path = h.ws.inbox.join("lento.csv");
    let outbox = h.ws.outbox.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::File::create(&path).unwrap();
        for line in text.lines() {
            writeln!(file, "{line}").unwrap();
            file.sync_all().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let taken_early = outbox
                .read_dir()
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("lento."));
            assert!(!taken_early, "taken before complete");
        }
    });
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .expect("the slow writer saw no early report");
    let reports = h.reports("lento", 1, Duration::from_secs(20)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_total"), 12);
    assert_eq!(count(&s, "rows_sent"), 12);
    h.stop().await;
    assert_eq!(h.stored().len(), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_file_goes_to_falhas_with_a_reason_and_the_service_goes_on() {
    let mut h = plain_harness().await;
    h.start();
    // Named like a workbook but not one.
    drop_file(
        &h.ws.inbox,
        "quebrada.xlsx",
        b"isto nao e uma planilha\n\x00\x01",
    )
    .unwrap();
    let reports = h.reports("quebrada", 1, Duration::from_secs(20)).await;
    let s = summary(&reports[0]);
    let reason = s["error"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "{s}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !walk(&h.ws.inbox.join(".rnds-drop/falhas"))
        .iter()
        .any(|p| p.ends_with("quebrada.xlsx"))
    {
        assert!(
            Instant::now() < deadline,
            "quebrada.xlsx never reached falhas/"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still running: the next file is sent.
    drop_file(
        &h.ws.inbox,
        "depois.csv",
        export("d", 3, &[], &[]).as_bytes(),
    )
    .unwrap();
    let reports = h.reports("depois", 1, Duration::from_secs(20)).await;
    assert_eq!(count(&summary(&reports[0]), "rows_sent"), 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_error_stops_sending_and_keeps_the_rows_pending() {
    let mut h = plain_harness().await;
    // A professional without a link to the CNES: EHR-ERR906.
    h.config.lab.requester_cns = h.sim().identity().unlinked_cns.clone();
    let file = h.ws.root.join("vinculo.csv");
    std::fs::write(&file, export("c", 50, &[], &[])).unwrap();
    let out = h.ws.root.join("relatorios");
    let mut progress = |_: usize, _: u64| {};
    let sent = send_files(&h.config, std::slice::from_ref(&file), &out, &mut progress)
        .await
        .unwrap();
    let message = sent[0].config_error.clone().expect("a configuration error");
    assert!(message.contains("EHR-ERR906"), "{message}");
    assert_eq!(sent[0].pending.len(), 50);
    assert!(h.sim().documents().is_empty());

    // The service keeps the file claimed (nothing lost) and sends nothing.
    h.config.service.pending_report_after_s = 0;
    h.start();
    drop_file(
        &h.ws.inbox,
        "vinculo.csv",
        export("c", 50, &[], &[]).as_bytes(),
    )
    .unwrap();
    let reports = h.reports("vinculo", 1, Duration::from_secs(20)).await;
    assert_eq!(count(&summary(&reports[0]), "rows_pending"), 50);
    assert!(h
        .ws
        .inbox
        .join(".rnds-drop/processando/vinculo.csv")
        .exists());
    h.stop().await;
    assert!(h.sim().documents().is_empty());

    // Fixed configuration: the rows go out once, with a follow-up report.
    h.config.lab.requester_cns = h.sim().identity().requester_cns.clone();
    h.start();
    let reports = h.reports("vinculo", 2, Duration::from_secs(30)).await;
    let last = summary(reports.last().unwrap());
    assert_eq!(count(&last, "rows_pending"), 0);
    assert_eq!(count(&last, "rows_sent"), 50);
    assert_eq!(h.stored().len(), 50);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_file_then_restart_sends_the_rest_once() {
    let faults = Faults {
        latency_ms: 5,
        ..Faults::default()
    };
    let mut h = harness("watch", faults, simulator::DEFAULT_TOKEN_LIFETIME).await;
    h.config.rnds.max_in_flight = 4;
    h.start();
    drop_file(
        &h.ws.inbox,
        "parada.csv",
        export("p", 1_500, &[], &[]).as_bytes(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.sim().documents().len() < 100 {
        assert!(Instant::now() < deadline, "sending never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Graceful stop: returns within the grace period, file kept claimed.
    tokio::time::timeout(Duration::from_secs(20), h.stop())
        .await
        .expect("the service stops within its grace period");
    let at_stop = h.sim().documents().len();
    assert!(at_stop < 1_500, "stopped too late to test anything");
    assert!(h
        .ws
        .inbox
        .join(".rnds-drop/processando/parada.csv")
        .exists());
    assert!(std::fs::read_dir(&h.ws.outbox)
        .unwrap()
        .flatten()
        .all(|e| !report_of(&e.file_name().to_string_lossy(), "parada")));

    h.start();
    let reports = h.reports("parada", 1, Duration::from_secs(60)).await;
    let s = summary(&reports[0]);
    assert_eq!(count(&s, "rows_sent"), 1_500);
    let stored = h.stored();
    assert_eq!(stored.len(), 1_500);
    assert!(
        stored.values().all(|ids| ids.len() == 1),
        "a row was stored twice"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_ids_rnds_already_holds_are_reported_as_already_there_never_to_renumber() {
    let h = plain_harness().await;
    let file = h.ws.root.join("outro.csv");
    std::fs::write(&file, export("r", 5, &[], &[])).unwrap();
    let mut progress = |_: usize, _: u64| {};
    send_files(
        &h.config,
        std::slice::from_ref(&file),
        &h.ws.root.join("a"),
        &mut progress,
    )
    .await
    .unwrap();
    // A ledger that does not know these lab ids (another installation, or
    // a new ledger after a lost one) sends them: RNDS answers EHR-ERR866,
    // which means it already holds them: never a second document, never
    // an error for staff to "fix" by renumbering.
    let mut other = h.config.clone();
    other.ledger.path = h.ws.root.join("outro.sqlite");
    let out = h.ws.root.join("b");
    let sent = send_files(&other, std::slice::from_ref(&file), &out, &mut progress)
        .await
        .unwrap();
    let s = &sent[0].summary;
    assert_eq!(s.rows_already_sent, Some(5));
    assert_eq!(s.rows_rejected, Some(0));
    assert_eq!(s.rows_sent, Some(0));
    assert_eq!(h.sim().documents().len(), 5);
    let errors = std::fs::read_to_string(&sent[0].paths.errors_csv).unwrap();
    assert_eq!(errors.lines().count(), 1, "{errors}");
    let rows = sent_rows(&sent[0].paths.summary);
    assert_eq!(rows.len(), 5);
    assert!(rows
        .iter()
        .all(|r| r.3.starts_with("já estava na RNDS (EHR-ERR866)") && r.2.is_empty()));
    assert!(rows.iter().all(|r| !r.3.contains("renumer")));

    // That ledger now knows RNDS holds them: sent again, nothing goes out.
    let again = send_files(&other, std::slice::from_ref(&file), &out, &mut progress)
        .await
        .unwrap();
    assert_eq!(again[0].summary.rows_already_sent, Some(5));
    assert_eq!(h.sim().documents().len(), 5);
}

/// Regression: the summary once dropped each row's first issue when the
/// file also had a file-level one (a leftover of an older pipeline that
/// repeated file issues on every row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_opens_the_reports_once_and_rows_keep_their_own_issues() {
    let h = plain_harness().await;
    let file = h.ws.root.join("sem_resultado.csv");
    let without_result: String = export("m", 3, &[2], &[])
        .lines()
        .map(|line| {
            let mut cells: Vec<&str> = line.split(';').collect();
            cells.remove(6);
            cells.join(";") + "\n"
        })
        .collect();
    std::fs::write(&file, without_result).unwrap();
    let out = h.ws.root.join("relatorios");
    let mut progress = |_: usize, _: u64| {};
    let sent = send_files(&h.config, &[file], &out, &mut progress)
        .await
        .unwrap();
    let s = &sent[0].summary;
    assert_eq!((s.rows_total, s.rows_invalid), (3, 3));
    let lines_and_codes: Vec<(u64, &str)> =
        s.issues.iter().map(|i| (i.line, i.code.as_str())).collect();
    assert_eq!(
        lines_and_codes,
        [(1, "coluna_ausente"), (3, "cns_invalido")]
    );
    let errors = std::fs::read_to_string(&sent[0].paths.errors_csv).unwrap();
    let lines: Vec<&str> = errors.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "header, the file's sentence, the row with a bad CNS"
    );
    assert!(
        lines[1].starts_with("\"Linha 1 (cabeçalho): nenhuma linha deste arquivo pode ser enviada"),
        "{errors}"
    );
    assert!(lines[2].contains("CNS"), "{errors}");
    assert!(!errors.contains("veja"), "{errors}");
    assert!(h.sim().documents().is_empty());
}

/// Regression (review): one lab id on several rows of a file made the
/// second row a replacement of the first on every drop, and five identical
/// rows never let the file finish. Now the first row is sent, the others
/// are reported, and dropping the file again sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_id_repeated_in_one_file_is_sent_once_and_the_repeats_reported() {
    let h = plain_harness().await;
    let base = export("d", 3, &[], &[]);
    let mut lines: Vec<String> = base.lines().map(str::to_owned).collect();
    for _ in 0..4 {
        lines.push(lines[1].clone()); // T-d-000001, same content
    }
    let changed = if lines[2].contains(";Não detectável;") {
        lines[2].replace(";Não detectável;", ";Detectável;")
    } else {
        lines[2].replace(";Detectável;", ";Não detectável;")
    };
    lines.push(changed); // T-d-000002, other content
    let file = h.ws.root.join("repetidos.csv");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = h.ws.root.join("relatorios");
    let mut progress = |_: usize, _: u64| {};
    let sent = send_files(&h.config, std::slice::from_ref(&file), &out, &mut progress)
        .await
        .unwrap();
    let s = &sent[0].summary;
    assert_eq!(s.rows_sent, Some(3));
    assert_eq!(s.rows_rejected, Some(5));
    assert_eq!(s.rows_pending, Some(0));
    let codes: Vec<(u64, &str)> = s.issues.iter().map(|i| (i.line, i.code.as_str())).collect();
    assert_eq!(
        codes,
        [
            (5, "exame_repetido"),
            (6, "exame_repetido"),
            (7, "exame_repetido"),
            (8, "exame_repetido"),
            (9, "exame_repetido"),
        ]
    );
    // The texts lab staff read: one sentence each, no run of spaces left
    // by a lost line continuation.
    let same = &s.issues[0].message;
    assert!(
        same.starts_with("Linha 5: o exame T-d-000001 repete a linha 2 (mesmo conteúdo); ele é enviado uma vez só."),
        "{same}"
    );
    let other = &s.issues[4].message;
    assert!(other.contains("com outro conteúdo. Cada exame deve aparecer uma vez por arquivo: deixe só a linha correta"), "{other}");
    for issue in &s.issues {
        assert!(!issue.message.contains("  "), "{:?}", issue.message);
    }
    assert_eq!(h.sim().documents().len(), 3);

    let again = send_files(&h.config, &[file], &out, &mut progress)
        .await
        .unwrap();
    assert_eq!(again[0].summary.rows_already_sent, Some(3));
    assert_eq!(h.sim().documents().len(), 3, "nothing new, no replacement");
}

/// Regression (review): `send` next to a running service on the same
/// ledger could settle the service's request in flight and send it again.
/// The second process is refused, as a configuration error (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_ledger_is_refused() {
    let h = plain_harness().await;
    let held = super::prepare_ledger_dir(&h.config.ledger.path).unwrap();
    let file = h.ws.root.join("lote.csv");
    std::fs::write(&file, export("l", 2, &[], &[])).unwrap();
    let out = h.ws.root.join("relatorios");
    let mut progress = |_: usize, _: u64| {};
    let refused = send_files(&h.config, std::slice::from_ref(&file), &out, &mut progress).await;
    match refused {
        Err(e) => assert!(
            e.is_configuration() && e.to_string().contains("já usa"),
            "{e}"
        ),
        Ok(_) => panic!("a second process was let in"),
    }
    assert!(h.sim().documents().is_empty());
    drop(held);
    let sent = send_files(&h.config, &[file], &out, &mut progress)
        .await
        .unwrap();
    assert_eq!(sent[0].summary.rows_sent, Some(2));
}
