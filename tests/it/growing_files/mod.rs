//! Files that are still being written, empty files and files that keep
//! failing, against the real binary (`rnds-drop run`) and the simulator:
//! a writer pausing longer than `settle_ms` (between rows, or in the middle
//! of one) loses no row and never has a half row sent; a file written to
//! after it reached `processados/` is read again; an empty file and a file
//! whose reading was interrupted twice end in `falhas/` with a reason.
//! This file holds the small harness; the cases are in `writers` and
//! `failing`.

mod failing;
mod writers;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{report_of, write_workspace_config, Workspace};
use rnds_drop::simulator::{self, SimOptions, Simulator};

/// The inbox's `settle_ms` in these tests. A file is complete only after
/// ten times this without change once it was seen changing after its claim.
pub(super) const SETTLE_MS: u64 = 200;

/// Pauses of the slow writers: longer than `settle_ms` (so the file is
/// claimed mid-write), shorter than ten times it.
pub(super) const PAUSE: Duration = Duration::from_secs(1);

pub(super) const CNS: [&str; 5] = [
    "759010928159013",
    "939548620579868",
    "782880729022279",
    "918058887180334",
    "146557210140018",
];

pub(super) const HEADER: &str =
    "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n";

pub(super) fn lab_id(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:04}")
}

/// One complete row (with its line terminator).
pub(super) fn row(prefix: &str, i: usize) -> String {
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

pub(super) struct Service {
    _tmp: tempfile::TempDir,
    sim: Option<Simulator>,
    pub(super) ws: Workspace,
    child: Option<Child>,
}

impl Service {
    pub(super) async fn new() -> Service {
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

    pub(super) fn start(&mut self) {
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

    pub(super) fn sim(&self) -> &Simulator {
        self.sim.as_ref().unwrap()
    }

    /// Documents stored by the simulator, counted by lab id.
    pub(super) fn stored(&self) -> BTreeMap<String, usize> {
        let mut by_id = BTreeMap::new();
        for d in self.sim().documents() {
            *by_id.entry(d.lab_id).or_insert(0) += 1;
        }
        by_id
    }

    pub(super) fn summaries(&self, stem: &str) -> Vec<PathBuf> {
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
    pub(super) async fn reports(&mut self, stem: &str, n: usize, within: Duration) -> Vec<PathBuf> {
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
    pub(super) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::harness::terminate(&child);
            let exit = child.wait().unwrap();
            assert!(exit.success(), "SIGTERM ends the service cleanly: {exit:?}");
        }
    }

    pub(super) fn work(&self, folder: &str) -> PathBuf {
        self.ws.inbox.join(".rnds-drop").join(folder)
    }

    /// Waits until a file named `name` lies under `.rnds-drop/<folder>/`
    /// (the reports are written just before the file is moved).
    pub(super) async fn moved_to(&self, folder: &str, name: &str) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = crate::daemon::files_under(&self.work(folder))
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

pub(super) fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub(super) fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key].as_u64().unwrap_or_default()
}

/// Lab ids of `enviados.csv` beside a summary, with their status.
pub(super) fn sent_rows(summary_path: &Path) -> BTreeMap<String, String> {
    let path = summary_path
        .to_string_lossy()
        .replace(".resumo.json", ".enviados.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.trim_start_matches('\u{feff}').lines().skip(1) {
        // linha;id_exame;id_rnds;situacao;paciente;exame;resultado;data_coleta
        let cells: Vec<&str> = line.split(';').collect();
        if let [_, id, _, status, ..] = cells[..] {
            rows.insert(id.to_owned(), status.to_owned());
        }
    }
    rows
}

/// The text of the first `"method"` object in a bundle.
pub(super) fn method_text(value: &serde_json::Value) -> Option<String> {
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
pub(super) fn slow_writer(path: PathBuf, parts: Vec<String>) -> std::thread::JoinHandle<Vec<bool>> {
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
