//! The profile self-check (`conformance::check_bundle`) on the contract's
//! 2.0 bundle: what every sampled bundle costs before it is sent.
//!
//! Run: `cargo bench --bench conformance_check` (optional argument: the
//! number of checks, default 50000).

// A benchmark is a measuring harness: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use rnds_drop::conformance::check_bundle;

fn main() {
    let count = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u32>().ok())
        .unwrap_or(50_000);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/conformance/bundle-2.0.json"
    );
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    assert!(check_bundle(&bundle).is_empty(), "the fixture conforms");
    let started = Instant::now();
    for _ in 0..count {
        assert!(check_bundle(black_box(&bundle)).is_empty());
    }
    let elapsed = started.elapsed();
    println!(
        "conformance_check: {count} bundles in {:.2} s = {:.2} µs/bundle",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / f64::from(count)
    );
}
