//! Rows through the whole service path against the in-process simulator
//! with 50 ms of latency and `max_in_flight = 32` (ceiling 640 bundles/s):
//! `send` on a file, then `run` (watch mode) from the drop to the report,
//! settle time included. Every row must be stored exactly once.
//!
//! Run: `cargo bench --bench service_throughput` (optional argument: rows
//! per file, default 10000).

// A benchmark is a measuring harness: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rnds_drop::demo::{drop_file, report_of, write_workspace_config};
use rnds_drop::service::{run, send_files};
use rnds_drop::simulator::{self, Faults, SimOptions};

const LATENCY_MS: u64 = 50;
const IN_FLIGHT: usize = 32;
const SETTLE_MS: u64 = 200;
/// Valid CNS numbers (check digits right).
const CNS: [&str; 5] = [
    "759010928159013",
    "939548620579868",
    "782880729022279",
    "918058887180334",
    "146557210140018",
];

fn export(prefix: &str, rows: usize) -> String {
    let mut out = String::from(
        "Nº Pedido;Paciente;Cartão SUS;Data da Coleta;Dt. Liberação;Cód. Exame;Resultado;\
         Material;Metodologia\n",
    );
    for i in 1..=rows {
        let result = if i % 3 == 0 {
            "Detectável"
        } else {
            "Não detectável"
        };
        out.push_str(&format!(
            "T-{prefix}-{i:06};PACIENTE {i};{};03/11/2026 08:15;03/11/2026 16:40;94309-2;\
             {result};Swab nasofaríngeo;RT-PCR\n",
            CNS[i % CNS.len()]
        ));
    }
    out
}

fn reports_of(outbox: &Path, stem: &str) -> Vec<PathBuf> {
    std::fs::read_dir(outbox)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| report_of(&e.file_name().to_string_lossy(), stem))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

async fn measure(rows: usize) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut options = SimOptions::new(tmp.path().join("simulador"));
    options.faults = Faults {
        latency_ms: LATENCY_MS,
        ..Faults::default()
    };
    let sim = simulator::start(options).await.expect("simulator");
    let (ws, mut config) =
        write_workspace_config(sim.files(), tmp.path(), SETTLE_MS, "watch").expect("workspace");
    config.rnds.max_in_flight = IN_FLIGHT;
    config.service.scan_interval_s = 1;

    let file = ws.root.join("medida.csv");
    std::fs::write(&file, export("s", rows)).expect("export written");
    let mut progress = |_: usize, _: u64| {};
    let started = Instant::now();
    let sent = send_files(&config, &[file], &ws.root.join("out"), &mut progress)
        .await
        .expect("send");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(sent[0].summary.rows_sent, Some(rows as u64));
    println!(
        "service_throughput send: {rows} rows in {secs:.1} s = {:.0} bundles/s (ceiling 640)",
        rows as f64 / secs
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(run(config.clone(), async move {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    drop_file(&ws.inbox, "medida2.csv", export("r", rows).as_bytes()).expect("dropped");
    while reports_of(&ws.outbox, "medida2").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no report within 10 minutes"
        );
        assert!(!service.is_finished(), "the service stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "service_throughput run: {rows} rows dropped → report in {secs:.1} s = {:.0} bundles/s \
         (settle {SETTLE_MS} ms included)",
        rows as f64 / secs
    );
    let _ = stop.send(());
    service
        .await
        .expect("service task")
        .expect("service ended cleanly");

    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for document in sim.documents() {
        *stored.entry(document.lab_id).or_default() += 1;
    }
    assert_eq!(stored.len(), 2 * rows, "every row stored");
    assert!(stored.values().all(|n| *n == 1), "a row stored twice");
    sim.shutdown().await;
}

fn main() {
    let rows = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(measure(rows));
}
