//! The service killed with SIGKILL in the middle of a 5,000-row file, then
//! restarted: every valid row is stored exactly once (the ledger's intents
//! are resolved by identifier lookup before anything new is sent).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, report_of, write_workspace_config};
use rnds_drop::simulator::{self, Faults, SimOptions, Simulator};

const CNS: [&str; 5] = [
    "759010928159013",
    "939548620579868",
    "782880729022279",
    "918058887180334",
    "146557210140018",
];

fn export(n: usize) -> String {
    let mut out = String::from(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;Material;Metodologia\n",
    );
    for i in 1..=n {
        let result = if i % 4 == 0 {
            "Detectável"
        } else {
            "Não detectável"
        };
        out.push_str(&format!(
            "K-{i:06};PACIENTE {i};{};03/11/2026 08:15;03/11/2026 16:40;94309-2;{result};SWNAFA;RT-PCR\n",
            CNS[i % CNS.len()]
        ));
    }
    out
}

fn service(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rnds-drop"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the rnds-drop binary starts")
}

fn stored(sim: &Simulator) -> BTreeMap<String, usize> {
    let mut by_id = BTreeMap::new();
    for d in sim.documents() {
        *by_id.entry(d.lab_id).or_insert(0) += 1;
    }
    by_id
}

fn summaries(outbox: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .flatten()
        .filter(|e| report_of(&e.file_name().to_string_lossy(), "grande"))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_file_then_restart_stores_every_row_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    // Some latency so the kill lands while requests are on the wire.
    let sim = simulator::start(SimOptions {
        faults: Faults {
            latency_ms: 2,
            ..Faults::default()
        },
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .unwrap();
    let (ws, _config) = write_workspace_config(sim.files(), tmp.path(), 200, "watch").unwrap();
    drop_file(&ws.inbox, "grande.csv", export(5_000).as_bytes()).unwrap();

    let mut first = service(&ws.config_path);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.documents().len() < 1_000 {
        assert!(
            Instant::now() < deadline,
            "the service never started sending"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the service exited early"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = sim.documents().len();
    assert!(
        at_kill < 5_000,
        "killed too late to test anything ({at_kill})"
    );
    assert!(summaries(&ws.outbox).is_empty());

    let mut second = service(&ws.config_path);
    let deadline = Instant::now() + Duration::from_secs(120);
    while summaries(&ws.outbox).is_empty() {
        assert!(Instant::now() < deadline, "no report after the restart");
        assert!(
            second.try_wait().unwrap().is_none(),
            "the restarted service exited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    crate::harness::terminate(&second);
    let exit = second.wait().unwrap();
    assert!(exit.success(), "SIGTERM ends the service cleanly: {exit:?}");

    let stored = stored(&sim);
    assert_eq!(stored.len(), 5_000);
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summaries(&ws.outbox)[0]).unwrap()).unwrap();
    assert_eq!(report["rows_pending"], 0);
    assert_eq!(
        report["rows_sent"].as_u64().unwrap() + report["rows_already_sent"].as_u64().unwrap(),
        5_000
    );
    sim.shutdown().await;
}
