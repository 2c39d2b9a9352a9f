//! Files whose writer may not be done: what the service remembers of a
//! claimed file's changes on its own clock, and the watch kept on files it
//! already moved to `processados/` or `falhas/`.
//!
//! Settling on `settle_ms` alone loses rows when a writer pauses longer
//! than that: its open handle follows the rename, so it keeps appending to
//! the claimed file. The rules, applied by `daemon`:
//! - rows are read and sent as soon as the file settled (`settle_ms`), but
//!   each pass reads a snapshot (the size measured before it) and the file
//!   is measured again after it: a change means "read it again";
//! - a file is complete (reports written, moved out of `processando/`)
//!   only once unchanged for [`quiet_period`];
//! - a last line without a line terminator is read only once the file has
//!   been unchanged for [`quiet_period`]: a writer paused mid-row must
//!   never have its half row sent with defaults filled in;
//! - a finished file is watched for [`FINISHED_WATCH`]: if it changes, it
//!   is taken back and read again (the ledger makes that idempotent).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::watch::{ClaimedFile, FileLook};

/// How long a finished file is watched for changes by a writer that still
/// held it open.
pub(super) const FINISHED_WATCH: Duration = Duration::from_secs(600);

/// Floor of the check periods.
const MIN_CHECK_PERIOD: Duration = Duration::from_millis(100);

/// How long a claimed file must stay unchanged before it is complete, or
/// before its unfinished last line is read: ten times the inbox's
/// `settle_ms` (20 s by default). A lab whose writer pauses longer raises
/// `settle_ms`.
pub(super) fn quiet_period(settle: Duration) -> Duration {
    settle.saturating_mul(10)
}

/// How often a file waiting to be quiet is looked at again.
pub(super) fn recheck_period(settle: Duration) -> Duration {
    settle.max(MIN_CHECK_PERIOD)
}

/// A claimed file's changes as seen by the service, on its own clock (the
/// file's mtime may come from another machine's clock).
#[derive(Debug, Clone)]
pub(super) struct Freshness {
    look: Option<FileLook>,
    quiet_since: Instant,
}

impl Freshness {
    /// `look` is the file as claimed, unchanged since `quiet_since`.
    pub(super) fn new(look: Option<FileLook>, quiet_since: Instant) -> Freshness {
        Freshness { look, quiet_since }
    }

    /// Records the file as seen at `now`; true when it changed.
    pub(super) fn observe(&mut self, look: Option<FileLook>, now: Instant) -> bool {
        if look == self.look {
            return false;
        }
        self.look = look;
        self.quiet_since = now;
        true
    }

    /// When the file will have been unchanged for `quiet`.
    pub(super) fn quiet_at(&self, quiet: Duration) -> Instant {
        self.quiet_since + quiet
    }
}

struct Finished {
    claimed: ClaimedFile,
    stored: PathBuf,
    look: FileLook,
    until: Instant,
    every: Duration,
    next_check: Instant,
}

/// Files moved out of `processando/` recently, watched for changes.
#[derive(Default)]
pub(super) struct FinishedFiles {
    files: Vec<Finished>,
}

impl FinishedFiles {
    /// Watches `stored` (where `claimed` was moved, looking like `look`),
    /// checked every `settle` from `now` (the daemon's clock).
    pub(super) fn push(
        &mut self,
        claimed: ClaimedFile,
        stored: PathBuf,
        look: FileLook,
        settle: Duration,
        now: Instant,
    ) {
        let every = recheck_period(settle);
        self.files.push(Finished {
            claimed,
            stored,
            look,
            until: now + FINISHED_WATCH,
            every,
            next_check: now + every,
        });
    }

    pub(super) fn next_check(&self) -> Option<Instant> {
        self.files.iter().map(|f| f.next_check).min()
    }

    /// Files due at `now` that changed since they were finished, taken
    /// back into `processando/`. Files past their watch, or gone (moved
    /// away by staff), are forgotten.
    pub(super) fn changed(&mut self, now: Instant) -> Vec<ClaimedFile> {
        let mut taken = Vec::new();
        self.files.retain_mut(|f| {
            if now < f.next_check {
                return true;
            }
            let Ok(look) = FileLook::of(&f.stored) else {
                return false;
            };
            if look == f.look {
                f.next_check = now + f.every;
                return now < f.until;
            }
            match f.claimed.reclaim(&f.stored) {
                Ok(again) => {
                    tracing::warn!(
                        arquivo = %f.claimed.original_name,
                        de = %f.stored.display(),
                        "o arquivo mudou depois de concluído (o programa que o gera ainda \
                         escrevia nele); ele volta para processando/: as linhas novas serão \
                         enviadas e um novo relatório será gerado"
                    );
                    taken.push(again);
                }
                Err(e) => tracing::error!(
                    arquivo = %f.claimed.original_name,
                    "o arquivo mudou depois de concluído, mas não pôde voltar para \
                     processando/ ({e}); coloque-o de novo na pasta de entrada"
                ),
            }
            false
        });
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn look(len: u64) -> Option<FileLook> {
        Some(FileLook {
            len,
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(len)),
        })
    }

    #[test]
    fn quiet_periods_follow_settle_ms() {
        let settle = Duration::from_millis(2_000);
        assert_eq!(quiet_period(settle), Duration::from_secs(20));
        assert_eq!(recheck_period(Duration::ZERO), MIN_CHECK_PERIOD);
    }

    #[test]
    fn a_change_restarts_the_quiet_clock() {
        let t0 = Instant::now();
        let quiet = Duration::from_secs(2);
        let mut fresh = Freshness::new(look(10), t0);
        assert!(!fresh.observe(look(10), t0 + Duration::from_secs(1)));
        assert_eq!(fresh.quiet_at(quiet), t0 + quiet);
        let later = t0 + Duration::from_secs(5);
        assert!(fresh.observe(look(20), later));
        assert_eq!(fresh.quiet_at(quiet), later + quiet);
        // A file gone from processando/ is a change too.
        assert!(fresh.observe(None, later));
    }

    #[test]
    fn finished_files_are_watched_and_taken_back_when_they_change() {
        use crate::watch::{Disposition, Scanner};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lote.csv");
        std::fs::write(&file, "a;b\n1;2\n").unwrap();
        let mut scanner = Scanner::new(0, dir.path(), Duration::ZERO).unwrap();
        scanner.poll(Instant::now()).unwrap();
        let claimed = scanner.claim(&file).unwrap().expect("claimed");
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let stored = claimed.finish(Disposition::Processed, day).unwrap();
        let look = FileLook::of(&stored).unwrap();
        let mut finished = FinishedFiles::default();
        finished.push(
            claimed,
            stored.clone(),
            look,
            Duration::ZERO,
            Instant::now(),
        );
        let due = finished.next_check().unwrap();
        assert!(finished.changed(due).is_empty(), "unchanged: kept watching");
        assert!(finished.next_check().is_some());

        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&stored)
            .unwrap();
        writer.write_all(b"3;4\n").unwrap();
        let due = finished.next_check().unwrap();
        let taken = finished.changed(due);
        assert_eq!(taken.len(), 1);
        assert!(taken[0].work_path.ends_with("processando/lote.csv"));
        assert!(!stored.exists());
        assert_eq!(finished.next_check(), None);
    }
}
