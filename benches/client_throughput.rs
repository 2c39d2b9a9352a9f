//! Client throughput against the in-process simulator with 50 ms of
//! simulated latency and `max_in_flight = 32`: the ceiling is
//! 32 / 0.05 s = 640 bundles/s; the target is at least 90 % of it.
//!
//! Run: `cargo bench --bench client_throughput` (optional argument: the
//! number of bundles, default 3200).

// A benchmark is a measuring harness: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rnds_drop::config::Config;
use rnds_drop::rnds::{Client, Outcome};
use rnds_drop::simulator::{self, Faults, SimOptions};

const LATENCY_MS: u64 = 50;
const IN_FLIGHT: usize = 32;

fn bundle(template: &serde_json::Value, lab_id: &str) -> Vec<u8> {
    let mut b = template.clone();
    b["identifier"]["value"] = serde_json::json!(lab_id);
    b.to_string().into_bytes()
}

async fn run(total: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = SimOptions::new(dir.path().join("sim"));
    options.faults = Faults {
        latency_ms: LATENCY_MS,
        ..Faults::default()
    };
    let sim = simulator::start(options).await.expect("simulator");
    let mut config = Config::load(&sim.files().config_toml).expect("simulator config");
    config.rnds.max_in_flight = IN_FLIGHT;
    let client = Client::new(&config).expect("client");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/conformance/bundle-2.0.json"
    );
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");

    let send = |prefix: &'static str, count: usize| {
        let tasks: Vec<_> = (0..count)
            .map(|i| {
                let client = client.clone();
                let body = bundle(&template, &format!("{prefix}-{i:06}"));
                tokio::spawn(async move { client.submit(body).await })
            })
            .collect();
        async move {
            let mut accepted = 0;
            for task in tasks {
                if matches!(task.await.expect("task"), Outcome::Accepted { .. }) {
                    accepted += 1;
                }
            }
            accepted
        }
    };
    // Warm-up: token, TLS handshake, connection pool.
    send("AQUECIMENTO", IN_FLIGHT).await;
    let started = Instant::now();
    let accepted = send("MEDIDA", total).await;
    let elapsed = started.elapsed();
    let ceiling = IN_FLIGHT as f64 / Duration::from_millis(LATENCY_MS).as_secs_f64();
    let rate = f64::from(accepted) / elapsed.as_secs_f64();
    println!(
        "client_throughput: {accepted}/{total} accepted in {:.2} s = {rate:.0} bundles/s \
         ({:.1} % of the {ceiling:.0}/s that {LATENCY_MS} ms latency allows with \
         max_in_flight = {IN_FLIGHT}); simulator documents: {}",
        elapsed.as_secs_f64(),
        100.0 * rate / ceiling,
        sim.documents().len() - IN_FLIGHT,
    );
    sim.shutdown().await;
}

fn main() {
    let total = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(3200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(total));
}
