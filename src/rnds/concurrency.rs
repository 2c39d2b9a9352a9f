//! How many requests may be in flight to RNDS at once: a pure state
//! machine fed with what each exchange said ([`Sample`]) and read with
//! [`Limiter::limit`]. The client holds it behind a gate (`gate.rs`).
//!
//! The algorithm is Vector's Adaptive Request Concurrency (ARC, Vector's
//! `sinks/util/adaptive_concurrency/controller.rs`, 2020): AIMD on the
//! round-trip time. Once per window, the window's mean RTT is compared
//! with an exponentially weighted moving average (EWMA) of past windows
//! and its deviation:
//!
//! - back-pressure in the window (429, 5xx, a time-out, a lost or refused
//!   connection: `outcome::pressure_of_*` decides which) → multiplicative
//!   decrease;
//! - mean RTT at or above `past mean + RTT_DEVIATION_SCALE · deviation`
//!   (RNDS is queueing our requests) → multiplicative decrease;
//! - otherwise, when every permit was in use during the window and the
//!   mean RTT is at most the past mean and near its floor → `+1`.
//!
//! Three changes from Vector, each for a reason of ours:
//! 1. A window is `limit` answers (one round trip's worth at full use),
//!    not one mean RTT of wall-clock time, so the machine needs no clock
//!    and tests replay synthetic sequences.
//! 2. Growth also needs the window's RTT near its floor (the lowest window
//!    mean seen, re-learnt whenever the limit is back at 1, including for
//!    one probe window when no window came near the floor for
//!    [`STALE_FLOOR_WINDOWS`]): Vector's EWMA alone follows a slowly growing queue upwards (the tests show it
//!    creeping past a server's queue), and a queue at RNDS is latency for
//!    every lab.
//! 3. Explicit back-pressure halves the limit (TCP Reno's decrease on
//!    loss, RFC 5681) instead of Vector's 0.9: a 429 or a 503 is RNDS
//!    saying it is over capacity now; rising latency keeps Vector's 0.9.
//!
//! The limit starts at 1 (as Vector's does) so the first windows measure
//! the RTT of an idle RNDS, and never leaves `1..=ceiling`.
//! `fixed_in_flight` makes it a constant: today's bounded semaphore.
//!
//! Invariant: pure (no clock, no I/O); knows latencies and three kinds of
//! answer, not HTTP statuses (outcome.rs maps those).

use std::time::Duration;

/// EWMA weight of the newest window (Vector's `ewma_alpha`, 0.4: "the best
/// balance between quick response and stability" in Vector's simulations).
/// The past RTT forgets a window's weight in about three windows.
const EWMA_ALPHA: f64 = 0.4;

/// How many deviations above the past mean RTT count as "rising" (Vector's
/// `rtt_deviation_scale`, 2.5: noise in the RTT does not shrink the limit).
const RTT_DEVIATION_SCALE: f64 = 2.5;

/// Multiplier on rising latency (Vector's `decrease_ratio`, 0.9: gentle,
/// the queue at RNDS drains by itself once we send a little less). As in
/// Vector the product is truncated, so a small limit still drops by one.
const LATENCY_DECREASE_RATIO: f64 = 0.9;

/// Multiplier on back-pressure (TCP Reno's halving on loss): a 429, a 503
/// or a time-out is RNDS refusing now; at 50 % 503s, 32 falls to 2 in four
/// windows (well under a second at 100 ms).
const BACK_PRESSURE_DECREASE_RATIO: f64 = 0.5;

/// The least rise over the past mean RTT that counts as rising, as a share
/// of it: with RTTs that barely vary the deviation is near zero, and a
/// window 1 % slower than the last is measurement noise, not a queue.
/// (Vector's tests round RTTs to the microsecond for the same reason.)
const MIN_RISE: f64 = 0.05;

/// Relative slack when comparing a window's mean RTT with the past mean:
/// three answers of 100 ms average to 100.000_000_000_000_02 ms in binary
/// floating point, which is not slower.
const ROUNDING: f64 = 1e-9;

/// How far above the lowest window RTT the window may be and still grow:
/// 1.25 lets a 100 ms RNDS grow while it answers within 125 ms. Against a
/// server with `N` workers, each request above `N` adds `1/N` of a service
/// time of queueing, so growth stops about `N / 4` above its capacity,
/// far inside a queue as deep as its workers.
const NEAR_FLOOR_RATIO: f64 = 1.25;

