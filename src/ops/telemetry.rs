//! What the running service counts in memory: files and rows by outcome,
//! RNDS exchanges (latency histogram, answers by class) and whether RNDS is
//! reachable. Cheap atomics, shared as an `Arc` by the client, the service
//! loop and the metrics server.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Upper bounds (seconds) of the RNDS latency histogram buckets.
pub(crate) const LATENCY_BUCKETS_S: [f64; 10] =
    [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Classes of RNDS answers.
pub(crate) const ANSWER_CLASSES: [&str; 5] = ["2xx", "4xx", "429", "5xx", "sem_resposta"];

/// Row outcomes counted per file.
pub(crate) const ROW_OUTCOMES: [&str; 6] = [
    "enviada",
    "substituida",
    "ja_enviada",
    "invalida",
    "recusada",
    "pendente",
];

/// A change of RNDS reachability worth one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reachability {
    /// The first failure after a success (or after start).
    WentDown { since: DateTime<Utc> },
    /// The first success after an outage that lasted `lasted`.
    CameBack { lasted: chrono::Duration },
}

/// How long failed exchanges must go on, without a success between them,
/// to be an outage. A lost answer drops its connection and with it every
/// request multiplexed on it (a burst of failures within milliseconds),
/// and a lone 503 among successes is not RNDS being down either:
/// announcing those logged a "não está respondendo" / "voltou" pair per
/// lost answer (123 pairs in 30 s at 5 % lost answers).
const OUTAGE_AFTER_S: i64 = 5;

#[derive(Debug, Default)]
struct Outage {
    /// First failure of the current run of failures.
    first_failure: Option<DateTime<Utc>>,
    /// Failed exchanges since the last success.
    failures: u64,
    /// Whether the run of failures was long enough to be an outage (it
    /// was announced, and its end will be).
    declared: bool,
}

/// Counters of one service process.
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    files_processed: AtomicU64,
    files_failed: AtomicU64,
    rows: [AtomicU64; ROW_OUTCOMES.len()],
    answers: [AtomicU64; ANSWER_CLASSES.len()],
    /// Cumulative counts per bucket, plus +Inf at the end.
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_S.len() + 1],
    latency_sum_us: AtomicU64,
    /// Unix seconds of the last answer from RNDS (any status but 5xx/429).
    last_success_unix: AtomicI64,
    outage: Mutex<Outage>,
}

/// Per-file row counts, in the order of [`ROW_OUTCOMES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RowCounts {
    pub sent: u64,
    pub replaced: u64,
    pub already_sent: u64,
    pub invalid: u64,
    pub rejected: u64,
    pub pending: u64,
}

impl RowCounts {
    fn as_array(&self) -> [u64; ROW_OUTCOMES.len()] {
        [
            self.sent,
            self.replaced,
            self.already_sent,
            self.invalid,
            self.rejected,
            self.pending,
        ]
    }
}

/// A consistent read of the counters for the exposition.
#[derive(Debug, Clone, Default)]
pub(crate) struct TelemetrySnapshot {
    pub files_processed: u64,
    pub files_failed: u64,
    pub rows: [u64; ROW_OUTCOMES.len()],
    pub answers: [u64; ANSWER_CLASSES.len()],
    pub latency_buckets: [u64; LATENCY_BUCKETS_S.len() + 1],
    pub latency_sum_s: f64,
    pub last_success_unix: Option<i64>,
    pub outage_since: Option<DateTime<Utc>>,
    pub outage_failures: u64,
}

