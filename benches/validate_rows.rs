//! `validate_row` alone (no reading, mapping to FHIR or writing) on rows
//! shaped like `../shared/perf/gen_exames.py`'s: a typical LIS export with
//! valid provisional CNS numbers, five SARS-CoV-2 LOINC codes and three
//! results, generated here with a fixed seed.
//!
//! Run: `cargo bench --bench validate_rows` (optional argument: the number
//! of rows, default 100000).

// A benchmark is a measuring harness: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use rnds_drop::config::Config;
use rnds_drop::input::Row;
use rnds_drop::mapping::map_columns;
use rnds_drop::pipeline::FileJob;
use rnds_drop::validate::validate_row;

const HEADER: &str =
    "id_exame;nome_paciente;cns;cpf;data_coleta;data_resultado;codigo_exame;resultado;amostra;metodo;cnes";
const LOINCS: [&str; 5] = ["94507-1", "94558-4", "94309-2", "94500-6", "94547-7"];
const RESULTS: [&str; 3] = ["Detectável", "Não detectável", "Inconclusivo"];

/// A fixed-seed generator (no `rand` in the tree for benches).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    /// A provisional CNS: starts with 7, 8 or 9, weighted sum divisible by 11.
    fn provisional_cns(&mut self) -> String {
        loop {
            let digits: Vec<u64> = std::iter::once(7 + self.below(3))
                .chain((0..14).map(|_| self.below(10)))
                .collect();
            let sum: u64 = digits.iter().zip((1..=15).rev()).map(|(d, w)| d * w).sum();
            if sum.is_multiple_of(11) {
                return digits.iter().map(u64::to_string).collect();
            }
        }
    }
}

fn main() {
    let count = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(100_000);
    let config_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lab.toml");
    let config = Config::load(std::path::Path::new(config_path)).expect("test lab config");
    let now = Utc
        .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("valid instant");
    // The settings `check` and `send` validate with.
    let settings = FileJob::from_config(&config, None, now).validate;
    let headers: Vec<String> = HEADER.split(';').map(str::to_string).collect();
    let map = map_columns(&headers, &BTreeMap::new());

    let mut random = Lcg(1);
    let rows: Vec<Row> = (0..count)
        .map(|i| {
            let text = format!(
                "LAB-{i:08};PACIENTE NUMERO {i};{};;{:02}/0{}/2021 10:{};{:02}/10/2021 11:00;{};{};\
                 SWNAFA;RT-PCR;2337991",
                random.provisional_cns(),
                1 + random.below(28),
                1 + random.below(9),
                10 + random.below(50),
                1 + random.below(28),
                LOINCS[random.below(5) as usize],
                RESULTS[random.below(3) as usize],
            );
            Row::new(i + 2, text.split(';').map(str::to_string).collect())
        })
        .collect();

    let started = Instant::now();
    let valid = rows
        .iter()
        .filter(|row| validate_row(row, &map, &settings).is_ok())
        .count();
    let elapsed = started.elapsed();
    println!(
        "validate_rows: {count} rows, {valid} valid, in {:.3} s = {:.3} µs/row",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / count as f64
    );
}
