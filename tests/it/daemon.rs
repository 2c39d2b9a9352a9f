//! Helpers for tests that drive the real `rnds-drop run` against the
//! simulator: exports, the child process, and what lies in the folders.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::report_of;
use rnds_drop::simulator::Simulator;

const CNS: [&str; 5] = [
    "759010928159013",
    "939548620579868",
    "782880729022279",
    "918058887180334",
    "146557210140018",
];

/// A lab export of `n` rows `<prefix>-000001`…; rows in `invalid` get a
/// CNS that fails its check digits.
pub(crate) fn export(prefix: &str, n: usize, invalid: &[usize]) -> String {
    let mut out = String::from(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n",
    );
    for i in 1..=n {
        let cns = if invalid.contains(&i) {
            "123456789012345"
        } else {
            CNS[i % CNS.len()]
        };
        out.push_str(&format!(
            "{prefix}-{i:06};PACIENTE {i};{cns};03/11/2026 08:15;03/11/2026 16:40;94309-2;Não detectável;SWNAFA;RT-PCR\n"
        ));
    }
    out
}

/// `rnds-drop run` with `env` added; stderr piped.
pub(crate) fn service(config: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rnds-drop"));
    cmd.args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("the rnds-drop binary starts")
}

/// Waits for `child` to exit by itself; kills it and fails after `within`.
pub(crate) fn exited(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().expect("child status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("child output");
            panic!(
                "still running after {within:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("child output")
}

/// Polls `done` every 50 ms; fails after `within` or if `child` exits.
pub(crate) async fn until(
    child: &mut Child,
    within: Duration,
    what: &str,
    done: impl Fn() -> bool,
) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {within:?}");
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("{what}: the service exited first ({status})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The summaries of input `stem` in `outbox`, oldest first.
pub(crate) fn summaries(outbox: &Path, stem: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(outbox)
        .expect("outbox exists")
        .flatten()
        .filter(|e| report_of(&e.file_name().to_string_lossy(), stem))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Whether a file named `name` lies under `<inbox>/.rnds-drop/processados`.
pub(crate) fn processed(inbox: &Path, name: &str) -> bool {
    files_under(&inbox.join(".rnds-drop/processados"))
        .iter()
        .any(|p| p.file_name().is_some_and(|n| n == name))
}

/// Documents the simulator holds per lab id starting with `prefix`.
pub(crate) fn stored(sim: &Simulator, prefix: &str) -> std::collections::BTreeMap<String, usize> {
    let mut by_id = std::collections::BTreeMap::new();
    for d in sim.documents() {
        if d.lab_id.starts_with(prefix) {
            *by_id.entry(d.lab_id).or_insert(0) += 1;
        }
    }
    by_id
}

pub(crate) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("report readable")).expect("JSON")
}
