//! End-to-end: real folders, the real watcher, the real ledger and the
//! simulator over HTTPS with mutual TLS, in-process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::demo::{drop_file, report_of, write_workspace_config, Workspace};
use super::{run, send_files, ServiceError};
use crate::config::Config;
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
        let result = if detected { "Detectável" } else { "Não detectável" };
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
    }
}

impl Harness {
    fn sim(&self) -> &Simulator {
        self.sim.as_ref().unwrap()
    }

    fn start(&mut self) {
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.service = Some(tokio::spawn(run(self.config.clone(), async move {
            let _ = stopped.await;
        })));
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(service) = self.service.take() {
            service.await.unwrap().unwrap();
        }
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

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap_or_else(|| panic!("{key} missing in {summary}"))
}

/// `enviados.csv` next to a `resumo.json`: `(line, lab id, rnds id, status)`.
fn sent_rows(summary_path: &Path) -> Vec<(String, String, String, String)> {
    let name = summary_path.to_string_lossy().replace(".resumo.json", ".enviados.csv");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_file_is_sent_once_then_already_sent_then_replaced() {
    let mut h = harness("watch", Faults::default(), simulator::DEFAULT_TOKEN_LIFETIME).await;
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
    let expected: BTreeSet<String> = (1..=10).filter(|&i| i != 4).map(|i| lab_id("a", i)).collect();
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(stored.values().all(|ids| ids.len() == 1), "{stored:?}");
    let sent = sent_rows(&reports[0]);
    assert_eq!(sent.len(), 9);
    for (_, lab, rnds, status) in &sent {
        assert_eq!(status, "enviado");
        assert_eq!(&stored[lab][0], rnds, "enviados.csv id of {lab}");
    }
    let errors = std::fs::read_to_string(
        reports[0].to_string_lossy().replace(".resumo.json", ".erros.csv"),
    )
    .unwrap();
    assert!(errors.contains(&lab_id("a", 4)), "{errors}");
    let processed = h.ws.inbox.join(".rnds-drop/processados");
    assert!(walk(&processed).iter().any(|p| p.ends_with("lote.csv")));

    // 2. The same file again: nothing new; every row "já enviado".
    drop_file(&h.ws.inbox, "lote.csv", first.as_bytes()).unwrap();
    let reports = h.reports("lote", 2, Duration::from_secs(20)).await;
    let s = summary(&reports[1]);
    assert_eq!(count(&s, "rows_already_sent"), 9);
    assert_eq!(count(&s, "rows_sent"), 0);
    assert_eq!(h.sim().documents().len(), 9);
    let sent = sent_rows(&reports[1]);
    assert!(sent.iter().all(|(_, lab, rnds, status)| status == "já enviado"
        && &stored[lab][0] == rnds));

    // 3. A corrected file: same ids (invalid row fixed is not part of it),
    // two results changed → exactly two replacements, the rest already sent.
    let corrected = export("a", 10, &[4], &[2, 7]);
    drop_file(&h.ws.inbox, "lote-corrigido.csv", corrected.as_bytes()).unwrap();
    let reports = h.reports("lote-corrigido", 1, Duration::from_secs(20)).await;
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