impl Telemetry {
    /// A file left the service: processed (its rows counted) or failed.
    pub(crate) fn file_finished(&self, failed: bool, rows: RowCounts) {
        if failed {
            self.files_failed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.files_processed.fetch_add(1, Ordering::Relaxed);
        }
        for (slot, n) in self.rows.iter().zip(rows.as_array()) {
            slot.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// One HTTP exchange with RNDS: `status` is `None` when no answer came.
    /// Returns a reachability change when this exchange is one.
    pub(crate) fn exchange(
        &self,
        elapsed: Duration,
        status: Option<u16>,
        now: DateTime<Utc>,
    ) -> Option<Reachability> {
        let class = match status {
            Some(429) => 2,
            Some(s) if (200..300).contains(&s) => 0,
            Some(s) if s >= 500 => 3,
            Some(_) => 1,
            None => 4,
        };
        self.answers[class].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS_S
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS_S.len());
        for slot in &self.latency_buckets[bucket..] {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_us
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        // RNDS answered (even a refusal) unless it was 5xx, 429 or silence.
        if class <= 1 {
            self.succeeded(now)
        } else {
            self.failed(now)
        }
    }

    /// RNDS could not be reached before any exchange (token request failed).
    pub(crate) fn unreachable(&self, now: DateTime<Utc>) -> Option<Reachability> {
        self.answers[4].fetch_add(1, Ordering::Relaxed);
        self.failed(now)
    }

    fn succeeded(&self, now: DateTime<Utc>) -> Option<Reachability> {
        self.last_success_unix
            .store(now.timestamp(), Ordering::Relaxed);
        let mut outage = self
            .outage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let since = outage.first_failure.take();
        outage.failures = 0;
        if !std::mem::take(&mut outage.declared) {
            return None;
        }
        Some(Reachability::CameBack {
            lasted: now - since?,
        })
    }

    fn failed(&self, now: DateTime<Utc>) -> Option<Reachability> {
        let mut outage = self
            .outage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        outage.failures += 1;
        let since = *outage.first_failure.get_or_insert(now);
        if outage.declared || (now - since).num_seconds() < OUTAGE_AFTER_S {
            return None;
        }
        outage.declared = true;
        Some(Reachability::WentDown { since })
    }

    pub(crate) fn snapshot(&self) -> TelemetrySnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let outage = self
            .outage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let last = self.last_success_unix.load(Ordering::Relaxed);
        TelemetrySnapshot {
            files_processed: load(&self.files_processed),
            files_failed: load(&self.files_failed),
            rows: std::array::from_fn(|i| load(&self.rows[i])),
            answers: std::array::from_fn(|i| load(&self.answers[i])),
            latency_buckets: std::array::from_fn(|i| load(&self.latency_buckets[i])),
            latency_sum_s: load(&self.latency_sum_us) as f64 / 1e6,
            last_success_unix: (last > 0).then_some(last),
            outage_since: outage.first_failure.filter(|_| outage.declared),
            outage_failures: if outage.declared { outage.failures } else { 0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, min, 0).unwrap()
    }

    #[test]
    fn an_outage_is_announced_once_and_its_end_once() {
        let t = Telemetry::default();
        let ms = Duration::from_millis(30);
        assert_eq!(t.exchange(ms, Some(201), at(0)), None);
        assert_eq!(t.exchange(ms, None, at(1)), None);
        assert_eq!(t.snapshot().outage_since, None, "one failure is no outage");
        assert_eq!(
            t.unreachable(at(2)),
            Some(Reachability::WentDown { since: at(1) })
        );
        assert_eq!(t.exchange(ms, Some(503), at(3)), None);
        assert_eq!(t.snapshot().outage_failures, 3);
        // A refusal (4xx) is an answer: RNDS is back.
        assert_eq!(
            t.exchange(ms, Some(422), at(7)),
            Some(Reachability::CameBack {
                lasted: chrono::Duration::minutes(6)
            })
        );
        assert_eq!(t.snapshot().outage_since, None);
        let s = t.snapshot();
        assert_eq!(s.answers, [1, 1, 0, 1, 2]);
        assert_eq!(s.last_success_unix, Some(at(7).timestamp()));
    }

    #[test]
    fn lone_failures_among_successes_are_no_outage() {
        let t = Telemetry::default();
        let ms = Duration::from_millis(30);
        for minute in 0..20 {
            // A lost answer dropping the connection: the requests on it
            // fail at once; the next ones succeed.
            for _ in 0..8 {
                assert_eq!(t.exchange(ms, None, at(minute)), None);
            }
            assert_eq!(t.exchange(ms, Some(201), at(minute)), None);
            assert_eq!(t.exchange(ms, Some(503), at(minute)), None);
            assert_eq!(t.exchange(ms, Some(201), at(minute)), None);
        }
        let s = t.snapshot();
        assert_eq!((s.outage_since, s.outage_failures), (None, 0));
    }

    #[test]
    fn latency_buckets_are_cumulative() {
        let t = Telemetry::default();
        t.exchange(Duration::from_millis(40), Some(201), at(0));
        t.exchange(Duration::from_millis(700), Some(201), at(0));
        t.exchange(Duration::from_secs(90), None, at(0));
        let s = t.snapshot();
        assert_eq!(s.latency_buckets[0], 1); // <= 50 ms
        assert_eq!(s.latency_buckets[3], 1); // <= 500 ms
        assert_eq!(s.latency_buckets[4], 2); // <= 1 s
        assert_eq!(s.latency_buckets[9], 2); // <= 60 s
        assert_eq!(s.latency_buckets[10], 3); // +Inf
        assert!((s.latency_sum_s - 90.74).abs() < 1e-6);
    }
}