/// After this many windows in a row with a mean RTT above
/// `floor · NEAR_FLOOR_RATIO`, the floor is re-learnt: the limit drops to
/// 1 for one window of one answer (a request let through alone, once
/// those of the old limit have drained), whose RTT becomes the floor, and is
/// then restored (as BBR's `ProbeRTT` re-measures its minimum RTT and
/// restores its window; a back-pressure answer in the probe leaves the
/// limit at 1 instead). Above 1 the floor only goes down, so
/// without this one window of unusually fast answers would keep it below
/// every ordinary window for good and the limit would never grow again
/// (review item 8). Such a run of windows means either the floor is too
/// low or we are queueing at RNDS; both are mended at a limit of 1. At
/// 32 windows (about 3 s at 100 ms and a limit of 4; a window is `limit`
/// answers) a floor never stays wrong for long, the probe costs one
/// window in 33 at most, and a limit that holds near the floor never
/// probes.
const STALE_FLOOR_WINDOWS: usize = 32;

/// What one exchange said about RNDS' load (decided in `outcome.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Sample {
    /// A bundle POST accepted in RNDS' own time: its round-trip time is
    /// a sample (`outcome.rs` turns lookups and refusals into `Neutral`).
    Answered(Duration),
    /// 429, 408, 5xx, a `retry_later` code, a time-out, a lost or refused
    /// connection: RNDS is over capacity or failing.
    BackPressure,
    /// Says nothing about load (a refused certificate, a request that
    /// could not be built).
    Neutral,
}

/// A limit that changed: from, to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    pub from: usize,
    pub to: usize,
}

/// Mean and variance as exponentially weighted moving averages (the
/// incremental form Vector's `EwmaVar` uses, Finch 2009 §9).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ewma {
    mean: f64,
    variance: f64,
}

impl Ewma {
    fn update(&mut self, x: f64) {
        let difference = x - self.mean;
        let increment = EWMA_ALPHA * difference;
        self.mean += increment;
        self.variance = (1.0 - EWMA_ALPHA) * (self.variance + difference * increment);
    }

    fn deviation(&self) -> f64 {
        self.variance.max(0.0).sqrt()
    }
}

/// The answers since the window opened.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Window {
    answers: usize,
    rtt_sum_s: f64,
    rtt_count: usize,
    back_pressure: bool,
    /// Every permit was in use at some point: there is demand for more.
    reached_limit: bool,
}

/// The adaptive limit, or a fixed one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limiter {
    limit: usize,
    ceiling: usize,
    adaptive: bool,
    past_rtt_s: Option<Ewma>,
    floor_rtt_s: Option<f64>,
    /// Windows in a row whose mean RTT was too far above the floor to grow.
    windows_above_floor: usize,
    /// The limit to restore after a probe window at 1.
    probing: Option<usize>,
    /// A request was let through alone during the probe: answers before
    /// it belong to requests let through at the old limit, which waited
    /// behind one another, and are not the probe's.
    probe_sent_alone: bool,
    window: Window,
}

impl Limiter {
    /// Adapts between 1 and `ceiling` (`max_in_flight`), starting at 1.
    pub(crate) fn adaptive(ceiling: usize) -> Limiter {
        Limiter {
            limit: 1,
            ceiling: ceiling.max(1),
            adaptive: true,
            past_rtt_s: None,
            floor_rtt_s: None,
            windows_above_floor: 0,
            probing: None,
            probe_sent_alone: false,
            window: Window::default(),
        }
    }

    /// Always `n` (`fixed_in_flight`).
    pub(crate) fn fixed(n: usize) -> Limiter {
        Limiter {
            limit: n.max(1),
            ceiling: n.max(1),
            adaptive: false,
            ..Limiter::adaptive(n)
        }
    }

    /// Requests allowed in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// A request was let through; `in_flight` counts it.
    pub(crate) fn started(&mut self, in_flight: usize) {
        if self.probing.is_some() && in_flight == 1 {
            self.probe_sent_alone = true;
        }
        if in_flight >= self.limit {
            self.window.reached_limit = true;
        }
    }

    /// A request ended; returns the change when this closed a window that
    /// moved the limit.
    pub(crate) fn finished(&mut self, sample: Sample) -> Option<Change> {
        if !self.adaptive {
            return None;
        }
        if self.probing.is_some() && !self.probe_sent_alone {
            // Draining the old limit before the probe: back-pressure
            // still counts (it ends the probe at 1), RTTs do not.
            if sample == Sample::BackPressure {
                self.probing = None;
            }
            return None;
        }
        let w = &mut self.window;
        w.answers += 1;
        match sample {
            Sample::Answered(rtt) => {
                w.rtt_sum_s += rtt.as_secs_f64();
                w.rtt_count += 1;
            }
            Sample::BackPressure => w.back_pressure = true,
            Sample::Neutral => {}
        }
        if w.answers < self.limit {
            return None;
        }
        let window = std::mem::take(&mut self.window);
        let from = self.limit;
        self.close(window);
        (self.limit != from).then_some(Change {
            from,
            to: self.limit,
        })
    }

