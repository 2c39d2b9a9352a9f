//! Adaptive concurrency against the simulator's capacity model (issue 23),
//! through the real service (`run`, watch mode, `/metrics` scraped every
//! 100 ms for the limit) with the default `max_in_flight` (32):
//!
//! 1. `capacity 16`, 100 ms: rows/s against the 160 rows/s the simulator
//!    can serve, and the share of calls answered 429;
//! 2. `capacity 4`, 100 ms: the same against 40 rows/s;
//! 3. a brown-out: `capacity 16`, 100 ms, then 50 % of POSTs answered 503
//!    for 30 s: how soon the limit falls to 2 or less, and that it recovers.
//!
//! Every stored row must be stored once. Rows/s is drop → report, the
//! watcher's settle time included.
//!
//! Run: `cargo bench --bench adaptive_concurrency [-- ROWS16 ROWS4 ROWS_BROWNOUT]`
//! (defaults 20000, 4000, 8000; `capacity 4` at 40 rows/s takes 100 s per
//! 4000 rows).

// A benchmark is a measuring harness: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rnds_drop::config::Config;
use rnds_drop::demo::{drop_file, report_of, write_workspace_config, Workspace};
use rnds_drop::service::run;
use rnds_drop::simulator::{self, Faults, ServerCapacity, SimOptions, Simulator};

const LATENCY_MS: u64 = 100;
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
        out.push_str(&format!(
            "A-{prefix}-{i:06};PACIENTE {i};{};03/11/2026 08:15;03/11/2026 16:40;94309-2;\
             Não detectável;Swab nasofaríngeo;RT-PCR\n",
            CNS[i % CNS.len()]
        ));
    }
    out
}

fn has_report(outbox: &Path, stem: &str) -> bool {
    std::fs::read_dir(outbox)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| report_of(&e.file_name().to_string_lossy(), stem))
        })
        .unwrap_or(false)
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `rnds_drop_rnds_concurrency_limit` from a plain HTTP GET of /metrics.
fn scrape_limit(addr: SocketAddr) -> Option<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("rnds_drop_rnds_concurrency_limit "))
        .and_then(|v| v.trim().parse().ok())
}

