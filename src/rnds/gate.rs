//! The semaphore-like gate every HTTP attempt to RNDS passes: at most
//! [`Limiter::limit`] requests in flight, the limit adapting to what each
//! finished request said (`concurrency.rs`). A large change is logged once
//! (`concurrency::worth_logging`), not every step.
//!
//! Invariant: counts, a lock and a wake-up only; the limit's rules are
//! `concurrency`'s, what an answer means is `outcome`'s.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use super::concurrency::{worth_logging, Change, Limiter, Sample};

/// The gate: a limiter and how many requests hold a permit.
#[derive(Debug)]
pub(crate) struct Gate {
    state: Mutex<State>,
    /// Woken whenever a permit is returned (and so maybe the limit grew).
    freed: Notify,
}

#[derive(Debug)]
struct State {
    limiter: Limiter,
    in_flight: usize,
    /// The limit last written to the log.
    logged: usize,
}

/// One request in flight. [`Permit::finish`] tells the limiter how it
/// went; dropping it unfinished (a cancelled request) only frees the slot.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    gate: &'a Gate,
    started: Instant,
    finished: bool,
}

impl Gate {
    pub(crate) fn new(limiter: Limiter) -> Gate {
        let logged = limiter.limit();
        Gate {
            state: Mutex::new(State {
                limiter,
                in_flight: 0,
                logged,
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Requests allowed in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.lock().limiter.limit()
    }

    /// Requests holding a permit now.
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Waits until fewer than the limit are in flight, then takes a slot.
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        loop {
            // Registered before looking, so a permit freed in between wakes
            // this waiter (no lost wake-up).
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(permit) = self.try_acquire() {
                return permit;
            }
            freed.await;
        }
    }

    fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut state = self.lock();
        if state.in_flight >= state.limiter.limit() {
            return None;
        }
        state.in_flight += 1;
        let in_flight = state.in_flight;
        state.limiter.started(in_flight);
        Some(Permit {
            gate: self,
            started: Instant::now(),
            finished: false,
        })
    }

    fn release(&self, sample: Option<Sample>) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        let change = sample.and_then(|s| state.limiter.finished(s));
        if let Some(Change { to, .. }) = change {
            if worth_logging(state.logged, to) {
                tracing::info!(
                    de = state.logged,
                    para = to,
                    "envios simultâneos à RNDS: limite ajustado de {} para {to} conforme a \
                     latência e as recusas da RNDS",
                    state.logged
                );
                state.logged = to;
            }
        }
        drop(state);
        self.freed.notify_waiters();
    }
}

impl Permit<'_> {
    /// The request ended; `pressure` is what its answer (or the lack of
    /// one) said, the round-trip time is measured from the permit.
    pub(crate) fn finish(mut self, pressure: super::outcome::Pressure) {
        use super::outcome::Pressure;
        self.finished = true;
        let sample = match pressure {
            Pressure::Answered => Sample::Answered(self.started.elapsed()),
            Pressure::Overload => Sample::BackPressure,
            Pressure::Neutral => Sample::Neutral,
        };
        self.gate.release(Some(sample));
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.gate.release(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::outcome::Pressure;
    use super::*;

    /// A fixed gate of two: a third request waits until one finishes.
    #[tokio::test(flavor = "current_thread")]
    async fn a_request_waits_for_a_free_slot() {
        let gate = std::sync::Arc::new(Gate::new(Limiter::fixed(2)));
        let first = gate.acquire().await;
        let second = gate.acquire().await;
        assert_eq!(gate.in_flight(), 2);
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let permit = gate.acquire().await;
                permit.finish(Pressure::Answered);
            })
        };
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "three in flight through a gate of two"
        );
        first.finish(Pressure::Overload);
        waiting.await.unwrap();
        drop(second);
        assert_eq!(gate.in_flight(), 0);
        assert_eq!(gate.limit(), 2, "a fixed limit");
    }

    /// An adaptive gate starts at one: the first requests measure an idle
    /// RNDS one at a time.
    #[tokio::test(flavor = "current_thread")]
    async fn an_adaptive_gate_starts_at_one() {
        let gate = std::sync::Arc::new(Gate::new(Limiter::adaptive(8)));
        assert_eq!(gate.limit(), 1);
        let first = gate.acquire().await;
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { drop(gate.acquire().await) })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "two in flight at a limit of one");
        first.finish(Pressure::Overload);
        waiting.await.unwrap();
        assert_eq!(gate.limit(), 1, "never below one");
    }
}