    fn close(&mut self, window: Window) {
        let limit = self.limit;
        let restore = self.probing.take();
        self.probe_sent_alone = false;
        let rtt = (window.rtt_count > 0).then(|| window.rtt_sum_s / window.rtt_count as f64);
        if window.back_pressure {
            self.decrease(BACK_PRESSURE_DECREASE_RATIO);
        } else if let (Some(rtt), Some(past), Some(floor)) =
            (rtt, self.past_rtt_s, self.floor_rtt_s)
        {
            let rise = (RTT_DEVIATION_SCALE * past.deviation()).max(MIN_RISE * past.mean);
            let near_floor = rtt <= floor * NEAR_FLOOR_RATIO;
            self.windows_above_floor = if near_floor {
                0
            } else {
                self.windows_above_floor + 1
            };
            if rtt >= past.mean + rise {
                self.decrease(LATENCY_DECREASE_RATIO);
            } else if self.windows_above_floor >= STALE_FLOOR_WINDOWS && self.limit > 1 {
                self.probing = Some(self.limit);
                self.limit = 1;
            } else if window.reached_limit
                && rtt <= past.mean * (1.0 + ROUNDING)
                && near_floor
                && self.limit < self.ceiling
            {
                self.limit += 1;
            }
            if self.limit == 1 {
                self.windows_above_floor = 0;
            }
        }
        if let Some(rtt) = rtt {
            match &mut self.past_rtt_s {
                Some(past) => past.update(rtt),
                None => {
                    self.past_rtt_s = Some(Ewma {
                        mean: rtt,
                        variance: 0.0,
                    });
                }
            }
            // At a limit of 1 none of our requests waits behind another:
            // that window's RTT is RNDS' own latency, the floor whatever it
            // is (RNDS may have become slower since the floor was learnt).
            // Above 1 the floor only goes down, so a queue we build cannot
            // raise it and let the limit creep up behind it.
            self.floor_rtt_s = Some(match self.floor_rtt_s {
                Some(floor) if limit > 1 => floor.min(rtt),
                _ => rtt,
            });
        }
        if let Some(saved) = restore {
            if !window.back_pressure {
                self.limit = self.limit.max(saved);
            }
        }
    }

    fn decrease(&mut self, ratio: f64) {
        self.limit = ((self.limit as f64 * ratio) as usize).max(1);
    }
}