/// The limit every 100 ms, with the seconds since the sampler started.
struct Sampler {
    samples: Arc<Mutex<Vec<(f64, usize)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(addr: SocketAddr, since: Instant) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (samples, stop) = (samples.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(limit) = scrape_limit(addr) {
                        let t = since.elapsed().as_secs_f64();
                        samples.lock().unwrap().push((t, limit));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Sampler {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    fn samples(&self) -> Vec<(f64, usize)> {
        self.samples.lock().unwrap().clone()
    }

    fn finish(mut self) -> Vec<(f64, usize)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.samples()
    }
}

struct Lab {
    _tmp: tempfile::TempDir,
    sim: Simulator,
    ws: Workspace,
    config: Config,
    metrics: SocketAddr,
}

async fn lab(workers: usize) -> Lab {
    let tmp = tempfile::tempdir().expect("temp dir");
    let sim = simulator::start(SimOptions {
        faults: Faults {
            latency_ms: LATENCY_MS,
            ..Faults::default()
        },
        capacity: Some(ServerCapacity {
            workers,
            queue: workers,
        }),
        ..SimOptions::new(tmp.path().join("simulador"))
    })
    .await
    .expect("simulator");
    let (ws, mut config) =
        write_workspace_config(sim.files(), tmp.path(), SETTLE_MS, "watch").expect("workspace");
    let metrics = free_port();
    config.service.scan_interval_s = 1;
    config.service.metrics_listen = Some(metrics);
    assert_eq!(config.rnds.max_in_flight, 32, "the default ceiling");
    assert_eq!(config.rnds.fixed_in_flight, None, "adaptive");
    Lab {
        _tmp: tmp,
        sim,
        ws,
        config,
        metrics,
    }
}

/// Requests by HTTP status so far, and all requests.
fn answered(sim: &Simulator) -> (BTreeMap<String, u64>, u64) {
    let stats = sim.stats();
    let by_status = serde_json::from_value(stats["by_status"].clone()).unwrap_or_default();
    (by_status, stats["requests"].as_u64().unwrap_or(0))
}

fn assert_stored_once(sim: &Simulator) -> usize {
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for document in sim.documents() {
        *stored.entry(document.lab_id).or_default() += 1;
    }
    assert!(stored.values().all(|n| *n == 1), "a row stored twice");
    stored.len()
}

fn mean(samples: &[(f64, usize)]) -> f64 {
    samples.iter().map(|(_, l)| *l as f64).sum::<f64>() / samples.len().max(1) as f64
}

async fn throughput(workers: usize, rows: usize) {
    let lab = lab(workers).await;
    let ceiling = workers as f64 * 1000.0 / LATENCY_MS as f64;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(run(lab.config.clone(), async move {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    let sampler = Sampler::start(lab.metrics, started);
    drop_file(&lab.ws.inbox, "carga.csv", export("c", rows).as_bytes()).expect("dropped");
    while !has_report(&lab.ws.outbox, "carga") {
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "no report within 30 minutes"
        );
        assert!(!service.is_finished(), "the service stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let samples = sampler.finish();
    let _ = stop.send(());
    service.await.expect("service task").expect("service ended");
    assert_eq!(assert_stored_once(&lab.sim), rows, "every row stored");
    let (by_status, requests) = answered(&lab.sim);
    let refused = by_status.get("429").copied().unwrap_or(0);
    let rate = rows as f64 / secs;
    let steady: Vec<_> = samples.iter().filter(|(t, _)| *t >= 5.0).copied().collect();
    println!(
        "adaptive_concurrency capacity {workers} (queue {workers}), {LATENCY_MS} ms, {rows} rows: \
         {secs:.1} s = {rate:.1} rows/s = {:.1} % of {ceiling:.0} rows/s; \
         {refused} of {requests} calls answered 429 ({:.2} %); \
         limit after 5 s: mean {:.1}, min {}, max {} ({} samples)",
        100.0 * rate / ceiling,
        100.0 * refused as f64 / requests.max(1) as f64,
        mean(&steady),
        steady.iter().map(|s| s.1).min().unwrap_or(0),
        steady.iter().map(|s| s.1).max().unwrap_or(0),
        steady.len(),
    );
    lab.sim.shutdown().await;
}

async fn brownout(rows: usize) {
    const WARM_S: u64 = 8;
    const BROWNOUT_S: u64 = 30;
    const AFTER_S: u64 = 15;
    /// Half the capacity: the limit has recovered once it is back here.
    const RECOVERED: usize = 8;
    let lab = lab(16).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(run(lab.config.clone(), async move {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    let sampler = Sampler::start(lab.metrics, started);
    drop_file(&lab.ws.inbox, "surto.csv", export("b", rows).as_bytes()).expect("dropped");
    tokio::time::sleep(Duration::from_secs(WARM_S)).await;
    let before = sampler.samples();
    lab.sim.set_faults(Faults {
        latency_ms: LATENCY_MS,
        rate_503: 0.5,
        ..Faults::default()
    });
    let brownout_at = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(BROWNOUT_S)).await;
    lab.sim.set_faults(Faults {
        latency_ms: LATENCY_MS,
        ..Faults::default()
    });
    let healed_at = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(AFTER_S)).await;
    let samples = sampler.finish();
    let _ = stop.send(());
    service.await.expect("service task").expect("service ended");
    let stored = assert_stored_once(&lab.sim);
    let (by_status, requests) = answered(&lab.sim);

    let during: Vec<_> = samples
        .iter()
        .filter(|(t, _)| (brownout_at..healed_at).contains(t))
        .copied()
        .collect();
    let after: Vec<_> = samples
        .iter()
        .filter(|(t, _)| *t >= healed_at)
        .copied()
        .collect();
    let limit_before = before.last().map_or(0, |s| s.1);
    let fell_after = during
        .iter()
        .find(|(_, l)| *l <= 2)
        .map(|(t, _)| t - brownout_at);
    let late = |from: f64| -> Vec<usize> {
        during
            .iter()
            .filter(|(t, _)| *t >= brownout_at + from)
            .map(|s| s.1)
            .collect()
    };
    let settled = late(5.0);
    let recovered_after = after
        .iter()
        .find(|(_, l)| *l >= RECOVERED)
        .map(|(t, _)| t - healed_at);
    println!(
        "adaptive_concurrency brown-out: capacity 16, {LATENCY_MS} ms, {rows} rows dropped; \
         limit {limit_before} after {WARM_S} s; 50 % 503 for {BROWNOUT_S} s: limit ≤ 2 after {}, \
         from 5 s on: mean {:.2}, max {}; after the brown-out: back to ≥ {} after {}, max {} \
         in {AFTER_S} s; {stored} rows stored once; {} of {requests} calls answered 503",
        fell_after.map_or("never".into(), |t| format!("{t:.1} s")),
        settled.iter().sum::<usize>() as f64 / settled.len().max(1) as f64,
        settled.iter().max().unwrap_or(&0),
        RECOVERED,
        recovered_after.map_or("never".into(), |t| format!("{t:.1} s")),
        after.iter().map(|s| s.1).max().unwrap_or(0),
        by_status.get("503").copied().unwrap_or(0),
    );
    lab.sim.shutdown().await;
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = |k: usize, default: usize| numbers.get(k).copied().unwrap_or(default);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        throughput(16, rows(0, 20_000)).await;
        throughput(4, rows(1, 4_000)).await;
        brownout(rows(2, 8_000)).await;
    });
}
