//! Small helpers shared by the integration tests: fixture paths, the test
//! lab's configuration, a fixed clock, and snapshot comparison.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use rnds_drop::config::Config;
use rnds_drop::pipeline::FileJob;

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The real export files kept byte for byte in `../shared/samples`.
pub(crate) fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples")
}

/// "Now" for every test: fixed, so future-date rules and timestamps are stable.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 15, 0, 0)
        .single()
        .expect("valid constant instant")
}

pub(crate) fn lab_config() -> Config {
    Config::load(&fixtures().join("lab.toml")).expect("tests/fixtures/lab.toml parses")
}

/// The job `check` runs, except that every bundle (not a sample) goes
/// through the profile self-check, so fixtures prove conformance.
pub(crate) fn job() -> FileJob {
    let config = lab_config();
    let mut job = FileJob::from_config(&config, None, now());
    job.self_check_every = 1;
    job
}

/// With `UPDATE_EXPECT=1`, snapshots are (re)written instead of compared;
/// a reviewer then reads the diff. Without it a missing snapshot fails.
pub(crate) fn updating() -> bool {
    std::env::var_os("UPDATE_EXPECT").is_some()
}

/// Compares `actual` with the JSON snapshot at `path` (or writes it).
pub(crate) fn assert_json_snapshot(path: &Path, actual: &serde_json::Value) {
    if updating() {
        let mut text = serde_json::to_string_pretty(actual).expect("serializable");
        text.push('\n');
        std::fs::write(path, text).expect("snapshot written");
        return;
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} missing ({e}); run with UPDATE_EXPECT=1 and review it",
            path.display()
        )
    });
    let expected: serde_json::Value = serde_json::from_str(&text).expect("snapshot is JSON");
    if &expected != actual {
        let expected = serde_json::to_string_pretty(&expected).expect("serializable");
        let actual = serde_json::to_string_pretty(actual).expect("serializable");
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(10)
            .map(|(i, (e, a))| format!("line {}:\n  - {e}\n  + {a}", i + 1))
            .collect();
        panic!(
            "output differs from snapshot {} (UPDATE_EXPECT=1 rewrites it):\n{}",
            path.display(),
            diff.join("\n")
        );
    }
}

/// SIGTERM, as systemd stops the service (without the `kill` command).
#[cfg(unix)]
pub(crate) fn terminate(child: &std::process::Child) {
    use rustix::process::{kill_process, Pid, Signal};
    kill_process(Pid::from_child(child), Signal::TERM).expect("SIGTERM delivered");
}

/// Says `SKIPPED <test>: <reason>` where `cargo test` shows it (libtest
/// captures `print!`, not writes to the stderr handle); the caller returns.
pub(crate) fn skipped(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(test)");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {reason}");
}