/// Whether a limit moved far enough since the last one logged to be worth
/// a log line: by at least half of it and by at least 4 (1 ↔ 2 ↔ 3 under
/// a brown-out is not news; 32 → 16 or 2 → 12 is).
pub(crate) fn worth_logging(logged: usize, now: usize) -> bool {
    now.abs_diff(logged) >= (logged / 2).max(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Sample {
        Sample::Answered(Duration::from_millis(n))
    }

    /// Runs windows of answers at the current limit, each with the RTT
    /// `rtt_ms(limit)` gives, with every permit in use; returns the limit
    /// after each window.
    fn windows(
        limiter: &mut Limiter,
        n: usize,
        mut rtt_ms: impl FnMut(usize) -> Sample,
    ) -> Vec<usize> {
        (0..n)
            .map(|_| {
                let limit = limiter.limit();
                for k in 1..=limit {
                    limiter.started(k);
                }
                for _ in 0..limit {
                    limiter.finished(rtt_ms(limit));
                }
                limiter.limit()
            })
            .collect()
    }

    /// A server with `workers` workers and `service_ms` per request, kept
    /// busy with `limit` requests at once: by Little's law each waits
    /// `limit / workers` service times once `limit` passes `workers`.
    fn queueing(workers: usize, service_ms: u64) -> impl Fn(usize) -> Sample {
        move |limit| ms(service_ms * limit.max(workers) as u64 / workers as u64)
    }

    #[test]
    fn it_grows_by_one_per_window_while_latency_stays_at_its_floor() {
        let mut limiter = Limiter::adaptive(32);
        assert_eq!(limiter.limit(), 1);
        let limits = windows(&mut limiter, 40, |_| ms(100));
        // The first window learns the RTT; each one after it adds one.
        assert_eq!(&limits[..5], [1, 2, 3, 4, 5]);
        assert_eq!(limits[39], 32, "stops at the ceiling: {limits:?}");
    }

    #[test]
    fn it_does_not_grow_without_demand() {
        let mut limiter = Limiter::adaptive(32);
        for _ in 0..50 {
            // One request at a time, never all permits in use past 1...
            limiter.started(1);
            limiter.finished(ms(100));
        }
        // ...is demand for 1 only at limit 1; once at 2 nothing fills it.
        assert_eq!(limiter.limit(), 2);
    }

    #[test]
    fn it_settles_near_a_queueing_servers_capacity() {
        for (workers, highest) in [(4, 6), (16, 21)] {
            let mut limiter = Limiter::adaptive(32);
            let limits = windows(&mut limiter, 400, queueing(workers, 100));
            // A limit held above the floor re-learns it in a probe window
            // at 1 (STALE_FLOOR_WINDOWS): at most one window in 33.
            let (probes, tail): (Vec<usize>, Vec<usize>) =
                limits[100..].iter().partition(|&&limit| limit == 1);
            assert!(
                probes.len() <= limits[100..].len() / (STALE_FLOOR_WINDOWS + 1),
                "{workers} workers: {} probes: {limits:?}",
                probes.len()
            );
            let (low, high) = (tail.iter().min().unwrap(), tail.iter().max().unwrap());
            assert!(
                *low >= workers - 1 && *high <= highest,
                "{workers} workers: limit between {low} and {high}: {limits:?}"
            );
        }
    }

    #[test]
    fn back_pressure_halves_the_limit_and_it_recovers() {
        let mut limiter = Limiter::adaptive(32);
        windows(&mut limiter, 40, |_| ms(100));
        assert_eq!(limiter.limit(), 32);
        // A brown-out: every other answer a 503.
        let mut k = 0;
        let limits = windows(&mut limiter, 4, |_| {
            k += 1;
            if k % 2 == 0 {
                Sample::BackPressure
            } else {
                ms(100)
            }
        });
        assert_eq!(limits, [16, 8, 4, 2]);
        let limits = windows(&mut limiter, 20, |_| Sample::BackPressure);
        assert_eq!(limits[19], 1, "never below 1");
        // RNDS is well again: back to the ceiling, one step per window.
        let limits = windows(&mut limiter, 40, |_| ms(100));
        assert_eq!(limits[30], 32, "{limits:?}");
    }

    /// Review item 8: one window of fast answers (lookups settling rows
    /// after an outage) must not pin the floor below RNDS' ordinary RTT,
    /// or the limit never grows again under steady ordinary answers.
    #[test]
    fn a_floor_learnt_from_fast_answers_is_forgotten_and_the_limit_grows_again() {
        let mut limiter = Limiter::adaptive(32);
        windows(&mut limiter, 4, |_| ms(100));
        assert_eq!(limiter.limit(), 4);
        windows(&mut limiter, 1, |_| ms(20));
        let stuck = limiter.limit();
        let limits = windows(&mut limiter, 120, |_| ms(100));
        assert_eq!(
            limits[119], 32,
            "from {stuck}, steady 100 ms answers with demand: {limits:?}"
        );
    }

    /// In the gate, requests let through at the old limit are still in
    /// flight when a probe drops it to 1; their answers queued behind one
    /// another and must not become the floor.
    #[test]
    fn a_probe_measures_a_request_sent_alone() {
        let mut limiter = Limiter::adaptive(32);
        windows(&mut limiter, 4, |_| ms(100));
        windows(&mut limiter, 1, |_| ms(20));
        let before = limiter.limit();
        let probes = windows(&mut limiter, STALE_FLOOR_WINDOWS, |_| ms(100));
        assert_eq!(probes.last(), Some(&1), "a probe after a stale floor");
        // Three requests of the old limit drain, slowed by one another...
        for _ in 0..3 {
            limiter.finished(ms(500));
        }
        // ...then one alone.
        limiter.started(1);
        limiter.finished(ms(100));
        assert_eq!(limiter.floor_rtt_s, Some(0.1));
        assert_eq!(limiter.limit(), before, "restored after the probe");
    }

    #[test]
    fn rising_latency_shrinks_it_by_a_tenth() {
        let mut limiter = Limiter::adaptive(32);
        windows(&mut limiter, 20, |_| ms(100));
        assert_eq!(limiter.limit(), 20);
        let limits = windows(&mut limiter, 3, |_| ms(200));
        assert_eq!(limits[0], 18, "20 · 0.9 = 18");
        // Neutral answers (a refused certificate) change nothing.
        let before = limiter.limit();
        windows(&mut limiter, 5, |_| Sample::Neutral);
        assert_eq!(limiter.limit(), before);
    }

    #[test]
    fn a_fixed_limit_never_moves() {
        let mut limiter = Limiter::fixed(8);
        for sample in [ms(10), Sample::BackPressure, ms(900), Sample::Neutral] {
            for _ in 0..100 {
                limiter.started(8);
                assert_eq!(limiter.finished(sample), None);
            }
        }
        assert_eq!(limiter.limit(), 8);
    }

    #[test]
    fn only_large_changes_are_logged() {
        assert!(!worth_logging(1, 2));
        assert!(!worth_logging(2, 5));
        assert!(worth_logging(1, 5));
        assert!(worth_logging(32, 16));
        assert!(!worth_logging(32, 20));
        assert!(worth_logging(16, 32));
    }
}
