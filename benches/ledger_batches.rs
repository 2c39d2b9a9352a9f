//! The ledger's batch path as `send` and `run` use it: intents recorded
//! (`begin_sending`) before the POSTs, outcomes after, 500 rows a batch, in
//! a real SQLite file in a temp dir.
//!
//! Run: `cargo bench --bench ledger_batches` (optional argument: the number
//! of rows, default 100000).

use std::path::Path;
use std::time::Instant;

use rnds_drop::ledger::{Intent, Ledger, LedgerOutcome, NewFile};

const BATCH: u64 = 500;

fn main() {
    let rows = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
    let file_id = ledger
        .record_file(&NewFile {
            sha256: "aa",
            name: "exames.csv",
            inbox: Path::new("/srv/entrada"),
            work_path: Path::new("/srv/entrada/.rnds-drop/processando/exames.csv"),
        })
        .expect("file recorded");
    let started = Instant::now();
    for start in (0..rows).step_by(BATCH as usize) {
        let intents: Vec<Intent> = (start..(start + BATCH).min(rows))
            .map(|i| Intent {
                lab_id: format!("LAB-{i:08}"),
                content_hash: format!("{i:064x}"),
                file_id,
                line: i + 2,
                replaces: None,
            })
            .collect();
        ledger.begin_sending(&intents).expect("intents recorded");
        let outcomes: Vec<(String, LedgerOutcome)> = intents
            .into_iter()
            .map(|i| {
                let rnds_id = format!("{:036}", i.line);
                (i.lab_id, LedgerOutcome::Accepted { rnds_id })
            })
            .collect();
        ledger
            .record_outcomes(&outcomes)
            .expect("outcomes recorded");
    }
    let elapsed = started.elapsed();
    assert_eq!(ledger.counts(None).expect("counts").accepted, rows);
    println!(
        "ledger_batches: {rows} rows (begin_sending + record_outcomes, batches of {BATCH}) in \
         {:.2} s = {:.0} rows/s",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );
}
