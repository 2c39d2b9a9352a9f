//! The simulator's capacity model (`--capacity N`, `--queue M`): RNDS as a
//! server with `N` workers in front of its FHIR API.
//!
//! - A request to `/api/fhir/` takes a free worker for its service time
//!   (`--latency-ms` plus jitter, then its handling).
//! - When all `N` are busy it waits in a first-come-first-served queue.
//! - When `M` requests are already waiting it is refused at once with
//!   `429 Too Many Requests` and a `Retry-After` of the time the queue
//!   takes to drain ([`retry_after_s`]).
//!
//! So latency grows with load, as queueing makes it: with `k` requests
//! already waiting, a new one waits about `⌈(k + 1) / N⌉` service times
//! before its own, and throughput never passes `N / latency` (Little's
//! law: 16 workers at 100 ms serve at most 160 requests/s). The token
//! service is another host at RNDS and is not counted.
//!
//! Invariant: counts and a semaphore only; no HTTP, no clock.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `N` workers and a queue of at most `M` waiting requests.
#[derive(Debug)]
pub(super) struct Capacity {
    workers: usize,
    queue: usize,
    slots: Arc<Semaphore>,
    load: Mutex<Load>,
}

/// What the workers and the queue hold now, and the most seen at once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(super) struct Load {
    /// Requests admitted and not finished: in service plus waiting.
    pub admitted: usize,
    /// Requests holding a worker.
    pub in_service: usize,
    /// The most requests ever in service at once (never above `workers`).
    pub peak_in_service: usize,
    /// Requests refused with 429 because the queue was full.
    pub refused: u64,
}

/// A request admitted to the queue; [`Ticket::serve`] waits for a worker.
#[derive(Debug)]
pub(super) struct Ticket(Arc<Capacity>);

/// A request holding a worker; dropping it frees the worker (also when
/// the connection is dropped mid-request: a lost answer).
#[derive(Debug)]
pub(super) struct Serving {
    ticket: Ticket,
    _worker: Option<OwnedSemaphorePermit>,
}

/// The queue was full: answer 429 with this `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refused {
    pub retry_after_s: u64,
}

fn lock(load: &Mutex<Load>) -> MutexGuard<'_, Load> {
    load.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Capacity {
    /// `workers` at least 1 (0 means no model at all: the caller keeps
    /// `None`); `queue` may be 0 (refuse whenever every worker is busy).
    pub(super) fn new(workers: usize, queue: usize) -> Arc<Capacity> {
        let workers = workers.max(1);
        Arc::new(Capacity {
            workers,
            queue,
            slots: Arc::new(Semaphore::new(workers)),
            load: Mutex::new(Load::default()),
        })
    }

    /// Admits a request to the queue, or refuses it when `workers + queue`
    /// are already admitted. `service_ms` is one request's service time,
    /// for the refusal's `Retry-After`.
    pub(super) fn admit(self: &Arc<Self>, service_ms: u64) -> Result<Ticket, Refused> {
        let mut load = lock(&self.load);
        if load.admitted >= self.workers + self.queue {
            load.refused += 1;
            return Err(Refused {
                retry_after_s: retry_after_s(self.workers, self.queue, service_ms),
            });
        }
        load.admitted += 1;
        Ok(Ticket(self.clone()))
    }

    pub(super) fn load(&self) -> Load {
        *lock(&self.load)
    }

    pub(super) fn workers(&self) -> usize {
        self.workers
    }

    pub(super) fn queue(&self) -> usize {
        self.queue
    }
}

impl Ticket {
    /// Waits (first come, first served: tokio's semaphore is fair) for a
    /// free worker.
    pub(super) async fn serve(self) -> Serving {
        // The semaphore lives as long as `Capacity` and is never closed, so
        // the permit always comes; without one the request is served anyway.
        let worker = self.0.slots.clone().acquire_owned().await.ok();
        let mut load = lock(&self.0.load);
        load.in_service += 1;
        load.peak_in_service = load.peak_in_service.max(load.in_service);
        drop(load);
        Serving {
            ticket: self,
            _worker: worker,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut load = lock(&self.0.load);
        load.admitted = load.admitted.saturating_sub(1);
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let mut load = lock(&self.ticket.0.load);
        load.in_service = load.in_service.saturating_sub(1);
    }
}

/// The `Retry-After` of a refusal: how long the full queue takes to drain
/// (`queue / workers` service times, plus the one in progress), in whole
/// seconds rounded up, at least 1 (HTTP's unit is the second).
pub(super) fn retry_after_s(workers: usize, queue: usize, service_ms: u64) -> u64 {
    let workers = workers.max(1) as u64;
    let rounds = (queue as u64).div_ceil(workers) + 1;
    (rounds * service_ms).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two workers, one place in the queue: the third request waits, the
    /// fourth is refused, and never more than two are served at once.
    #[tokio::test(flavor = "current_thread")]
    async fn two_served_one_waits_and_the_rest_are_refused() {
        let capacity = Capacity::new(2, 1);
        let first = capacity.admit(100).unwrap();
        let second = capacity.admit(100).unwrap();
        let third = capacity.admit(100).unwrap();
        assert_eq!(
            capacity.admit(100).unwrap_err(),
            Refused { retry_after_s: 1 }
        );
        assert_eq!(capacity.load().admitted, 3);

        let first = first.serve().await;
        let second = second.serve().await;
        let waiting = tokio::spawn(third.serve());
        // One turn of the (single-threaded) runtime: the third request
        // polls the semaphore and finds no worker.
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "a third request served by two workers"
        );
        assert_eq!(capacity.load().in_service, 2);
        // Still full (two serving, one waiting): refused again.
        assert!(capacity.admit(100).is_err());

        drop(first);
        let third = waiting.await.unwrap();
        let load = capacity.load();
        assert_eq!((load.in_service, load.admitted), (2, 2));
        assert!(capacity.admit(100).is_ok(), "a place in the queue freed");

        drop((second, third));
        let load = capacity.load();
        assert_eq!(
            load,
            Load {
                admitted: 0,
                in_service: 0,
                peak_in_service: 2,
                refused: 2,
            }
        );
    }

    /// A request dropped while waiting (its connection closed) gives its
    /// place in the queue back and never takes a worker.
    #[tokio::test(flavor = "current_thread")]
    async fn a_request_dropped_while_waiting_frees_its_place() {
        let capacity = Capacity::new(1, 1);
        let serving = capacity.admit(100).unwrap().serve().await;
        let waiting = capacity.admit(100).unwrap();
        assert!(capacity.admit(100).is_err());
        drop(waiting);
        assert!(capacity.admit(100).is_ok());
        drop(serving);
        assert_eq!(capacity.load().in_service, 0);
    }

    /// A queue of zero refuses as soon as every worker is busy.
    #[tokio::test(flavor = "current_thread")]
    async fn without_a_queue_a_busy_server_refuses() {
        let capacity = Capacity::new(1, 0);
        let _serving = capacity.admit(100).unwrap().serve().await;
        assert!(capacity.admit(100).is_err());
    }

    #[test]
    fn retry_after_is_the_time_the_queue_takes_to_drain() {
        // 16 workers, 16 waiting, 100 ms each: 0.2 s, at least 1 s.
        assert_eq!(retry_after_s(16, 16, 100), 1);
        // 4 workers, 40 waiting, 300 ms each: 11 rounds = 3.3 s → 4 s.
        assert_eq!(retry_after_s(4, 40, 300), 4);
        assert_eq!(retry_after_s(0, 0, 0), 1);
    }
}
